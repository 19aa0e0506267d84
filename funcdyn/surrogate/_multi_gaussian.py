"""The multi-Gaussian surrogate."""

import math

import jax.numpy as jnp
from jaxtyping import Array

from ._base import Surrogate, _check_positive, _param


class MultiGaussian(Surrogate):
    r"""Heaviside forward; backward: a central Gaussian with two negative side lobes (Yin et
    al. 2021).

    $$g'(x) = c\left[(1 + h)\mathcal{N}(x; 0, \sigma^2) - h\,\mathcal{N}(x; \sigma, (s\sigma)^2)
    - h\,\mathcal{N}(x; -\sigma, (s\sigma)^2)\right]$$

    **Arguments:** `h` (default 0.15), `s` (default 6.0), `sigma` (default 0.5), `scale`
    $c$ (default 0.5).
    """

    h: float | Array = 0.15
    s: float | Array = 6.0
    sigma: float | Array = 0.5
    scale: float | Array = 0.5

    def __check_init__(self):
        _check_positive(self, "s", "sigma")

    def grad(self, x: Array) -> Array:
        h = _param(self.h, x)
        sig = _param(self.sigma, x)
        wide = _param(self.s, x) * sig
        g = (
            (1.0 + h) * _normal(x, 0.0, sig)
            - h * _normal(x, sig, wide)
            - h * _normal(x, -sig, wide)
        )
        return _param(self.scale, x) * g


def _normal(x, mu, sigma):
    z = (x - mu) / sigma
    return jnp.exp(-0.5 * z * z) / (math.sqrt(2.0 * math.pi) * sigma)
