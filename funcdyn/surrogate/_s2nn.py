"""The S2NN surrogate."""

import jax
import jax.numpy as jnp
from jaxtyping import Array

from ._base import Surrogate, _check_positive, _param, param


class S2NN(Surrogate):
    r"""Heaviside forward; backward: a sigmoid derivative below threshold and a logarithmic
    tail above it (Suetake et al. 2023).

    $$g'(x) = \begin{cases} \alpha\,\sigma(\alpha x)\,\sigma(-\alpha x) & x < 0 \\
    \frac{\beta}{x + 1} & x \ge 0 \end{cases}$$

    **Arguments:** `alpha` (default 4.0), `beta` (default 1.0).
    """

    alpha: float | Array = param(4.0)
    beta: float | Array = param(1.0)

    def __check_init__(self):
        _check_positive(self, "alpha", "beta")

    def grad(self, x: Array) -> Array:
        a = _param(self.alpha, x)
        b = _param(self.beta, x)
        ax = a * x
        below = a * jax.nn.sigmoid(ax) * jax.nn.sigmoid(-ax)
        above = b / (jnp.maximum(x, 0.0) + 1.0)
        return jnp.where(x < 0, below, above)
