"""Variance-scaling initialisers: Kaiming (He), Xavier (Glorot), LeCun."""

import math
from collections.abc import Sequence
from typing import Literal

import equinox as eqx
import jax
from jaxtyping import Array

from ._base import Initializer, _dtype, _key, _shape

# Standard deviation of a unit normal truncated to [-2, 2]; dividing by it restores the
# requested variance after truncation.
_TRUNCATED_STD = 0.87962566103423978

_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "normal", "uniform")


def compute_fans(shape: tuple[int, ...], in_axis: int = -2, out_axis: int = -1) -> tuple[float, float]:
    """`(fan_in, fan_out)` of a weight of `shape`; other axes count as receptive field."""
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    receptive = math.prod(shape) / (shape[in_axis] * shape[out_axis])
    return shape[in_axis] * receptive, shape[out_axis] * receptive


class VarianceScaling(Initializer):
    """Draws with variance `scale / fan`, where `fan` is fan-in, fan-out or their mean.

    **Arguments:**

    - `scale`: the variance multiplier (`2.0` for ReLU-style Kaiming init).
    - `mode`: `"fan_in"`, `"fan_out"` or `"fan_avg"`.
    - `distribution`: `"truncated_normal"` (truncated at two standard deviations and
      rescaled to the exact variance), `"normal"` or `"uniform"`.
    - `in_axis`, `out_axis`: the axes of the inputs and outputs (weights are stored
      `(num_in, num_out)`, so the defaults are `-2` and `-1`).
    """

    scale: float = 1.0
    mode: Literal["fan_in", "fan_out", "fan_avg"] = eqx.field(default="fan_in", static=True)
    distribution: Literal["truncated_normal", "normal", "uniform"] = eqx.field(
        default="truncated_normal", static=True
    )
    in_axis: int = eqx.field(default=-2, static=True)
    out_axis: int = eqx.field(default=-1, static=True)

    def __check_init__(self):
        if not self.scale > 0:
            raise ValueError(f"{type(self).__name__}: `scale` must be > 0, got {self.scale}.")
        if self.mode not in _MODES:
            raise ValueError(
                f"{type(self).__name__}: `mode` must be one of {_MODES}, got {self.mode!r}."
            )
        if self.distribution not in _DISTRIBUTIONS:
            raise ValueError(
                f"{type(self).__name__}: `distribution` must be one of {_DISTRIBUTIONS}, "
                f"got {self.distribution!r}."
            )

    def __call__(self, key, shape: Sequence[int], dtype=None) -> Array:
        shape = _shape(shape)
        dtype = _dtype(dtype)
        key = _key(key, type(self).__name__)
        fan_in, fan_out = compute_fans(shape, self.in_axis, self.out_axis)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[
            self.mode
        ]
        variance = self.scale / max(fan, 1.0)
        if self.distribution == "truncated_normal":
            std = math.sqrt(variance) / _TRUNCATED_STD
            return std * jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype)
        if self.distribution == "normal":
            return math.sqrt(variance) * jax.random.normal(key, shape, dtype)
        limit = math.sqrt(3.0 * variance)
        return jax.random.uniform(key, shape, dtype, minval=-limit, maxval=limit)


def _preset(name: str, default_scale: float, mode: str, distribution: str, doc: str):
    def __init__(self, scale: float = default_scale, in_axis: int = -2, out_axis: int = -1):
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.in_axis = in_axis
        self.out_axis = out_axis

    __init__.__doc__ = f"**Arguments:** `scale` (default {default_scale}), `in_axis`, `out_axis`."
    cls = type(name, (VarianceScaling,), {"__init__": __init__, "__doc__": doc, "__module__": __name__})
    return cls


KaimingNormal = _preset(
    "KaimingNormal", 2.0, "fan_in", "truncated_normal",
    "He et al. (2015): truncated normal with variance `scale / fan_in` (scale 2 by default).",
)
KaimingUniform = _preset(
    "KaimingUniform", 2.0, "fan_in", "uniform",
    "He et al. (2015): uniform with variance `scale / fan_in` (scale 2 by default).",
)
XavierNormal = _preset(
    "XavierNormal", 1.0, "fan_avg", "truncated_normal",
    "Glorot & Bengio (2010): truncated normal with variance `scale / fan_avg`.",
)
XavierUniform = _preset(
    "XavierUniform", 1.0, "fan_avg", "uniform",
    "Glorot & Bengio (2010): uniform with variance `scale / fan_avg`.",
)
LecunNormal = _preset(
    "LecunNormal", 1.0, "fan_in", "truncated_normal",
    "LeCun et al. (1998): truncated normal with variance `scale / fan_in`.",
)
LecunUniform = _preset(
    "LecunUniform", 1.0, "fan_in", "uniform",
    "LeCun et al. (1998): uniform with variance `scale / fan_in`.",
)
