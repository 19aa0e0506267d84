"""Input currents over time: sections, constants, ramps and pulses.

Every helper returns a time-major array for [`funcdyn.run`][]: step `i` covers
`[i dt, (i + 1) dt)`. Durations are rounded to whole steps.
"""

import math
import numbers

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._checks import check_positive
from ..init._base import default_float_dtype


def _check_dt(dt, who: str) -> float:
    return check_positive(dt, "dt", who)


def _steps(duration, dt: float, who: str, what: str = "duration") -> int:
    if (
        isinstance(duration, bool)
        or not isinstance(duration, numbers.Real)
        or not 0 <= duration < math.inf  # NaN fails too
    ):
        raise ValueError(f"{who}: each {what} must be a finite float >= 0, got {duration!r}.")
    return int(round(duration / dt))


def _section_steps(duration, dt: float, who: str, k: int) -> int:
    """Whole steps of section `k`; a section that would round to no step is refused
    (it would silently vanish from the input)."""
    n = _steps(duration, dt, who)
    if n == 0 and duration > 0:
        raise ValueError(
            f"{who}: section {k} lasts {duration!r} ms, less than half a step (dt={dt!r}), "
            "so it would be rounded to 0 steps and vanish from the input. Make it at least "
            "dt/2 long (it is rounded to whole steps), use a smaller `dt`, or remove it."
        )
    return n


def _check_finite_values(arrays, who: str) -> None:
    for k, a in enumerate(arrays):
        if not np.isfinite(a).all():
            raise ValueError(
                f"{who}: value {k} holds a NaN or an infinity ({a!r}); input values must be "
                "finite."
            )


def section_input(values, durations, *, dt: float) -> Array:
    """Piecewise-constant input: `values[k]` held for `durations[k]` ms.

    **Arguments:**

    - `values`: a sequence of floats or arrays (broadcast to a common shape).
    - `durations`: a sequence of durations (ms), one per value.
    - `dt`: the step (ms).

    **Returns:** an array `(T, *shape)` with `T = sum(round(d / dt))`.

    **Raises:** a `ValueError` for a section shorter than half a step (`0 < d < dt/2`):
    it would round to no step and silently vanish. Values must be finite.

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
    _check_finite_values(arrays, "section_input")
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    parts = [
        np.broadcast_to(a, (_section_steps(d, dt, "section_input", k),) + shape)
        for k, (a, d) in enumerate(zip(arrays, durations))
    ]
    return jnp.asarray(np.concatenate(parts), dtype=default_float_dtype())


def constant_input(I_and_duration, *, dt: float) -> tuple[Array, float]:
    """Piecewise-constant input from `(value, duration)` pairs.

    **Arguments:** `I_and_duration`, a sequence of `(value, duration)` pairs; `dt`.

    **Returns:** `(current, total_duration)`: the array `(T, *shape)` and its duration
    in ms, `T * dt`. Each duration is rounded to a whole number of steps; when they all
    are whole numbers of steps already this is exactly `sum(durations)`, otherwise it is
    the duration of the array actually returned (never the requested one). A section
    shorter than half a step is refused, as in
    [`funcdyn.section_input`][funcdyn.encoding.section_input].

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
    dt = float(dt)
    requested = float(sum(durations))
    real = current.shape[0] * dt
    # Float noise in `T * dt` (1000 * 0.1 = 100.00000000000001) is not a rounding of the
    # sections: report the requested total when it matches the array to within 1e-9 dt.
    return current, requested if abs(real - requested) <= 1e-9 * dt else real


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
