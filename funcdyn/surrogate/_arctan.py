"""The arctangent surrogate."""

import jax.numpy as jnp
from jaxtyping import Array

from ._base import Surrogate, _check_positive, _param, param


class Arctan(Surrogate):
    r"""Heaviside forward; backward: the derivative of
    $\frac{1}{\pi}\arctan(\frac{\pi}{2}\alpha x) + \frac12$.

    $$g'(x) = \frac{\alpha}{2\,(1 + (\frac{\pi}{2}\alpha x)^2)}$$

    **Arguments:** `alpha` (default 1.0).
    """

    alpha: float | Array = param(1.0)

    def __check_init__(self):
        _check_positive(self, "alpha")

    def grad(self, x: Array) -> Array:
        a = _param(self.alpha, x)
        z = (jnp.pi / 2) * a * x
        # For |z| > 1 the same value is written in r = 1/z, r^2 / (1 + r^2): z^2 would
        # overflow for huge |x| and make the second derivative inf * 0 = NaN. Both branches
        # get a safe input (the double-`where` rule), so neither produces a NaN derivative.
        near = jnp.abs(z) <= 1.0
        zn = jnp.where(near, z, jnp.zeros_like(z))
        r = 1.0 / jnp.where(near, jnp.ones_like(z), z)
        inner = 1.0 / (1.0 + zn * zn)
        outer = (r * r) / (1.0 + r * r)
        return 0.5 * a * jnp.where(near, inner, outer)
