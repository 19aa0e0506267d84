"""Input currents over time: sections, constants, ramps and pulses.

Every helper returns a time-major array for [`funcdyn.run`][]: step `i` covers
`[i dt, (i + 1) dt)`. Durations are rounded to whole steps.
"""

import numbers

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ..init._base import default_float_dtype


def _check_dt(dt, who: str) -> float:
    if isinstance(dt, bool) or not isinstance(dt, numbers.Real) or not dt > 0:
        raise ValueError(f"{who}: `dt` must be a positive float, got {dt!r}.")
    return float(dt)


def _steps(duration, dt: float, who: str, what: str = "duration") -> int:
    if isinstance(duration, bool) or not isinstance(duration, numbers.Real) or duration < 0:
        raise ValueError(f"{who}: each {what} must be a float >= 0, got {duration!r}.")
    return int(round(duration / dt))


def section_input(values, durations, *, dt: float) -> Array:
    """Piecewise-constant input: `values[k]` held for `durations[k]` ms.

    **Arguments:**

    - `values`: a sequence of floats or arrays (broadcast to a common shape).
    - `durations`: a sequence of durations (ms), one per value.
    - `dt`: the step (ms).

    **Returns:** an array `(T, *shape)` with `T = sum(round(d / dt))`.

    ```python
    I = funcdyn.section_input([0.0, 10.0, 0.0], [50.0, 100.0, 50.0], dt=0.1)  # (2000,)
    ```
    """
    dt = _check_dt(dt, "section_input")
    values = list(values)
    durations = list(durations)
    if len(values) != len(durations) or not values:
        raise ValueError(
            f"section_input: `values` and `durations` must be non-empty and of equal "
            f"length, got {len(values)} and {len(durations)}."
        )
    arrays = [np.asarray(v, dtype=float) for v in values]
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    parts = [
        np.broadcast_to(a, (_steps(d, dt, "section_input"),) + shape)
        for a, d in zip(arrays, durations)
    ]
    return jnp.asarray(np.concatenate(parts), dtype=default_float_dtype())


def constant_input(I_and_duration, *, dt: float) -> tuple[Array, float]:
    """Piecewise-constant input from `(value, duration)` pairs.

    **Arguments:** `I_and_duration`, a sequence of `(value, duration)` pairs; `dt`.

    **Returns:** `(current, total_duration)`: the array `(T, *shape)` and the total
    duration in ms.

    ```python
    I, duration = funcdyn.constant_input([(0.0, 10.0), (5.0, 90.0)], dt=0.1)
    ```
    """
    pairs = list(I_and_duration)
    if not pairs or any(not isinstance(p, (tuple, list)) or len(p) != 2 for p in pairs):
        raise ValueError(
            "constant_input: `I_and_duration` must be a non-empty sequence of (value, "
            "duration) pairs."
        )
    values = [p[0] for p in pairs]
    durations = [p[1] for p in pairs]
    current = section_input(values, durations, dt=dt)
    return current, float(sum(durations))


def ramp_input(
    c_start: float,
    c_end: float,
    duration: float,
    *,
    dt: float,
    t_start: float = 0.0,
    t_end: float | None = None,
) -> Array:
    """A linear ramp from `c_start` at `t_start` to `c_end` at `t_end`, zero outside.

    **Arguments:** `c_start`, `c_end` (values), `duration` (ms, the whole input),
    `dt`, `t_start` (default 0), `t_end` (default `duration`).

    **Returns:** an array `(round(duration / dt),)`.
    """
    dt = _check_dt(dt, "ramp_input")
    n = _steps(duration, dt, "ramp_input")
    t_end = duration if t_end is None else t_end
    i_start = _steps(t_start, dt, "ramp_input", "t_start")
    i_end = _steps(t_end, dt, "ramp_input", "t_end")
    if not 0 <= i_start <= i_end <= n:
        raise ValueError(
            f"ramp_input: need 0 <= t_start <= t_end <= duration, got t_start={t_start}, "
            f"t_end={t_end}, duration={duration}."
        )
    current = np.zeros(n)
    current[i_start:i_end] = np.linspace(c_start, c_end, i_end - i_start)
    return jnp.asarray(current, dtype=default_float_dtype())


def spike_input(sp_times, sp_lens, sp_sizes, duration: float, *, dt: float) -> Array:
    """Rectangular pulses: at each time in `sp_times` a pulse of height `sp_sizes` lasting
    `sp_lens` ms (overlapping pulses take the later one's height).

    **Arguments:** `sp_times` (ms), `sp_lens` (a float or one per pulse), `sp_sizes` (a
    float or one per pulse), `duration` (ms), `dt`.

    **Returns:** an array `(round(duration / dt),)`.

    ```python
    I = funcdyn.spike_input([10.0, 20.0], 1.0, 0.5, 30.0, dt=0.1)
    ```
    """
    dt = _check_dt(dt, "spike_input")
    n = _steps(duration, dt, "spike_input")
    times = list(sp_times)
    lens = [sp_lens] * len(times) if isinstance(sp_lens, numbers.Real) else list(sp_lens)
    sizes = [sp_sizes] * len(times) if isinstance(sp_sizes, numbers.Real) else list(sp_sizes)
    if not len(times) == len(lens) == len(sizes):
        raise ValueError(
            f"spike_input: `sp_lens` and `sp_sizes` must be floats or have one entry per "
            f"time ({len(times)}), got {len(lens)} and {len(sizes)}."
        )
    current = np.zeros(n)
    for t, length, size in zip(times, lens, sizes):
        start = _steps(t, dt, "spike_input", "spike time")
        current[start : start + max(1, _steps(length, dt, "spike_input", "length"))] = size
    return jnp.asarray(current, dtype=default_float_dtype())
