"""The error-function surrogate."""

import math

import jax.numpy as jnp
from jaxtyping import Array

from ._base import Surrogate, _check_positive, _param


class ERF(Surrogate):
    r"""Heaviside forward; backward: the derivative of $\frac12\operatorname{erfc}(-\alpha x)$,
    a Gaussian.

    $$g'(x) = \frac{\alpha}{\sqrt{\pi}} e^{-\alpha^2 x^2}$$

    **Arguments:** `alpha` (default 1.0).
    """

    alpha: float | Array = 1.0

    def __check_init__(self):
        _check_positive(self, "alpha")

    def grad(self, x: Array) -> Array:
        a = _param(self.alpha, x)
        z = a * x
        return a * (1.0 / math.sqrt(math.pi)) * jnp.exp(-z * z)
