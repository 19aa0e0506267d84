"""The q-PseudoSpike surrogate."""

import jax.numpy as jnp
from jaxtyping import Array

from ._base import Surrogate, _check, _param, param


class QPseudoSpike(Surrogate):
    r"""Heaviside forward; backward: a heavy-tailed kernel whose tail is set by `alpha`
    (Herranz-Celotti & Rouat 2022).

    $$g'(x) = \left(1 + \frac{2|x|}{\alpha - 1}\right)^{-\alpha}$$

    **Arguments:** `alpha` (default 2.0, must be > 1).
    """

    alpha: float | Array = param(2.0)

    def __check_init__(self):
        _check(self, "alpha", low=1.0)

    def grad(self, x: Array) -> Array:
        a = _param(self.alpha, x)
        return (1.0 + 2.0 * jnp.abs(x) / (a - 1.0)) ** (-a)
