"""The input of an event-driven simulation: spike times per input neuron."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike


def _concrete(x):
    try:
        return np.asarray(x)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


class SpikeTrain(eqx.Module):
    """Spike times of `n` input neurons, padded: `times[i, k]` is the `k`-th spike of
    input `i`, each row sorted ascending and padded at its end with `inf` (no spike).
    It is a pytree of one array, so that it jits and vmaps (a batch is `(batch, n, K)`,
    vmapped by the caller).

    **Arguments:**

    - `times`: `(n, K)` (or `(n,)`, one spike per input, `inf` for none). Times are
      differentiable: gradients of a loss with respect to them are exact.

    Non-finite times other than `+inf` (NaN, `-inf`) and rows that are not sorted raise
    a `ValueError` (for concrete values) or an `equinox` runtime error (traced values).

    ```python
    inputs = funcdyn.event.SpikeTrain(jnp.array([[1.0, 4.0], [2.5, jnp.inf]]))
    ```
    """

    times: Array

    def __init__(self, times: ArrayLike):
        times = jnp.asarray(times)
        if not jnp.issubdtype(times.dtype, jnp.floating):
            times = times.astype(jnp.result_type(float))
        if times.ndim == 1:
            times = times[:, None]
        if times.ndim != 2:
            raise ValueError(
                f"SpikeTrain: `times` must be (n_inputs, max_spikes) or (n_inputs,), got "
                f"shape {times.shape}; vmap over a batch axis."
            )
        values = _concrete(times)
        if values is not None:
            if np.isnan(values).any() or np.isneginf(values).any():
                raise ValueError(
                    "SpikeTrain: `times` contains NaN or -inf; use +inf to pad rows with "
                    "fewer spikes."
                )
            if values.shape[1] > 1 and (np.diff(values, axis=1) < 0).any():
                raise ValueError(
                    "SpikeTrain: each row of `times` must be sorted ascending (pad with "
                    "+inf at the end); sort them with jnp.sort(times, axis=-1)."
                )
        else:
            bad = jnp.isnan(times).any() | jnp.isneginf(times).any()
            times = eqx.error_if(times, bad, "SpikeTrain: `times` contains NaN or -inf.")
            if times.shape[1] > 1:
                unsorted = (jnp.diff(times, axis=1) < 0).any()
                times = eqx.error_if(
                    times, unsorted, "SpikeTrain: each row of `times` must be sorted."
                )
        self.times = times

    @property
    def n(self) -> int:
        return self.times.shape[0]
