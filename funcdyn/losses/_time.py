"""Reductions of a sequence of outputs over its time axis."""

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike


def _check_time_axis(ys: Array, time_axis: int, who: str) -> int:
    if isinstance(time_axis, bool) or not isinstance(time_axis, int):
        raise TypeError(f"{who}: `time_axis` must be an int, got {time_axis!r}.")
    if not -ys.ndim <= time_axis < ys.ndim:
        raise ValueError(
            f"{who}: outputs of shape {ys.shape} have no axis {time_axis}; sequences are "
            "(batch, T, ...) (time_axis=1, as in BPTT) or (T, batch, ...) (time_axis=0, "
            "as funcdyn.run returns by default)."
        )
    return time_axis % ys.ndim


def max_over_time(ys: ArrayLike, *, time_axis: int = 1) -> Array:
    """The maximum over time, `max_t ys[..., t, ...]`: e.g. the peak membrane potential of
    each output neuron, a common readout of spiking classifiers.

    **Arguments:**

    - `ys`: a sequence of outputs, `(batch, T, ...)` by default.
    - `time_axis`: the time axis: 1 for batch-major sequences (as in
      [`funcdyn.train.BPTT`][]), 0 for time-major ones (as [`funcdyn.run`][] returns by
      default).

    **Returns:** `ys` without its time axis.
    """
    ys = jnp.asarray(ys)
    return jnp.max(ys, axis=_check_time_axis(ys, time_axis, "max_over_time"))


def mean_over_time(ys: ArrayLike, *, time_axis: int = 1) -> Array:
    """The mean over time, `(1/T) sum_t ys[..., t, ...]` (e.g. a rate readout).

    Arguments and returns as for [`funcdyn.losses.max_over_time`][].
    """
    ys = jnp.asarray(ys)
    return jnp.mean(ys, axis=_check_time_axis(ys, time_axis, "mean_over_time"))


def last_step(ys: ArrayLike, *, time_axis: int = 1) -> Array:
    """The output at the last time step, `ys[..., T-1, ...]`.

    Arguments and returns as for [`funcdyn.losses.max_over_time`][].
    """
    ys = jnp.asarray(ys)
    axis = _check_time_axis(ys, time_axis, "last_step")
    return jnp.take(ys, ys.shape[axis] - 1, axis=axis)
