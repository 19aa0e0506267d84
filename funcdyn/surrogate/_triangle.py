"""The unit-area triangle surrogate."""

import jax.numpy as jnp
from jaxtyping import Array

from ._base import Surrogate, _check_positive, _param, param


class Triangle(Surrogate):
    r"""Heaviside forward; backward: a triangle of half-width `width` and unit area.

    $$g'(x) = \frac{1}{w}\max\left(1 - \frac{|x|}{w}, 0\right)$$

    **Arguments:** `width` $w$ (default 1.0).
    """

    width: float | Array = param(1.0)

    def __check_init__(self):
        _check_positive(self, "width")

    def grad(self, x: Array) -> Array:
        w = _param(self.width, x)
        return jnp.maximum(1.0 - jnp.abs(x) / w, 0.0) / w
