"""The SLAYER surrogate."""

import jax.numpy as jnp
from jaxtyping import Array

from ._base import Surrogate, _check_positive, _param, param


class SlayerGrad(Surrogate):
    r"""Heaviside forward; backward: an exponential kernel (Shrestha & Orchard 2018).

    $$g'(x) = e^{-\alpha|x|}$$

    **Arguments:** `alpha` (default 1.0).
    """

    alpha: float | Array = param(1.0)

    def __check_init__(self):
        _check_positive(self, "alpha")

    def grad(self, x: Array) -> Array:
        a = _param(self.alpha, x)
        return jnp.exp(-a * jnp.abs(x))
