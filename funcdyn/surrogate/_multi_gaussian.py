"""The multi-Gaussian surrogate."""

import math

import jax.numpy as jnp
from jaxtyping import Array

from ._base import Surrogate, _check, _check_positive, _param, param


class MultiGaussian(Surrogate):
    r"""Heaviside forward; backward: a central Gaussian with two negative side lobes (Yin et
    al. 2021).

    $$g'(x) = c\left[(1 + h)\mathcal{N}(x; 0, \sigma^2) - h\,\mathcal{N}(x; \sigma, (s\sigma)^2)
    - h\,\mathcal{N}(x; -\sigma, (s\sigma)^2)\right]$$

    **Arguments:** `h` (default 0.15), `s` (default 6.0), `sigma` (default 0.5), `scale`
    $c$ (default 0.5).
    """

    h: float | Array = param(0.15)
    s: float | Array = param(6.0)
    sigma: float | Array = param(0.5)
    scale: float | Array = param(0.5)

    def __check_init__(self):
        _check_positive(self, "s", "sigma", "scale")
        _check(self, "h", low=0.0, low_open=False)

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
    # exp(-z^2/2) is exactly 0 for |z| > 38.6 even in float64: limiting |z| to 64 changes
    # no value, but keeps z^2 from overflowing (whose derivative would be inf * 0 = NaN).
    z = jnp.clip((x - mu) / sigma, -64.0, 64.0)
    return jnp.exp(-0.5 * z * z) / (math.sqrt(2.0 * math.pi) * sigma)
