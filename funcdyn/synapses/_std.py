"""Short-term depression (Tsodyks-Markram without facilitation)."""

import equinox as eqx
from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from ..typing import ParamSpec
from ._base import AbstractSynapse, bcast, decay_factor, DelayState, positive_parameter
from ._stp import check_fraction


class STDState(eqx.Module):
    """The state of an [`funcdyn.synapses.STD`][] synapse.

    - `x`: the available resources, per presynaptic neuron.
    - `g`: the postsynaptic conductance, per postsynaptic neuron.
    - `delay`: the delay buffer, or `None`.
    """

    x: Array
    g: Array
    delay: DelayState | None


class STD(AbstractSynapse):
    r"""Short-term depression (Tsodyks & Markram 1997): each spike releases a fixed
    fraction `U` of the available resources, which recover with `tau_d`:

    $$\frac{dx_i}{dt} = \frac{1 - x_i}{\tau_d}, \qquad
    \tau \frac{dg_j}{dt} = -g_j + \tau \sum_i w_{ij} \sum_k U x_i(t_i^k)\, \delta(t - t_i^k),$$

    and $x_i \leftarrow x_i (1 - U)$ at each spike. $I_j = \mathrm{output}(g_j, V_j)$.

    **Step:** `x` relaxes exactly over `dt`; `r = U x s` for this step's spikes `s`,
    `x <- x - r`; `g <- g exp(-dt/tau) + r W` (event-driven); `I = output(g, V)`.
    Initially `x = 1`.

    **Arguments:**

    - `U`: the released fraction, in `(0, 1]` (default `0.5`), per presynaptic neuron.
    - `tau_d` (default `200.0` ms, per presynaptic neuron), `tau` (default `8.0` ms,
      per postsynaptic neuron): > 0, trainable in training mode.
    - `num_pre`, `num_post`, `conn`, `g_max` (default `1.0`), `output` (default CUBA),
      `delay_steps`, `mode`, `name`, `key`: see [`funcdyn.synapses.AbstractSynapse`][].
    """

    U: Array
    tau_d: Array
    tau: Array

    state_cls = STDState
    state_variables = {"x": ("pre", 1.0), "g": ("post", 0.0)}

    def __init__(self, num_pre, num_post, conn=None, *, U: ParamSpec = 0.5,
                 tau_d: ParamSpec = 200.0, tau: ParamSpec = 8.0,
                 key: PRNGKeyArray | None = None, **options):
        super().__init__(num_pre, num_post, conn, key=key, **options)
        who = type(self).__name__
        self.U = check_fraction(U, "U", who, (self.num_pre,))
        self.tau_d = positive_parameter(tau_d, (self.num_pre,), "tau_d", who)
        self.tau = positive_parameter(tau, (self.num_post,), "tau", who)

    def update(self, state: STDState, spikes: Array, ctx: Context):
        shape = state.x.shape
        resources = 1.0 - (1.0 - state.x) * decay_factor(self.tau_d, ctx.dt, shape)
        released = bcast(self.U, shape) * resources * spikes
        g = state.g * decay_factor(self.tau, ctx.dt, state.g.shape)
        g = g + self._project(released, event=True)
        return {"x": resources - released, "g": g}, g
