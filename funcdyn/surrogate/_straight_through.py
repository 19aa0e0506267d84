"""The straight-through estimator."""

import jax.numpy as jnp
from jaxtyping import Array

from ._base import Surrogate, _check, _param, param


class StraightThrough(Surrogate):
    r"""Heaviside forward; backward: the identity (Bengio et al. 2013), scaled by `alpha`.

    $$g'(x) = \alpha$$

    **Arguments:** `alpha` (default 1.0).
    """

    alpha: float | Array = param(1.0)

    def __check_init__(self):
        _check(self, "alpha", low=0.0)

    def grad(self, x: Array) -> Array:
        return _param(self.alpha, x) * jnp.ones_like(x)
