"""The ReLU-shaped (triangle) surrogate."""

import jax.numpy as jnp
from jaxtyping import Array

from ._base import Surrogate, _check_positive, _param, param


class ReluGrad(Surrogate):
    r"""Heaviside forward; backward: a triangle of half-width `width` and height
    `alpha * width` (Neftci et al. 2019).

    $$g'(x) = \alpha \max(w - |x|, 0)$$

    **Arguments:** `alpha` (default 0.3), `width` $w$ (default 1.0).
    """

    alpha: float | Array = param(0.3)
    width: float | Array = param(1.0)

    def __check_init__(self):
        _check_positive(self, "alpha", "width")

    def grad(self, x: Array) -> Array:
        a = _param(self.alpha, x)
        w = _param(self.width, x)
        return a * jnp.maximum(w - jnp.abs(x), 0.0)
