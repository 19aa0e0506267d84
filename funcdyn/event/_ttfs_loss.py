"""The time-to-first-spike cross-entropy."""

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike


def ttfs_cross_entropy(
    first_times: Array,
    label: ArrayLike,
    *,
    tau: float,
    t_silent: float,
    alpha: float = 0.0,
    beta: float = 1.0,
) -> Array:
    r"""Time-to-first-spike cross-entropy (Göltz et al. 2021): the earliest output spike
    is the prediction.

    $$L = -\log \frac{e^{-t_y/\tau}}{\sum_k e^{-t_k/\tau}}
      + \alpha \left(e^{t_y/\beta} - 1\right)$$

    with $t_k$ the first spike time of output $k$ and $y$ the label; the second term
    (`alpha > 0`) pushes the correct neuron to fire early.

    **Silent neurons** (`first_times` is `inf`) are given the time `t_silent` (e.g. the
    end of the simulation): the loss is finite and its gradient is defined (zero with
    respect to the silent neuron's parameters, which did not produce a spike time).
    Keep the correct neuron firing with a suitable initialisation or an extra term on
    `Spikes.V_max`.

    **Arguments:**

    - `first_times`: `(..., C)` first spike times (`Spikes.first`).
    - `label`: `(...)` int class labels.
    - `tau`: the softmax temperature (> 0, a time).
    - `t_silent`: the time given to silent neurons (finite).
    - `alpha`, `beta`: the weight and time scale of the early-spike regulariser.

    **Returns:** `(...)` the loss of each sample.
    """
    if not tau > 0:
        raise ValueError(f"ttfs_cross_entropy: `tau` must be > 0, got {tau!r}.")
    if not jnp.isfinite(t_silent):
        raise ValueError(f"ttfs_cross_entropy: `t_silent` must be finite, got {t_silent!r}.")
    if not beta > 0:
        raise ValueError(f"ttfs_cross_entropy: `beta` must be > 0, got {beta!r}.")
    label = jnp.asarray(label)
    if not jnp.issubdtype(label.dtype, jnp.integer):
        raise TypeError(f"ttfs_cross_entropy: `label` must be integers, got {label.dtype}.")
    if label.shape != first_times.shape[:-1]:
        raise ValueError(
            f"ttfs_cross_entropy: `label` of shape {label.shape} does not match "
            f"`first_times` of shape {first_times.shape} (expected {first_times.shape[:-1]})."
        )
    silent = ~jnp.isfinite(first_times)
    t = jnp.where(silent, jnp.asarray(t_silent, first_times.dtype), first_times)
    logp = jax.nn.log_softmax(-t / tau, axis=-1)
    t_y = jnp.take_along_axis(t, label[..., None], axis=-1)[..., 0]
    nll = -jnp.take_along_axis(logp, label[..., None], axis=-1)[..., 0]
    return nll + alpha * jnp.expm1(t_y / beta)


def first_spike_prediction(first_times: Array) -> Array:
    """`(...)` the class whose output fired first (`argmin` of `(..., C)` first spike
    times; a sample with no output spike is class 0 and should count as an error when
    you need to know: check `jnp.isfinite(first_times).any(-1)`)."""
    return jnp.argmin(first_times, axis=-1)
