"""The max-membrane cross-entropy of a non-spiking readout."""

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike


def max_membrane_cross_entropy(V_max: Array, label: ArrayLike, *, scale: float = 1.0) -> Array:
    r"""Cross-entropy of the softmax over the maximum membrane potential of each readout
    neuron (a non-spiking [`funcdyn.neurons.LeakyIntegrator`][] layer; its
    `Spikes.V_max` is the exact maximum over the trial, in closed form).

    $$L = -\log \frac{e^{V^\max_y / s}}{\sum_k e^{V^\max_k / s}}$$

    The maximum is always defined (at least the initial potential), so the loss and its
    gradient are finite whenever the potentials are.

    **Arguments:** `V_max` `(..., C)`; `label` `(...)` ints; `scale` `s` (> 0).

    **Returns:** `(...)` the loss of each sample.
    """
    if not scale > 0:
        raise ValueError(f"max_membrane_cross_entropy: `scale` must be > 0, got {scale!r}.")
    label = jnp.asarray(label)
    if not jnp.issubdtype(label.dtype, jnp.integer):
        raise TypeError(f"max_membrane_cross_entropy: `label` must be integers, got {label.dtype}.")
    if label.shape != V_max.shape[:-1]:
        raise ValueError(
            f"max_membrane_cross_entropy: `label` of shape {label.shape} does not match "
            f"`V_max` of shape {V_max.shape}."
        )
    logp = jax.nn.log_softmax(V_max / scale, axis=-1)
    return -jnp.take_along_axis(logp, label[..., None], axis=-1)[..., 0]
