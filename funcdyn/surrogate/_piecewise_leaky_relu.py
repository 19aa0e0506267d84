"""The piecewise leaky-ReLU surrogate."""

import jax.numpy as jnp
from jaxtyping import Array

from ._base import Surrogate, _check, _check_positive, _param, param


class PiecewiseLeakyRelu(Surrogate):
    r"""Heaviside forward; backward: constant `1/w` inside the window, a leak `c` outside.

    $$g'(x) = \begin{cases} \frac{1}{w} & |x| \le w \\ c & |x| > w \end{cases}$$

    **Arguments:** `c` (default 0.01), `w` (default 1.0).
    """

    c: float | Array = param(0.01)
    w: float | Array = param(1.0)

    def __check_init__(self):
        _check_positive(self, "w")
        _check(self, "c", low=0.0, low_open=False)

    def grad(self, x: Array) -> Array:
        c = _param(self.c, x)
        w = _param(self.w, x)
        return jnp.where(jnp.abs(x) <= w, 1.0 / w * jnp.ones_like(x), c * jnp.ones_like(x))
