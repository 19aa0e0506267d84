"""Random initialisers with fixed parameters: normal, truncated normal, uniform."""

from collections.abc import Sequence

import jax
from jaxtyping import Array

from ._base import Initializer, _dtype, _key, _shape


class Normal(Initializer):
    """Normal with mean `mean` and standard deviation `scale`."""

    mean: float = 0.0
    scale: float = 1.0

    def __check_init__(self):
        if not self.scale >= 0:
            raise ValueError(f"Normal: `scale` must be >= 0, got {self.scale}.")

    def __call__(self, key, shape: Sequence[int], dtype=None) -> Array:
        z = jax.random.normal(_key(key, "Normal"), _shape(shape), _dtype(dtype))
        return self.mean + self.scale * z


class TruncatedNormal(Initializer):
    """Normal with mean `mean` and standard deviation `scale`, truncated to
    `[mean + lower * scale, mean + upper * scale]`."""

    mean: float = 0.0
    scale: float = 1.0
    lower: float = -2.0
    upper: float = 2.0

    def __check_init__(self):
        if not self.scale >= 0:
            raise ValueError(f"TruncatedNormal: `scale` must be >= 0, got {self.scale}.")
        if not self.lower < self.upper:
            raise ValueError("TruncatedNormal: `lower` must be below `upper`.")

    def __call__(self, key, shape: Sequence[int], dtype=None) -> Array:
        z = jax.random.truncated_normal(
            _key(key, "TruncatedNormal"), self.lower, self.upper, _shape(shape), _dtype(dtype)
        )
        return self.mean + self.scale * z


class Uniform(Initializer):
    """Uniform on `[min_val, max_val)`."""

    min_val: float = 0.0
    max_val: float = 1.0

    def __check_init__(self):
        if not self.min_val < self.max_val:
            raise ValueError(
                f"Uniform: `min_val` ({self.min_val}) must be below `max_val` ({self.max_val})."
            )

    def __call__(self, key, shape: Sequence[int], dtype=None) -> Array:
        return jax.random.uniform(
            _key(key, "Uniform"),
            _shape(shape),
            _dtype(dtype),
            minval=self.min_val,
            maxval=self.max_val,
        )
