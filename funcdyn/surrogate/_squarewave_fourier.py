"""The square-wave Fourier-series surrogate."""

import math

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ._base import Surrogate, _check_positive, _param, param


def _as_int(n):
    # numpy ints are accepted (and stored as Python ints: `n` is static and hashed).
    return int(n) if isinstance(n, np.integer) else n


class SquarewaveFourierSeries(Surrogate):
    r"""Heaviside forward; backward: the derivative of the first `n` terms of the Fourier
    series of a square wave of period `t_period`.

    $$g'(x) = \frac{4}{T}\sum_{i=1}^{n} \cos\left((2i - 1)\frac{2\pi}{T} x\right)$$

    The series is periodic; it is kept on one period, $|x| < T/2$, and is 0 outside, so
    that it stays finite for any `x`.

    **Arguments:** `n` (default 2, static), `t_period` $T$ (default 8.0).
    """

    n: int = eqx.field(static=True, default=2, converter=_as_int)
    t_period: float | Array = param(8.0)

    def __check_init__(self):
        _check_positive(self, "t_period")
        if isinstance(self.n, bool) or not isinstance(self.n, int):
            raise TypeError(
                f"SquarewaveFourierSeries: `n` must be a positive int, got {self.n!r} of "
                f"type {type(self.n).__name__}."
            )
        if self.n < 1:
            raise ValueError(
                f"SquarewaveFourierSeries: `n` must be a positive int, got {self.n!r}."
            )

    def grad(self, x: Array) -> Array:
        T = _param(self.t_period, x)
        w = (2.0 * math.pi) / T
        inside = jnp.abs(x) < 0.5 * T
        # cos(inf) is NaN: feed the series a safe value outside the kept period.
        xs = jnp.where(inside, x, jnp.zeros_like(x))
        total = jnp.zeros_like(x)
        for i in range(1, self.n + 1):
            total = total + jnp.cos((2 * i - 1) * w * xs)
        return jnp.where(inside, 4.0 / T * total, jnp.zeros_like(x))
