"""The gated recurrent unit (GRU) cell."""

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


class GRUCell(DynamicalSystem):
    r"""A gated recurrent unit (Cho et al. 2014), in the layout of cuDNN, PyTorch and
    `equinox.nn.GRUCell`, where the reset gate acts after the recurrent product so that
    each step takes one matrix product per operand with all gates concatenated. The state
    is the hidden state `h`; the output is the new `h`:

    $$\begin{aligned}
    r &= \sigma(x W_i^r + h W_h^r + b^r), \qquad z = \sigma(x W_i^z + h W_h^z + b^z),\\
    n &= \tanh\big(x W_i^n + b^n + r \odot (h W_h^n + b_h)\big),\\
    h' &= (1 - z) \odot n + z \odot h.
    \end{aligned}$$

    **Arguments:**

    - `num_in`, `num_out`: input and hidden sizes.
    - `Wi_initializer`: the input weights `Wi`, shape `(num_in, 3 * num_out)`, the
      gates `[r, z, n]` side by side (default [`funcdyn.init.XavierNormal`][]).
    - `Wh_initializer`: the recurrent weights `Wh`, shape `(num_out, 3 * num_out)`, same
      gate order.
    - `b_initializer`: the bias `b`, shape `(3 * num_out,)` (default zeros), or `None`.
    - `bh_initializer`: the bias `bh` of the recurrent candidate term, shape `(num_out,)`
      (default zeros), or `None`.
    - `train_state`, `state_initializer`: the initial state, as for
      [`funcdyn.layers.RNNCell`][]: `train_state=True` makes it a trainable parameter `h0`
      of shape `(num_out,)` that every `init_state` broadcasts over the batch.
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][].
    - `key`: a PRNG key, needed by random initialisers.

    **Shapes:** `x` is `(num_in,)` or `(batch, num_in)`; the state and the output are
    `(num_out,)` or `(batch, num_out)`.

    BrainPy's `GRUCell` applies the reset gate before the recurrent product,
    `tanh(x Wi + (r * h) Wh + b)`, and writes `h' = (1 - z) h + z n`; the two variants
    are equally expressive but their weights are not interchangeable.

    ```python
    cell = funcdyn.layers.GRUCell(10, 32, mode=funcdyn.training_mode, key=key)
    h = cell.init_state(8)
    h, y = cell(h, x, ctx)        # x: (8, 10) -> y: (8, 32)
    ```
    """

    Wi: Array
    Wh: Array
    b: Array | None
    bh: Array | None
    h0: Array | None
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
        bh_initializer: ParamSpec = ZeroInit(),
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
        ki, kh, kb, kbh, ks = split_key(key, 5)
        n3 = 3 * num_out
        self.Wi = parameter(Wi_initializer, (num_in, n3), name="Wi_initializer", key=ki)
        self.Wh = parameter(Wh_initializer, (num_out, n3), name="Wh_initializer", key=kh)
        self.b = parameter(b_initializer, (n3,), name="b_initializer", key=kb, allow_none=True)
        self.bh = parameter(bh_initializer, (num_out,), name="bh_initializer", key=kbh,
                            allow_none=True)
        self.h0 = trainable_initial_state(train_state, state_initializer, (num_out,), cls, ks)
        self.state_initializer = static_initializer(state_initializer)
        self.mode = resolve_mode(mode)
        self.name = name

    @property
    def train_state(self) -> bool:
        """Whether the initial state is the trainable parameter `h0`."""
        return self.h0 is not None

    def init_state(self, batch_size: int | None = None, *, key=None) -> Array:
        """The initial hidden state, `(num_out,)` or `(batch_size, num_out)`."""
        self.check_batch_size(batch_size)
        return initial_state(self.h0, self.state_initializer, (self.num_out,), batch_size,
                             type(self).__name__, key)

    def __call__(self, state: Array, x: Array, ctx: Context) -> tuple[Array, Array]:
        x = check_features(self, x, self.num_in)
        h = state
        check_state(type(self).__name__, "h", h, x.shape[:-1] + (self.num_out,))
        gx = x @ self.Wi
        if self.b is not None:
            gx = gx + jnp.broadcast_to(self.b, gx.shape)
        gh = h @ self.Wh
        xr, xz, xn = jnp.split(gx, 3, axis=-1)
        hr, hz, hn = jnp.split(gh, 3, axis=-1)
        if self.bh is not None:
            hn = hn + jnp.broadcast_to(self.bh, hn.shape)
        r = jax.nn.sigmoid(xr + hr)
        z = jax.nn.sigmoid(xz + hz)
        n = jnp.tanh(xn + r * hn)
        h = n + z * (h - n)
        return h, h
