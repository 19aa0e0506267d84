"""Shared validation of encoder arguments."""

import math
import numbers


def check_range(min_val, max_val, who: str) -> None:
    for name, value in (("min_val", min_val), ("max_val", max_val)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
            raise TypeError(f"{who}: `{name}` must be None or a float, got {value!r}.")
        if value is not None and not math.isfinite(value):
            raise ValueError(f"{who}: `{name}` must be finite, got {value!r}.")
    if (min_val is None) != (max_val is None):
        raise ValueError(f"{who}: give both `min_val` and `max_val`, or neither.")
    if min_val is not None and not max_val > min_val:
        raise ValueError(
            f"{who}: `max_val` ({max_val}) must be greater than `min_val` ({min_val})."
        )


def normalize(x, min_val, max_val):
    """`x` mapped linearly from `[min_val, max_val]` to `[0, 1]` (unchanged when the
    range is `None`)."""
    if min_val is None:
        return x
    return (x - min_val) / (max_val - min_val)
