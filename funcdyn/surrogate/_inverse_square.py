"""The inverse-square surrogate (BrainPy's `inv_square_grad`)."""

import jax.numpy as jnp
from jaxtyping import Array

from ._base import Surrogate, _check_positive, _param, param


class InverseSquare(Surrogate):
    r"""Heaviside forward; backward: an inverse square of the distance.

    $$g'(x) = \frac{1}{(\alpha|x| + 1)^2}$$

    the derivative of $g(x) = x / (1/\alpha + |x|)$ up to scale; the same family as
    [`funcdyn.surrogate.FastSigmoid`][] with BrainPy's default steepness. It is the
    default `spike_fn` of the spiking neurons.

    **Arguments:** `alpha` (default 100.0).
    """

    alpha: float | Array = param(100.0)

    def __check_init__(self):
        _check_positive(self, "alpha")

    def grad(self, x: Array) -> Array:
        a = _param(self.alpha, x)
        # (1/d)^2: see FastSigmoid (no overflow, finite second derivative at any x).
        u = 1.0 / (a * jnp.abs(x) + 1.0)
        return u * u
