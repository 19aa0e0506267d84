"""Time units: NIR stores seconds; a funcdyn model runs in its own unit (ms by default)."""

import numpy as np

TIME_UNITS = {"ms": 1000.0, "s": 1.0}


def time_scale(time_unit) -> float:
    """Model time units per second, with a clear error for an unknown unit."""
    if not isinstance(time_unit, str) or time_unit not in TIME_UNITS:
        raise ValueError(
            f"`time_unit` must be one of {sorted(TIME_UNITS)} (the unit of `dt` and of the "
            f"model's time constants), got {time_unit!r}."
        )
    return TIME_UNITS[time_unit]


def to_model_time(seconds, scale: float) -> np.ndarray:
    """Seconds to model time units, as float32 (funcdyn's parameter dtype)."""
    values = np.asarray(seconds, dtype=np.float64)
    if scale == 1.0:
        return np.asarray(seconds).astype(np.float32)
    return (values * scale).astype(np.float32)


def to_seconds(model_time, scale: float) -> np.ndarray:
    """Model time units to seconds, such that `to_model_time` gives the same value back.

    Each value is the float32 nearest to the exact quotient among those that convert back
    to the same float32; where no float32 does (the product with 1000 can skip a float32),
    the whole array is float64, which always converts back exactly.
    """
    m = np.asarray(model_time, dtype=np.float32)
    if scale == 1.0:
        return m.copy()
    exact = m.astype(np.float64) / scale
    base = exact.astype(np.float32)
    candidates = np.stack(
        [base, np.nextafter(base, np.float32(np.inf)), np.nextafter(base, np.float32(-np.inf))]
    )
    back = (candidates.astype(np.float64) * scale).astype(np.float32)
    ok = back == m[None]
    distance = np.where(ok, np.abs(candidates.astype(np.float64) - exact[None]), np.inf)
    best = np.argmin(distance, axis=0)
    if not np.all(np.take_along_axis(ok, best[None], axis=0)):
        return exact
    return np.take_along_axis(candidates, best[None], axis=0)[0]
