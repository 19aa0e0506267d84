"""The boxcar (rectangular) surrogate."""

import jax.numpy as jnp
from jaxtyping import Array

from ._base import Surrogate, _check_positive, _param, param


class Boxcar(Surrogate):
    r"""Heaviside forward; backward: a rectangle of half-width `width` and unit area.

    $$g'(x) = \begin{cases} \frac{1}{2w} & |x| < w \\ 0 & \text{otherwise}\end{cases}$$

    **Arguments:** `width` $w$ (default 0.5).
    """

    width: float | Array = param(0.5)

    def __check_init__(self):
        _check_positive(self, "width")

    def grad(self, x: Array) -> Array:
        w = _param(self.width, x)
        inside = jnp.abs(x) < w
        return jnp.where(inside, 0.5 / w, jnp.zeros_like(x))
