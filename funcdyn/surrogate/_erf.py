"""The error-function surrogate."""

import math

import jax.numpy as jnp
from jaxtyping import Array

from ._base import Surrogate, _check_positive, _param, param

_ZMAX = 64.0


class ERF(Surrogate):
    r"""Heaviside forward; backward: the derivative of $\frac12\operatorname{erfc}(-\alpha x)$,
    a Gaussian.

    $$g'(x) = \frac{\alpha}{\sqrt{\pi}} e^{-\alpha^2 x^2}$$

    **Arguments:** `alpha` (default 1.0).
    """

    alpha: float | Array = param(1.0)

    def __check_init__(self):
        _check_positive(self, "alpha")

    def grad(self, x: Array) -> Array:
        a = _param(self.alpha, x)
        # exp(-z^2) is exactly 0 for |z| > 27.3 even in float64: limiting |z| to 64 changes
        # no value, but keeps z^2 from overflowing (whose derivative would be inf * 0 = NaN).
        z = jnp.clip(a * x, -_ZMAX, _ZMAX)
        return a * (1.0 / math.sqrt(math.pi)) * jnp.exp(-z * z)
