"""The time-to-first-spike cross-entropy."""

import math

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
    silent_gap: Array | None = None,
    gap_scale: float = 1.0,
) -> Array:
    r"""Time-to-first-spike cross-entropy (Göltz et al. 2021): the earliest output spike
    is the prediction.

    $$L = -\log \frac{e^{-t_y/\tau}}{\sum_k e^{-t_k/\tau}}
      + \alpha \left(e^{t_y/\beta} - 1\right)$$

    with $t_k$ the first spike time of output $k$ and $y$ the label; the second term
    (`alpha > 0`) pushes the correct neuron to fire early.

    **Silent neurons** (`first_times` is `inf`) are given the time
    $t_\mathrm{silent} + g\,(\vartheta - V^\max)$: `t_silent` (e.g. the end of the
    simulation) plus `gap_scale` times how far the neuron's membrane stayed below its
    threshold (`silent_gap`, e.g. `V_th - Spikes.V_max`). The loss is finite, and its
    gradient pulls a silent correct neuron towards firing (without `silent_gap`, a
    silent neuron's time is the constant `t_silent` and it gets no gradient, so an
    output that fell silent for every sample could never recover).

    **Arguments:**

    - `first_times`: `(..., C)` first spike times (`Spikes.first`).
    - `label`: `(...)` int class labels.
    - `tau`: the softmax temperature (> 0, a time).
    - `t_silent`: the time given to silent neurons (finite).
    - `alpha`, `beta`: the weight and time scale of the early-spike regulariser.
    - `silent_gap`: `None` or `(..., C)` threshold minus maximum membrane potential
      (>= 0 for silent neurons; only read where a neuron is silent).
    - `gap_scale`: time units per unit of `silent_gap` (> 0).

    **Returns:** `(...)` the loss of each sample.
    """
    if not tau > 0:
        raise ValueError(f"ttfs_cross_entropy: `tau` must be > 0, got {tau!r}.")
    if not math.isfinite(float(t_silent)):
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
    if not gap_scale > 0:
        raise ValueError(f"ttfs_cross_entropy: `gap_scale` must be > 0, got {gap_scale!r}.")
    silent = ~jnp.isfinite(first_times)
    t_dead = jnp.full_like(first_times, t_silent)
    if silent_gap is not None:
        if silent_gap.shape != first_times.shape:
            raise ValueError(
                f"ttfs_cross_entropy: `silent_gap` of shape {silent_gap.shape} must match "
                f"`first_times` {first_times.shape}."
            )
        # Where a neuron fired the gap is not used (and gets no gradient).
        t_dead = t_dead + gap_scale * jnp.where(silent, silent_gap, jnp.zeros_like(silent_gap))
    t = jnp.where(silent, t_dead, first_times)
    logp = jax.nn.log_softmax(-t / tau, axis=-1)
    t_y = jnp.take_along_axis(t, label[..., None], axis=-1)[..., 0]
    nll = -jnp.take_along_axis(logp, label[..., None], axis=-1)[..., 0]
    return nll + alpha * jnp.expm1(t_y / beta)


def first_spike_prediction(first_times: Array) -> Array:
    """`(...)` the class whose output fired first (`argmin` of `(..., C)` first spike
    times; a sample with no output spike is class 0 and should count as an error when
    you need to know: check `jnp.isfinite(first_times).any(-1)`)."""
    return jnp.argmin(first_times, axis=-1)
