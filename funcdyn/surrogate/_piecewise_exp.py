"""The piecewise-exponential surrogate."""

import jax.numpy as jnp
from jaxtyping import Array

from ._base import Surrogate, _check_positive, _param, param


class PiecewiseExp(Surrogate):
    r"""Heaviside forward; backward: a Laplace density (Neftci et al. 2019).

    $$g'(x) = \frac{\alpha}{2} e^{-\alpha|x|}$$

    **Arguments:** `alpha` (default 1.0).
    """

    alpha: float | Array = param(1.0)

    def __check_init__(self):
        _check_positive(self, "alpha")

    def grad(self, x: Array) -> Array:
        a = _param(self.alpha, x)
        return 0.5 * a * jnp.exp(-a * jnp.abs(x))
