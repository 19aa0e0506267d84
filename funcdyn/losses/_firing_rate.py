"""Firing rates of spike trains and their L1 / L2 regularisers."""

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .._checks import check_param, check_positive
from ._time import _check_time_axis

_PER = ("neuron", "population")
_SIDES = ("both", "upper", "lower")


def mean_rate(spikes: ArrayLike, *, time_axis: int = 1, dt: float = 1.0) -> Array:
    """The mean firing rate of each neuron over a sequence: its spike count divided by the
    duration, `r = (1 / (T dt)) sum_t s_t`. The quantity that
    [`funcdyn.losses.rate_l1`][] and [`funcdyn.losses.rate_l2`][] penalise.

    (Not [`funcdyn.firing_rate`][funcdyn.measure.firing_rate], which smooths a
    population's spikes over a sliding window and returns a rate in Hz per time step.)

    **Arguments:**

    - `spikes`: `(batch, T, n)` spike trains (0/1, or spike counts per step), e.g. the
      `spike` field of a neuron state recorded with `monitors=`.
    - `time_axis`: 1 for batch-major, 0 for time-major sequences.
    - `dt`: the step size (finite, > 0); the default 1 gives spikes per step.

    **Returns:** the rates, `spikes` without the time axis (e.g. `(batch, n)`).

    ```python
    rates = funcdyn.losses.mean_rate(spikes)          # (batch, n), spikes per step
    ```
    """
    spikes = jnp.asarray(spikes)
    axis = _check_time_axis(spikes, time_axis, "mean_rate")
    dt = check_positive(dt, "dt", "mean_rate")
    return jnp.mean(spikes, axis=axis) / dt


def firing_rate(spikes: ArrayLike, *, time_axis: int = 1, dt: float = 1.0) -> Array:
    """Alias of [`funcdyn.losses.mean_rate`][] (its former name), kept so that existing
    code runs; new code should call `mean_rate`, which does not clash with the smoothed
    population rate [`funcdyn.firing_rate`][funcdyn.measure.firing_rate]."""
    return mean_rate(spikes, time_axis=time_axis, dt=dt)


def _rate_penalty(spikes, order, target, per, side, time_axis, dt, who):
    if per not in _PER:
        raise ValueError(f"{who}: `per` must be one of {_PER}, got {per!r}.")
    if side not in _SIDES:
        raise ValueError(f"{who}: `side` must be one of {_SIDES}, got {side!r}.")
    target = check_param(target, "target", who)
    dt = check_positive(dt, "dt", who)
    rates = mean_rate(spikes, time_axis=time_axis, dt=dt)
    if rates.ndim < 1:
        raise ValueError(f"{who}: spikes need a neuron axis after the time axis is removed.")
    if per == "population":
        rates = jnp.mean(rates, axis=-1)
    if not isinstance(target, float):
        # A per-neuron (or per-example) target: cast and broadcast explicitly (no silent
        # dtype or rank promotion).
        target = jnp.broadcast_to(jnp.asarray(target, rates.dtype), rates.shape)
    deviation = rates - target
    if side == "upper":
        deviation = jax.nn.relu(deviation)
    elif side == "lower":
        deviation = jax.nn.relu(-deviation)
    penalty = jnp.abs(deviation) if order == 1 else jnp.square(deviation)
    return jnp.mean(penalty)


def rate_l1(
    spikes: ArrayLike,
    *,
    target: float = 0.0,
    per: str = "neuron",
    side: str = "both",
    time_axis: int = 1,
    dt: float = 1.0,
) -> Array:
    """An L1 penalty on firing rates, `mean |r - target|`.

    **Arguments:**

    - `spikes`: `(batch, T, n)` spike trains (see [`funcdyn.losses.mean_rate`][]).
    - `target`: the rate that costs nothing (spikes per step when `dt=1`): a finite
      float, or an array broadcastable to the rates (e.g. one per neuron).
    - `per`: `"neuron"` penalises each neuron's rate `r_bn`; `"population"` penalises the
      population mean `r_b = mean_n r_bn`.
    - `side`: `"both"`; `"upper"` penalises only rates above `target`
      (`relu(r - target)`, an upper bound on activity); `"lower"` only rates below it
      (a lower bound that keeps neurons from falling silent).
    - `time_axis`, `dt`: as for [`funcdyn.losses.mean_rate`][].

    **Returns:** a scalar, averaged over the batch (and neurons, with `per="neuron"`).
    Add it to a loss with a weight, e.g. `loss + 1e-3 * rate_l1(spikes)`.
    """
    return _rate_penalty(spikes, 1, target, per, side, time_axis, dt, "rate_l1")


def rate_l2(
    spikes: ArrayLike,
    *,
    target: float = 0.0,
    per: str = "neuron",
    side: str = "both",
    time_axis: int = 1,
    dt: float = 1.0,
) -> Array:
    """An L2 penalty on firing rates, `mean (r - target)^2`.

    Arguments as for [`funcdyn.losses.rate_l1`][]. **Returns:** a scalar.
    """
    return _rate_penalty(spikes, 2, target, per, side, time_axis, dt, "rate_l2")
