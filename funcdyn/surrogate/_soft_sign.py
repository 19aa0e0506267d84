"""The soft-sign surrogate."""

import jax.numpy as jnp
from jaxtyping import Array

from ._base import Surrogate, _check_positive, _param, param


class SoftSign(Surrogate):
    r"""Heaviside forward; backward: the derivative of
    $\frac12(\frac{\alpha x}{1 + |\alpha x|} + 1)$.

    $$g'(x) = \frac{\alpha}{2(1 + |\alpha x|)^2}$$

    **Arguments:** `alpha` (default 1.0).
    """

    alpha: float | Array = param(1.0)

    def __check_init__(self):
        _check_positive(self, "alpha")

    def grad(self, x: Array) -> Array:
        a = _param(self.alpha, x)
        # (1/d)^2 rather than 1/d^2, so that nothing overflows for huge |x|.
        u = 1.0 / (1.0 + jnp.abs(a * x))
        return 0.5 * a * (u * u)
