"""The arctangent surrogate."""

import jax.numpy as jnp
from jaxtyping import Array

from ._base import Surrogate, _check_positive, _param


class Arctan(Surrogate):
    r"""Heaviside forward; backward: the derivative of
    $\frac{1}{\pi}\arctan(\frac{\pi}{2}\alpha x) + \frac12$.

    $$g'(x) = \frac{\alpha}{2\,(1 + (\frac{\pi}{2}\alpha x)^2)}$$

    **Arguments:** `alpha` (default 1.0).
    """

    alpha: float | Array = 1.0

    def __check_init__(self):
        _check_positive(self, "alpha")

    def grad(self, x: Array) -> Array:
        a = _param(self.alpha, x)
        z = (jnp.pi / 2) * a * x
        return a / (2.0 * (1.0 + z * z))
