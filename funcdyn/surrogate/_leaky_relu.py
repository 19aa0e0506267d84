"""The leaky-ReLU surrogate."""

import jax.numpy as jnp
from jaxtyping import Array

from ._base import Surrogate, _check, _param, param


class LeakyRelu(Surrogate):
    r"""Heaviside forward; backward: the derivative of a leaky ReLU.

    $$g'(x) = \begin{cases} \beta & x \ge 0 \\ \alpha & x < 0 \end{cases}$$

    **Arguments:** `alpha` (default 0.1), `beta` (default 1.0).
    """

    alpha: float | Array = param(0.1)
    beta: float | Array = param(1.0)

    def __check_init__(self):
        _check(self, "alpha", low=0.0, low_open=False)
        _check(self, "beta", low=0.0)

    def grad(self, x: Array) -> Array:
        a = _param(self.alpha, x)
        b = _param(self.beta, x)
        ones = jnp.ones_like(x)
        return jnp.where(x >= 0, b * ones, a * ones)
