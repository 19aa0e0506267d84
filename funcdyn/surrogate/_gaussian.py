"""The Gaussian surrogate."""

import math

import jax.numpy as jnp
from jaxtyping import Array

from ._base import Surrogate, _check_positive, _param


class Gaussian(Surrogate):
    r"""Heaviside forward; backward: a scaled normal density.

    $$g'(x) = \alpha\,\mathcal{N}(x; 0, \sigma^2)
      = \frac{\alpha}{\sqrt{2\pi}\sigma} e^{-x^2 / 2\sigma^2}$$

    **Arguments:** `sigma` (default 0.5), `alpha` (default 0.5).
    """

    sigma: float | Array = 0.5
    alpha: float | Array = 0.5

    def __check_init__(self):
        _check_positive(self, "sigma", "alpha")

    def grad(self, x: Array) -> Array:
        s = _param(self.sigma, x)
        a = _param(self.alpha, x)
        return _normal(x, 0.0, s) * a


def _normal(x, mu, sigma):
    z = (x - mu) / sigma
    return jnp.exp(-0.5 * z * z) / (math.sqrt(2.0 * math.pi) * sigma)
