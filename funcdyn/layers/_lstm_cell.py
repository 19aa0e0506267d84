"""The long short-term memory (LSTM) cell."""

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
from ._recurrent import (
    check_state,
    initial_state,
    split_key,
    static_initializer,
    trainable_initial_state,
)


class LSTMState(eqx.Module):
    """The state of [`funcdyn.layers.LSTMCell`][] and [`funcdyn.layers.ConvLSTMCell`][]:
    the hidden state `h` (also the output) and the cell state `c`, of equal shapes."""

    h: Array
    c: Array


class LSTMCell(DynamicalSystem):
    r"""A long short-term memory cell (Hochreiter & Schmidhuber 1997), gates in the order
    `[i, f, g, o]` of PyTorch and `equinox.nn.LSTMCell`, all computed by one matrix
    product per operand. The state is an [`funcdyn.layers.LSTMState`][] `(h, c)`; the
    output is the new `h`:

    $$\begin{aligned}
    [i, f, g, o] &= x W_i + h W_h + b,\\
    c' &= \sigma(f) \odot c + \sigma(i) \odot \tanh(g), \qquad
    h' = \sigma(o) \odot \tanh(c').
    \end{aligned}$$

    **Arguments:**

    - `num_in`, `num_out`: input and hidden sizes.
    - `Wi_initializer`: the input weights `Wi`, shape `(num_in, 4 * num_out)` (default
      [`funcdyn.init.XavierNormal`][]).
    - `Wh_initializer`: the recurrent weights `Wh`, shape `(num_out, 4 * num_out)`.
    - `b_initializer`: the bias `b`, shape `(4 * num_out,)` (default zeros), or `None`.
      BrainPy's `LSTMCell` adds a fixed 1 to the forget gate; here the forget bias is the
      slice `b[num_out:2 * num_out]`, so initialise it to 1 for the same effect.
    - `train_state`: whether the initial `h` and `c` are trainable parameters `h0`, `c0`
      of shape `(num_out,)` (no batch axis) that every `init_state` broadcasts over the
      batch (see [`funcdyn.layers.RNNCell`][]).
    - `state_initializer`: the initial `h` and `c` (default zeros).
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][].
    - `key`: a PRNG key, needed by random initialisers.

    **Shapes:** `x` is `(num_in,)` or `(batch, num_in)`; `h`, `c` and the output are
    `(num_out,)` or `(batch, num_out)`.

    ```python
    cell = funcdyn.layers.LSTMCell(10, 32, mode=funcdyn.training_mode, key=key)
    state = cell.init_state(8)
    state, y = cell(state, x, ctx)        # y is state.h, shape (8, 32)
    ```
    """

    Wi: Array
    Wh: Array
    b: Array | None
    h0: Array | None
    c0: Array | None
    num_in: int = eqx.field(static=True)
    num_out: int = eqx.field(static=True)
    state_initializer: ParamSpec = eqx.field(static=True)

    def __init__(
        self,
        num_in: int,
        num_out: int,
        Wi_initializer: ParamSpec = XavierNormal(),
        Wh_initializer: ParamSpec = XavierNormal(),
        b_initializer: ParamSpec = ZeroInit(),
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
        ki, kh, kb, kh0, kc0 = split_key(key, 5)
        n4 = 4 * num_out
        self.Wi = parameter(Wi_initializer, (num_in, n4), name="Wi_initializer", key=ki)
        self.Wh = parameter(Wh_initializer, (num_out, n4), name="Wh_initializer", key=kh)
        self.b = parameter(b_initializer, (n4,), name="b_initializer", key=kb, allow_none=True)
        shape = (num_out,)
        self.h0 = trainable_initial_state(train_state, state_initializer, shape, cls, kh0)
        self.c0 = trainable_initial_state(train_state, state_initializer, shape, cls, kc0)
        self.state_initializer = static_initializer(state_initializer)
        self.mode = resolve_mode(mode)
        self.name = name

    @property
    def train_state(self) -> bool:
        """Whether the initial state is the trainable parameters `h0`, `c0`."""
        return self.h0 is not None

    def init_state(self, batch_size: int | None = None, *, key=None) -> LSTMState:
        """The initial [`funcdyn.layers.LSTMState`][], each array `(num_out,)` or
        `(batch_size, num_out)`."""
        self.check_batch_size(batch_size)
        kh, kc = split_key(key, 2)
        cls = type(self).__name__
        shape = (self.num_out,)
        h = initial_state(self.h0, self.state_initializer, shape, batch_size, cls, kh)
        c = initial_state(self.c0, self.state_initializer, shape, batch_size, cls, kc)
        return LSTMState(h=h, c=c)

    def __call__(self, state: LSTMState, x: Array, ctx: Context) -> tuple[LSTMState, Array]:
        x = check_features(self, x, self.num_in)
        cls = type(self).__name__
        expected = x.shape[:-1] + (self.num_out,)
        if not isinstance(state, LSTMState):
            raise TypeError(f"{cls}: the state must be an LSTMState (from init_state), "
                            f"got {type(state).__name__}.")
        check_state(cls, "h", state.h, expected)
        check_state(cls, "c", state.c, expected)
        gates = x @ self.Wi + state.h @ self.Wh
        if self.b is not None:
            gates = gates + jnp.broadcast_to(self.b, gates.shape)
        i, f, g, o = jnp.split(gates, 4, axis=-1)
        c = jax.nn.sigmoid(f) * state.c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return LSTMState(h=h, c=c), h
