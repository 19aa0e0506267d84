"""The NMDA receptor synapse."""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from ..typing import ParamSpec
from ..synouts import MgBlock, SynOut
from ._base import AbstractSynapse, bcast, decay_factor, DelayState, positive_parameter


class NMDAState(eqx.Module):
    """The state of an [`funcdyn.synapses.NMDA`][] synapse, per presynaptic neuron.

    - `g`: the fraction of open channels, `(num_pre,)` or `(batch, num_pre)`.
    - `x`: the glutamate (rising) variable, same shape.
    - `delay`: the delay buffer, or `None`.
    """

    g: Array
    x: Array
    delay: DelayState | None


class NMDA(AbstractSynapse):
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
      [`funcdyn.synapses.AbstractSynapse`][].
    """

    tau_decay: Array
    tau_rise: Array
    a: Array

    state_cls = NMDAState
    state_variables = {"g": ("pre", 0.0), "x": ("pre", 0.0)}

    def __init__(self, num_pre, num_post, conn=None, *, g_max: ParamSpec = 0.15,
                 tau_decay: ParamSpec = 100.0, tau_rise: ParamSpec = 2.0, a: ParamSpec = 0.5,
                 output: SynOut | None = None, key: PRNGKeyArray | None = None, **options):
        super().__init__(num_pre, num_post, conn, g_max=g_max,
                         output=MgBlock() if output is None else output, key=key, **options)
        who, shape = type(self).__name__, (self.num_pre,)
        self.tau_decay = positive_parameter(tau_decay, shape, "tau_decay", who)
        self.tau_rise = positive_parameter(tau_rise, shape, "tau_rise", who)
        self.a = positive_parameter(a, shape, "a", who)

    def update(self, state: NMDAState, spikes: Array, ctx: Context):
        shape = state.g.shape
        ax = bcast(self.a, shape) * state.x
        k = bcast(1.0 / self.tau_decay, shape) + ax
        g_inf = ax / k
        g = g_inf + (state.g - g_inf) * jnp.exp(-ctx.dt * k)
        glutamate = state.x * decay_factor(self.tau_rise, ctx.dt, shape) + spikes
        return {"g": g, "x": glutamate}, self._project(g, event=False)
