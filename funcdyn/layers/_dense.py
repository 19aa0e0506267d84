"""A fully connected layer."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from .._core._modes import Mode, resolve_mode
from .._core._system import DynamicalSystem
from ..init import XavierNormal, ZeroInit, parameter
from ..typing import ParamSpec
from ._checks import check_features, check_positive_int


class Dense(DynamicalSystem):
    """A fully connected (affine) layer, `y = x @ W + b`. Stateless.

    **Arguments:**

    - `num_in`, `num_out`: input and output sizes.
    - `W_initializer`: the weight `W`, of shape `(num_in, num_out)`: an array, an
      [`funcdyn.init.Initializer`][] (default [`funcdyn.init.XavierNormal`][]) or a
      callable (see [`funcdyn.init.parameter`][]).
    - `b_initializer`: the bias `b`, shape `(num_out,)` (default zeros), or `None` for no
      bias.
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][]. In
      [`funcdyn.training_mode`][] `W` and `b` are trainable.
    - `key`: a PRNG key, needed by random initialisers.

    **Shapes:** `x` is `(num_in,)` in non-batching mode and `(batch, num_in)` in batching
    modes; `y` is `(num_out,)` or `(batch, num_out)`. The state is `None`.

    ```python
    dense = funcdyn.layers.Dense(128, 100, mode=funcdyn.training_mode, key=key)
    _, y = dense(None, x, ctx)   # x: (batch, 128) -> y: (batch, 100)
    ```
    """

    W: Array
    b: Array | None
    num_in: int = eqx.field(static=True)
    num_out: int = eqx.field(static=True)

    def __init__(
        self,
        num_in: int,
        num_out: int,
        W_initializer: ParamSpec = XavierNormal(),
        b_initializer: ParamSpec = ZeroInit(),
        *,
        mode: Mode | None = None,
        name: str | None = None,
        key: PRNGKeyArray | None = None,
    ):
        check_positive_int(num_in, "num_in", type(self).__name__)
        check_positive_int(num_out, "num_out", type(self).__name__)
        self.num_in = num_in
        self.num_out = num_out
        w_key, b_key = (None, None) if key is None else jax.random.split(key)
        self.W = parameter(W_initializer, (num_in, num_out), name="W_initializer", key=w_key)
        self.b = parameter(
            b_initializer, (num_out,), name="b_initializer", key=b_key, allow_none=True
        )
        self.mode = resolve_mode(mode)
        self.name = name

    def init_state(self, batch_size: int | None = None, *, key=None) -> None:
        """Dense has no state: returns `None` (after checking `batch_size` fits the mode)."""
        self.check_batch_size(batch_size)
        return None

    def __call__(self, state: None, x: Array, ctx: Context) -> tuple[None, Array]:
        x = check_features(self, x, self.num_in)
        y = x @ self.W
        if self.b is not None:
            y = y + jnp.broadcast_to(self.b, y.shape)
        return state, y
