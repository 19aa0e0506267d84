"""The Gaussian surrogate."""

import math

import jax.numpy as jnp
from jaxtyping import Array

from ._base import Surrogate, _check_positive, _param, param


class Gaussian(Surrogate):
    r"""Heaviside forward; backward: a scaled normal density.

    $$g'(x) = \alpha\,\mathcal{N}(x; 0, \sigma^2)
      = \frac{\alpha}{\sqrt{2\pi}\sigma} e^{-x^2 / 2\sigma^2}$$

    **Arguments:** `sigma` (default 0.5), `alpha` (default 0.5).
    """

    sigma: float | Array = param(0.5)
    alpha: float | Array = param(0.5)

    def __check_init__(self):
        _check_positive(self, "sigma", "alpha")

    def grad(self, x: Array) -> Array:
        s = _param(self.sigma, x)
        a = _param(self.alpha, x)
        return _normal(x, 0.0, s) * a


def _normal(x, mu, sigma):
    # exp(-z^2/2) is exactly 0 for |z| > 38.6 even in float64: limiting |z| to 64 changes
    # no value, but keeps z^2 from overflowing (whose derivative would be inf * 0 = NaN).
    z = jnp.clip((x - mu) / sigma, -64.0, 64.0)
    return jnp.exp(-0.5 * z * z) / (math.sqrt(2.0 * math.pi) * sigma)
