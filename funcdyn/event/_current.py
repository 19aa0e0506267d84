"""A piecewise-constant input current for event-driven simulations."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike


class PiecewiseConstant(eqx.Module):
    """A current that is `values[k]` from `times[k]` until `times[k + 1]` (and after the
    last time), zero before `times[0]`; each change is one event of the simulation.

    **Arguments:**

    - `times`: `(K,)` sorted change times (pad with `inf`).
    - `values`: `(K, N)` the current of each of the `N` neurons after each change (or
      `(K,)`, the same for every neuron).

    ```python
    step = funcdyn.event.PiecewiseConstant(jnp.array([5.0, 50.0]), jnp.array([1.5, 0.0]))
    ```
    """

    times: Array
    values: Array

    def __init__(self, times: ArrayLike, values: ArrayLike):
        times = jnp.asarray(times)
        values = jnp.asarray(values)
        if not jnp.issubdtype(times.dtype, jnp.floating):
            times = times.astype(jnp.result_type(float))
        if not jnp.issubdtype(values.dtype, jnp.floating):
            values = values.astype(times.dtype)
        if times.ndim != 1 or times.shape[0] < 1:
            raise ValueError(
                f"PiecewiseConstant: `times` must be a non-empty 1-D array, got shape "
                f"{times.shape}."
            )
        if values.ndim not in (1, 2) or values.shape[0] != times.shape[0]:
            raise ValueError(
                f"PiecewiseConstant: `values` must be (K,) or (K, N) with K = "
                f"{times.shape[0]} (one row per change time), got shape {values.shape}."
            )
        try:
            t = np.asarray(times)
        except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
            t = None
        if t is not None:
            if np.isnan(t).any() or np.isneginf(t).any():
                raise ValueError("PiecewiseConstant: `times` contains NaN or -inf.")
            if (np.diff(t) < 0).any():
                raise ValueError("PiecewiseConstant: `times` must be sorted ascending.")
        else:
            bad = jnp.isnan(times).any() | (jnp.diff(times) < 0).any()
            times = eqx.error_if(
                times, bad, "PiecewiseConstant: `times` must be sorted and not NaN."
            )
        self.times = times
        self.values = values

    def for_size(self, n: int, dtype) -> tuple[Array, Array]:
        values = self.values.astype(dtype)
        if values.ndim == 1:
            values = jnp.broadcast_to(values[:, None], (values.shape[0], n))
        if values.shape[1] != n:
            raise ValueError(
                f"PiecewiseConstant: `values` has {values.shape[1]} columns, the layer has "
                f"{n} neurons."
            )
        return self.times.astype(dtype), values
