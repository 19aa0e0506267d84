"""The NMDA receptor synapse."""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from .._core._modes import Mode, resolve_mode
from ..conn import Connector, Projection
from ..init._parameter import ParamSpec
from ..synouts import MgBlock, SynOut
from ._base import bcast, decay_factor, DelayState, positive_parameter, Synapse


class NMDAState(eqx.Module):
    """The state of an [`funcdyn.synapses.NMDA`][] synapse, per presynaptic neuron.

    - `g`: the fraction of open channels, `(num_pre,)` or `(batch, num_pre)`.
    - `x`: the glutamate (rising) variable, same shape.
    - `delay`: the delay buffer, or `None`.
    """

    g: Array
    x: Array
    delay: DelayState | None


class NMDA(Synapse):
    r"""The NMDA receptor synapse: a saturating gating variable driven by a rising
    glutamate trace, with the voltage-dependent magnesium block as output:

    $$\frac{dg_i}{dt} = -\frac{g_i}{\tau_\mathrm{decay}} + a\,x_i\,(1 - g_i), \qquad
    \frac{dx_i}{dt} = -\frac{x_i}{\tau_\mathrm{rise}} + \sum_k \delta(t - t_i^k),$$

    $$I_j = \mathrm{output}\Big(\sum_i w_{ij}\, g_i,\; V_j\Big).$$

    The gating is nonlinear, so it lives on the presynaptic side (one `g` per
    presynaptic neuron, shared by its out-connections) and the weighted sum visits every
    connection each step.

    **Step:** `g` by exponential Euler with `x` held over the step (exact for the
    frozen `x`: `g <- g_inf + (g - g_inf) exp(-k dt)`, `k = 1/tau_decay + a x`,
    `g_inf = a x / k`), then `x <- x exp(-dt/tau_rise)` plus this step's spikes, then
    `I = output(g W, V)`.

    **Arguments:**

    - `tau_decay` (default `100.0` ms), `tau_rise` (default `2.0` ms), `a` (default
      `0.5` 1/ms): floats or one per presynaptic neuron; trainable in training mode.
    - `g_max`: default `0.15`. `output`: default [`funcdyn.synouts.MgBlock`][]`(E=0.0)`
      (needs `x = (spikes, V_post)`).
    - `num_pre`, `num_post`, `conn`, `delay_steps`, `mode`, `name`, `key`: see
      [`funcdyn.synapses.Synapse`][].
    """

    tau_decay: Array
    tau_rise: Array
    a: Array

    def __init__(
        self,
        num_pre: int,
        num_post: int,
        conn: Connector | Projection | None = None,
        g_max: ParamSpec = 0.15,
        tau_decay: ParamSpec = 100.0,
        tau_rise: ParamSpec = 2.0,
        a: ParamSpec = 0.5,
        output: SynOut | None = None,
        delay_steps: int = 0,
        *,
        mode: Mode | None = None,
        name: str | None = None,
        key: PRNGKeyArray | None = None,
    ):
        who = type(self).__name__
        self._setup(num_pre, num_post, conn, g_max, MgBlock() if output is None else output,
                    delay_steps, key)
        shape = (self.num_pre,)
        self.tau_decay = positive_parameter(tau_decay, shape, "tau_decay", who)
        self.tau_rise = positive_parameter(tau_rise, shape, "tau_rise", who)
        self.a = positive_parameter(a, shape, "a", who)
        self.mode = resolve_mode(mode)
        self.name = name

    def init_state(self, batch_size: int | None = None, *, key=None) -> NMDAState:
        """All channels closed, no glutamate, an empty delay buffer."""
        self.check_batch_size(batch_size)
        zeros = self._zeros(batch_size, self.num_pre)
        return NMDAState(g=zeros, x=zeros, delay=self._init_delay(batch_size))

    def __call__(self, state: NMDAState, x, ctx: Context) -> tuple[NMDAState, Array]:
        spikes, V = self._inputs(x)
        delay, spikes = self._delay(state.delay, spikes)
        shape = state.g.shape
        ax = bcast(self.a, shape) * state.x
        k = bcast(1.0 / self.tau_decay, shape) + ax
        g_inf = ax / k
        g = g_inf + (state.g - g_inf) * jnp.exp(-ctx.dt * k)
        glutamate = state.x * decay_factor(self.tau_rise, ctx.dt, shape) + spikes
        current = self._output(self._project(g, event=False), V)
        return NMDAState(g=g, x=glutamate, delay=delay), current
