"""The network form that e-prop learns: input and recurrent weights around an
elementwise neuron layer, read out by a leaky linear integrator."""

import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray

# funcdyn.DynamicalSystem and funcdyn.Context: the package root binds them after
# `funcdyn.train` is imported, so they are taken from where the root takes them.
from .._core._context import Context
from .._core._modes import Mode, resolve_mode
from .._core._system import DynamicalSystem
from ..init import KaimingNormal, ZeroInit, parameter


class EPropState(eqx.Module):
    """The state of an [`funcdyn.train.EPropNetwork`][]: the neuron layer's own state
    `cell`, its last output `z` (the observable that the recurrent weights carry to the
    next step), and the readout `y`."""

    cell: Any
    z: Array
    y: Array


def _size_of(cell: Any) -> int | None:
    size = getattr(cell, "size", None)
    if isinstance(size, tuple) and len(size) == 1:
        return int(size[0])
    if isinstance(size, int):
        return size
    num = getattr(cell, "num", None)
    return int(num) if isinstance(num, int) else None


class EPropNetwork(DynamicalSystem):
    r"""A recurrent network in the form of Bellec et al. (2020): an elementwise neuron
    layer driven by input and recurrent weights, with a leaky linear readout.

    $$I_t = x_t W_\mathrm{in} + z_{t-1} W_\mathrm{rec}, \qquad
    (c_t, z_t) = \mathrm{cell}(c_{t-1}, I_t), \qquad
    y_t = \kappa\, y_{t-1} + (1 - \kappa)(z_t W_\mathrm{out} + b_\mathrm{out})$$

    with $\kappa = e^{-\Delta t/\tau_\mathrm{out}}$ ($y_t = z_t W_\mathrm{out} +
    b_\mathrm{out}$ when `tau_out=None`). `cell` is any neuron layer whose step
    `cell(state, I, ctx) -> (state, z)` acts on each neuron separately: a
    [`funcdyn.neurons.LIF`][], [`funcdyn.neurons.ALIF`][], a rate unit, or your own
    neuron. Only `z_{t-1}` couples the neurons (through $W_\mathrm{rec}$), which is
    what lets [`funcdyn.train.ForwardTrainer`][] with `method="eprop"` compute
    eligibility traces from the Jacobians of the cell's step alone.

    It is an ordinary [`funcdyn.DynamicalSystem`][]: `funcdyn.run`, `BPTT` and
    `method="rtrl"` train it as they train any model.

    **Arguments:**

    - `cell`: the neuron layer, of `num_hidden` neurons (its `size`), in a batching
      mode when the network batches. Its own arrays (time constants, thresholds) train
      when it is in [`funcdyn.training_mode`][]; build it in
      [`funcdyn.batching_mode`][] to keep them fixed.
    - `num_in`, `num_out`: input and readout sizes.
    - `num_hidden`: the number of units; default the cell's `size`. Needed for a cell
      without one, e.g. a rate unit `funcdyn.layers.Activation("tanh")` (which makes the
      network the rate RNN $z_t = \tanh(x_t W_\mathrm{in} + z_{t-1} W_\mathrm{rec})$).
    - `recurrent`: whether there is a recurrent weight `W_rec` (`False`: feed-forward).
    - `self_connections`: whether the diagonal of `W_rec` is used (default `False`, as
      in the paper: a neuron's own spike reaches it only through its reset).
    - `tau_out`: the readout time constant (ms), or `None` for an instantaneous readout.
    - `W_in_initializer`, `W_rec_initializer`, `W_out_initializer`,
      `b_out_initializer`: parameter specs (see [`funcdyn.init.parameter`][]); weights are
      `(num_pre, num_post)`: row presynaptic, column postsynaptic. `b_out=None` omits the
      readout bias.
    - `mode`: the network's mode; in [`funcdyn.training_mode`][] the weights train.
    - `key`: for the random initialisers.

    **Shapes:** `x: (batch, num_in)`, output `y: (batch, num_out)` (no batch axis in
    non-batching mode).

    ```python
    cell = funcdyn.neurons.ALIF(100, tau=20.0, tau_a=200.0, mode=funcdyn.batching_mode)
    net = funcdyn.train.EPropNetwork(cell, num_in=40, num_out=2, tau_out=20.0,
                                     mode=funcdyn.training_mode, key=jax.random.key(0))
    state, y = net(net.init_state(16), x, funcdyn.Context(dt=1.0))
    ```
    """

    cell: Any
    W_in: Array
    W_rec: Array | None
    W_out: Array
    b_out: Array | None
    num_in: int = eqx.field(static=True)
    num_hidden: int = eqx.field(static=True)
    num_out: int = eqx.field(static=True)
    self_connections: bool = eqx.field(static=True)
    tau_out: float | None = eqx.field(static=True)

    def __init__(
        self,
        cell: Any,
        num_in: int,
        num_out: int,
        *,
        num_hidden: int | None = None,
        recurrent: bool = True,
        self_connections: bool = False,
        tau_out: float | None = 20.0,
        W_in_initializer: Any = KaimingNormal(),
        W_rec_initializer: Any = KaimingNormal(scale=0.5),
        W_out_initializer: Any = KaimingNormal(),
        b_out_initializer: Any = ZeroInit(),
        mode: Mode | None = None,
        name: str | None = None,
        key: PRNGKeyArray | None = None,
    ):
        cls = type(self).__name__
        if not callable(cell):
            raise TypeError(
                f"{cls}: `cell` must be a neuron layer with a step cell(state, I, ctx), got "
                f"{type(cell).__name__}."
            )
        if not callable(getattr(cell, "init_state", None)):
            raise TypeError(f"{cls}: `cell` needs an init_state(batch_size) method.")
        size = _size_of(cell)
        if num_hidden is None:
            if size is None:
                raise ValueError(
                    f"{cls}: `cell` has no int `size` (it is not a 1-D neuron layer such as "
                    "funcdyn.neurons.LIF(100)); pass `num_hidden`, the number of units."
                )
            num_hidden = size
        elif isinstance(num_hidden, bool) or not isinstance(num_hidden, int) or num_hidden < 1:
            raise ValueError(f"{cls}: `num_hidden` must be a positive int, got {num_hidden!r}.")
        elif size is not None and size != num_hidden:
            raise ValueError(
                f"{cls}: `num_hidden`={num_hidden} but the cell has {size} neurons."
            )
        if hasattr(cell, "W_rec"):
            raise ValueError(
                f"{cls}: `cell` has its own recurrent weights (W_rec); the network holds "
                "them. Pass the plain neuron (e.g. funcdyn.neurons.LIF instead of "
                "RecurrentLIF)."
            )
        for value, arg in ((num_in, "num_in"), (num_out, "num_out")):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{cls}: `{arg}` must be a positive int, got {value!r}.")
        if tau_out is not None:
            if isinstance(tau_out, bool) or not isinstance(tau_out, (int, float)):
                raise TypeError(f"{cls}: `tau_out` must be a positive float or None.")
            if not tau_out > 0:
                raise ValueError(f"{cls}: `tau_out` must be > 0, got {tau_out!r}.")
            tau_out = float(tau_out)
        for flag, arg in ((recurrent, "recurrent"), (self_connections, "self_connections")):
            if not isinstance(flag, bool):
                raise TypeError(f"{cls}: `{arg}` must be a bool, got {flag!r}.")
        self.mode = resolve_mode(mode)
        cell_mode = getattr(cell, "mode", None)
        if cell_mode is not None and cell_mode.is_batching != self.mode.is_batching:
            raise ValueError(
                f"{cls}: the network is in {self.mode} but `cell` is in {cell_mode}; both "
                "must batch or both not (build the cell in funcdyn.batching_mode or "
                "training_mode for a batching network)."
            )
        k_in, k_rec, k_out, k_b = (None,) * 4 if key is None else jax.random.split(key, 4)
        self.cell = cell
        self.num_in = int(num_in)
        self.num_hidden = num_hidden
        self.num_out = int(num_out)
        self.W_in = parameter(W_in_initializer, (num_in, num_hidden), name="W_in_initializer",
                              key=k_in)
        self.W_rec = (
            parameter(W_rec_initializer, (num_hidden, num_hidden), name="W_rec_initializer",
                      key=k_rec)
            if recurrent else None
        )
        self.W_out = parameter(W_out_initializer, (num_hidden, num_out),
                               name="W_out_initializer", key=k_out)
        self.b_out = parameter(b_out_initializer, (num_out,), name="b_out_initializer",
                               key=k_b, allow_none=True)
        self.self_connections = self_connections
        self.tau_out = tau_out
        self.name = name

    def readout_decay(self, dt: float) -> float:
        """$\\kappa = e^{-\\Delta t/\\tau_\\mathrm{out}}$ (0 without a leaky readout)."""
        return 0.0 if self.tau_out is None else math.exp(-dt / self.tau_out)

    def recurrent_weight(self) -> Array | None:
        """`W_rec` as the step uses it: with a zero diagonal unless `self_connections`."""
        if self.W_rec is None or self.self_connections:
            return self.W_rec
        mask = 1.0 - jnp.eye(self.num_hidden, dtype=self.W_rec.dtype)
        return self.W_rec * mask

    def init_state(self, batch_size: int | None = None, *, key=None) -> EPropState:
        """The cell's initial state, no previous output, a readout at 0."""
        self.check_batch_size(batch_size)
        cell = self.cell.init_state(batch_size, key=key)
        lead = () if batch_size is None else (int(batch_size),)
        dtype = self.W_out.dtype
        return EPropState(
            cell=cell,
            z=jnp.zeros(lead + (self.num_hidden,), dtype),
            y=jnp.zeros(lead + (self.num_out,), dtype),
        )

    def input_current(self, state: EPropState, x: Array) -> Array:
        """$I_t = x_t W_\\mathrm{in} + z_{t-1} W_\\mathrm{rec}$."""
        x = jnp.asarray(x)
        if x.shape[-1:] != (self.num_in,):
            raise ValueError(
                f"EPropNetwork: the input has shape {x.shape} but the network takes "
                f"{self.num_in} features on its last axis."
            )
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(self.W_in.dtype)
        I = x @ self.W_in
        W_rec = self.recurrent_weight()
        if W_rec is not None:
            I = I + state.z @ W_rec
        return I

    def readout(self, y_prev: Array, z: Array, dt: float) -> Array:
        """$y_t = \\kappa y_{t-1} + (1 - \\kappa)(z_t W_\\mathrm{out} + b_\\mathrm{out})$."""
        out = z @ self.W_out
        if self.b_out is not None:
            out = out + jnp.broadcast_to(self.b_out, out.shape)
        if self.tau_out is None:
            return out
        kappa = self.readout_decay(dt)
        return kappa * y_prev + (1.0 - kappa) * out

    def __call__(self, state: EPropState, x: Array, ctx: Context) -> tuple[EPropState, Array]:
        I = self.input_current(state, x)
        cell_state, z = self.cell(state.cell, I, ctx.child("cell"))
        y = self.readout(state.y, z, ctx.dt)
        return EPropState(cell=cell_state, z=z, y=y), y
