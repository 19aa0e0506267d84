"""The convolutional LSTM cell."""

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from .._core._modes import Mode, resolve_mode
from .._core._system import DynamicalSystem
from ..init import XavierNormal, ZeroInit, parameter
from ..typing import ParamSpec
from ._checks import check_positive_int
from ._conv import as_tuple, check_spatial_input, dimension_numbers
from ._lstm_cell import LSTMState
from ._recurrent import (
    check_state,
    initial_state,
    split_key,
    static_initializer,
    trainable_initial_state,
)


class ConvLSTMCell(DynamicalSystem):
    r"""A convolutional LSTM cell (Shi et al. 2015): an [`funcdyn.layers.LSTMCell`][]
    whose matrix products are convolutions over 1 to 3 spatial axes (channels last,
    `"SAME"` padding, stride 1, so `h` and `c` keep the input's spatial shape). The state
    is an [`funcdyn.layers.LSTMState`][] `(h, c)`; the output is the new `h`:

    $$\begin{aligned}
    [i, f, g, o] &= W_i * x + W_h * h + b,\\
    c' &= \sigma(f) \odot c + \sigma(i) \odot \tanh(g), \qquad
    h' = \sigma(o) \odot \tanh(c').
    \end{aligned}$$

    **Arguments:**

    - `input_shape`: the spatial shape of the input, e.g. `(height, width)`; its length
      (1, 2 or 3) is the number of spatial axes.
    - `in_channels`, `out_channels`: the input channels and the channels of `h` and `c`.
    - `kernel_size`: an int or one int per spatial axis (odd sizes centre the kernel).
    - `Wi_initializer`: the input kernel `Wi`, shape
      `(*kernel_size, in_channels, 4 * out_channels)`, gates `[i, f, g, o]` (default
      [`funcdyn.init.XavierNormal`][]).
    - `Wh_initializer`: the recurrent kernel `Wh`, shape
      `(*kernel_size, out_channels, 4 * out_channels)`.
    - `b_initializer`: the bias, shape `(4 * out_channels,)` (default zeros), or `None`.
    - `train_state`, `state_initializer`: the initial state, as for
      [`funcdyn.layers.LSTMCell`][] (trainable `h0`, `c0` of shape
      `(*input_shape, out_channels)` when `train_state=True`).
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][].
    - `key`: a PRNG key, needed by random initialisers.

    **Shapes:** `x` is `([batch,] *input_shape, in_channels)`; `h`, `c` and the output
    are `([batch,] *input_shape, out_channels)`.

    ```python
    cell = funcdyn.layers.ConvLSTMCell((16, 16), 1, 8, kernel_size=3,
                                       mode=funcdyn.training_mode, key=key)
    state = cell.init_state(4)
    state, y = cell(state, frames, ctx)   # (4, 16, 16, 1) -> (4, 16, 16, 8)
    ```
    """

    Wi: Array
    Wh: Array
    b: Array | None
    h0: Array | None
    c0: Array | None
    input_shape: tuple[int, ...] = eqx.field(static=True)
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    kernel_size: tuple[int, ...] = eqx.field(static=True)
    state_initializer: ParamSpec = eqx.field(static=True)

    def __init__(
        self,
        input_shape: Sequence[int],
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
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
        if (
            not isinstance(input_shape, Sequence)
            or isinstance(input_shape, str)
            or len(input_shape) not in (1, 2, 3)
            or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1
                   for s in input_shape)
        ):
            raise ValueError(
                f"{cls}: `input_shape` is the spatial shape of the input, 1 to 3 positive "
                f"ints such as (height, width), got {input_shape!r}."
            )
        n = len(input_shape)
        check_positive_int(in_channels, "in_channels", cls)
        check_positive_int(out_channels, "out_channels", cls)
        self.input_shape = tuple(int(s) for s in input_shape)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = as_tuple(kernel_size, n, "kernel_size", cls)
        ki, kh, kb, kh0, kc0 = split_key(key, 5)
        n4 = 4 * out_channels
        self.Wi = parameter(Wi_initializer, self.kernel_size + (in_channels, n4),
                            name="Wi_initializer", key=ki)
        self.Wh = parameter(Wh_initializer, self.kernel_size + (out_channels, n4),
                            name="Wh_initializer", key=kh)
        self.b = parameter(b_initializer, (n4,), name="b_initializer", key=kb, allow_none=True)
        shape = self.input_shape + (out_channels,)
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
        """The initial [`funcdyn.layers.LSTMState`][], each array
        `([batch_size,] *input_shape, out_channels)`."""
        self.check_batch_size(batch_size)
        kh, kc = split_key(key, 2)
        cls = type(self).__name__
        shape = self.input_shape + (self.out_channels,)
        h = initial_state(self.h0, self.state_initializer, shape, batch_size, cls, kh)
        c = initial_state(self.c0, self.state_initializer, shape, batch_size, cls, kc)
        return LSTMState(h=h, c=c)

    def _conv(self, x: Array, W: Array) -> Array:
        return jax.lax.conv_general_dilated(
            x, W, window_strides=(1,) * len(self.input_shape), padding="SAME",
            dimension_numbers=dimension_numbers(len(self.input_shape)),
        )

    def __call__(self, state: LSTMState, x: Array, ctx: Context) -> tuple[LSTMState, Array]:
        cls = type(self).__name__
        n = len(self.input_shape)
        x = check_spatial_input(self, x, n, self.in_channels, "input")
        if x.shape[-n - 1 : -1] != self.input_shape:
            raise ValueError(
                f"{cls}: the input's spatial shape {x.shape[-n - 1 : -1]} differs from "
                f"input_shape={self.input_shape}."
            )
        if not isinstance(state, LSTMState):
            raise TypeError(f"{cls}: the state must be an LSTMState (from init_state), "
                            f"got {type(state).__name__}.")
        expected = x.shape[:-1] + (self.out_channels,)
        check_state(cls, "h", state.h, expected)
        check_state(cls, "c", state.c, expected)
        batched = self.mode.is_batching
        xb, hb = (x, state.h) if batched else (x[None], state.h[None])
        gates = self._conv(xb, self.Wi) + self._conv(hb, self.Wh)
        if not batched:
            gates = gates[0]
        if self.b is not None:
            gates = gates + jnp.broadcast_to(self.b, gates.shape)
        i, f, g, o = jnp.split(gates, 4, axis=-1)
        c = jax.nn.sigmoid(f) * state.c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return LSTMState(h=h, c=c), h
