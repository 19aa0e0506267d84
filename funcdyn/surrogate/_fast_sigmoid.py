"""The fast-sigmoid (SuperSpike) surrogate."""

import jax.numpy as jnp
from jaxtyping import Array

from ._base import Surrogate, _check_positive, _param, param


class FastSigmoid(Surrogate):
    r"""Heaviside forward; backward: the SuperSpike fast sigmoid (Zenke & Ganguli 2018).

    $$g'(x) = \frac{1}{(\alpha|x| + 1)^2}$$

    **Arguments:** `alpha` (default 25.0): the steepness.
    [`funcdyn.surrogate.InverseSquare`][] is the same function with BrainPy's default
    `alpha = 100`.

    ```python
    spike = funcdyn.surrogate.FastSigmoid(alpha=25.0)(V - V_th)
    ```
    """

    alpha: float | Array = param(25.0)

    def __check_init__(self):
        _check_positive(self, "alpha")

    def grad(self, x: Array) -> Array:
        a = _param(self.alpha, x)
        # (1/d)^2 rather than 1/d^2: for huge |x| the square of d overflows and its
        # second derivative would be inf * 0 = NaN; 1/d is at most 1.
        u = 1.0 / (a * jnp.abs(x) + 1.0)
        return u * u
