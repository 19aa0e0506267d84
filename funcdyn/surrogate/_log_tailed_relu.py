"""The log-tailed ReLU surrogate."""

import jax.numpy as jnp
from jaxtyping import Array

from ._base import Surrogate, _check, _param, param


class LogTailedRelu(Surrogate):
    r"""Heaviside forward; backward: the derivative of the log-tailed ReLU (Cai et al. 2017).

    $$g'(x) = \begin{cases} \alpha & x \le 0 \\ 1 & 0 < x \le 1 \\ 1/x & x > 1 \end{cases}$$

    **Arguments:** `alpha` (default 0.0), the slope for negative `x`.
    """

    alpha: float | Array = param(0.0)

    def __check_init__(self):
        _check(self, "alpha", low=0.0, low_open=False)

    def grad(self, x: Array) -> Array:
        a = _param(self.alpha, x)
        tail = 1.0 / jnp.maximum(x, 1.0)  # safe: never divides by x <= 1
        return jnp.where(x <= 0, a * jnp.ones_like(x), tail)
