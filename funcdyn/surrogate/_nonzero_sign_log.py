"""The nonzero-sign-log surrogate."""

import jax.numpy as jnp
from jaxtyping import Array

from ._base import Surrogate, _check_positive, _param, param


class NonzeroSignLog(Surrogate):
    r"""Heaviside forward; backward: the derivative of $\operatorname{sign}(x)\log(|x|\alpha + 1)$.

    $$g'(x) = \frac{1}{1/\alpha + |x|}$$

    **Arguments:** `alpha` (default 1.0).
    """

    alpha: float | Array = param(1.0)

    def __check_init__(self):
        _check_positive(self, "alpha")

    def grad(self, x: Array) -> Array:
        a = _param(self.alpha, x)
        return 1.0 / (1.0 / a + jnp.abs(x))
