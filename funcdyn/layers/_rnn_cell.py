"""The vanilla (Elman) recurrent cell."""

from collections.abc import Callable

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from .._core._modes import Mode, resolve_mode
from .._core._system import DynamicalSystem
from ..init import XavierNormal, ZeroInit, parameter
from ..typing import ParamSpec
from ._checks import check_features, check_positive_int
from ._recurrent import (
    check_state,
    initial_state,
    resolve_activation,
    split_key,
    static_initializer,
    trainable_initial_state,
)


class RNNCell(DynamicalSystem):
    r"""A vanilla (Elman) recurrent cell. The state is the hidden state `h`; the output is
    the new `h`:

    $$h_{t} = f\big(x_t W_i + h_{t-1} W_h + b\big).$$

    **Arguments:**

    - `num_in`, `num_out`: input and hidden sizes.
    - `Wi_initializer`: the input weights `Wi`, shape `(num_in, num_out)` (default
      [`funcdyn.init.XavierNormal`][]); an array, an initialiser or a callable (see
      [`funcdyn.init.parameter`][]).
    - `Wh_initializer`: the recurrent weights `Wh`, shape `(num_out, num_out)` (default
      [`funcdyn.init.XavierNormal`][]).
    - `b_initializer`: the bias `b`, shape `(num_out,)` (default zeros), or `None`.
    - `activation`: `f`, a callable or the name of a `jax.nn` / `jax.numpy` function
      (default `"tanh"`; BrainPy's `RNNCell` defaults to `"relu"`).
    - `train_state`: whether the initial state is a trainable parameter `h0` of shape
      `(num_out,)` (no batch axis), broadcast over the batch by `init_state`. Being a
      parameter, it is trained with the weights and every `init_state` call (every reset)
      starts from its current, learned value.
    - `state_initializer`: the initial state: with `train_state=True` the initial value of
      `h0`; otherwise drawn at `init_state` time with the full `(batch, num_out)` shape
      (pass `init_state(batch_size, key=...)` when it is random). Default zeros.
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][]. In
      [`funcdyn.training_mode`][] `Wi`, `Wh`, `b` (and `h0`) are trainable.
    - `key`: a PRNG key, needed by random initialisers.

    **Shapes:** `x` is `(num_in,)` in non-batching mode and `(batch, num_in)` in batching
    modes; the state `h` and the output are `(num_out,)` or `(batch, num_out)`.

    ```python
    cell = funcdyn.layers.RNNCell(10, 32, mode=funcdyn.training_mode, key=key)
    h = cell.init_state(batch_size=8)
    h, y = cell(h, x, ctx)        # x: (8, 10) -> y: (8, 32)
    ```
    """

    Wi: Array
    Wh: Array
    b: Array | None
    h0: Array | None
    num_in: int = eqx.field(static=True)
    num_out: int = eqx.field(static=True)
    activation: Callable = eqx.field(static=True)
    state_initializer: ParamSpec = eqx.field(static=True)

    def __init__(
        self,
        num_in: int,
        num_out: int,
        Wi_initializer: ParamSpec = XavierNormal(),
        Wh_initializer: ParamSpec = XavierNormal(),
        b_initializer: ParamSpec = ZeroInit(),
        activation: Callable | str = "tanh",
        train_state: bool = False,
        state_initializer: ParamSpec = ZeroInit(),
        *,
        mode: Mode | None = None,
        name: str | None = None,
        key: PRNGKeyArray | None = None,
    ):
        cls = type(self).__name__
        check_positive_int(num_in, "num_in", cls)
        check_positive_int(num_out, "num_out", cls)
        self.num_in = num_in
        self.num_out = num_out
        ki, kh, kb, ks = split_key(key, 4)
        self.Wi = parameter(Wi_initializer, (num_in, num_out), name="Wi_initializer", key=ki)
        self.Wh = parameter(Wh_initializer, (num_out, num_out), name="Wh_initializer", key=kh)
        self.b = parameter(b_initializer, (num_out,), name="b_initializer", key=kb,
                           allow_none=True)
        self.activation = resolve_activation(activation, cls)
        self.h0 = trainable_initial_state(train_state, state_initializer, (num_out,), cls, ks)
        self.state_initializer = static_initializer(state_initializer)
        self.mode = resolve_mode(mode)
        self.name = name

    @property
    def train_state(self) -> bool:
        """Whether the initial state is the trainable parameter `h0`."""
        return self.h0 is not None

    def init_state(self, batch_size: int | None = None, *, key=None) -> Array:
        """The initial hidden state, `(num_out,)` or `(batch_size, num_out)`: the learned
        `h0` broadcast over the batch when `train_state`, else `state_initializer`."""
        self.check_batch_size(batch_size)
        return initial_state(self.h0, self.state_initializer, (self.num_out,), batch_size,
                             type(self).__name__, key)

    def __call__(self, state: Array, x: Array, ctx: Context) -> tuple[Array, Array]:
        x = check_features(self, x, self.num_in)
        check_state(type(self).__name__, "h", state, x.shape[:-1] + (self.num_out,))
        z = x @ self.Wi + state @ self.Wh
        if self.b is not None:
            z = z + jnp.broadcast_to(self.b, z.shape)
        h = self.activation(z)
        return h, h
