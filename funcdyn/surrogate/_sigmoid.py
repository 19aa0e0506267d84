"""The sigmoid surrogate."""

import jax
from jaxtyping import Array

from ._base import Surrogate, _check_positive, _param, param


class Sigmoid(Surrogate):
    r"""Heaviside forward; backward: the derivative of a logistic sigmoid of slope `alpha`.

    $$g'(x) = \alpha\,\sigma(\alpha x)\,\sigma(-\alpha x)$$

    written with two stable sigmoids, so it is exactly 0 (never NaN) for huge `|x|`.

    **Arguments:** `alpha` (default 4.0): the slope (a float or an array broadcastable to
    the input).

    ```python
    spike = funcdyn.surrogate.Sigmoid(alpha=4.0)(V - V_th)
    ```
    """

    alpha: float | Array = param(4.0)

    def __check_init__(self):
        _check_positive(self, "alpha")

    def grad(self, x: Array) -> Array:
        a = _param(self.alpha, x)
        ax = a * x
        return a * jax.nn.sigmoid(ax) * jax.nn.sigmoid(-ax)
