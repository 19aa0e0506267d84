"""The piecewise-quadratic surrogate."""

import jax.numpy as jnp
from jaxtyping import Array

from ._base import Surrogate, _check_positive, _param, param


class PiecewiseQuadratic(Surrogate):
    r"""Heaviside forward; backward: a triangle of half-width $1/\alpha$ (the derivative of a
    piecewise quadratic, Esser et al. 2016).

    $$g'(x) = \begin{cases} \alpha - \alpha^2 |x| & |x| \le 1/\alpha \\
      0 & \text{otherwise}\end{cases}$$

    **Arguments:** `alpha` (default 1.0).
    """

    alpha: float | Array = param(1.0)

    def __check_init__(self):
        _check_positive(self, "alpha")

    def grad(self, x: Array) -> Array:
        a = _param(self.alpha, x)
        return jnp.maximum(a - a * a * jnp.abs(x), 0.0)
