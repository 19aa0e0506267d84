"""Short-term depression (Tsodyks-Markram without facilitation)."""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from .._core._modes import Mode, resolve_mode
from ..conn import Connector, Projection
from ..init._parameter import ParamSpec
from ..synouts import SynOut
from ._base import bcast, decay_factor, DelayState, positive_parameter, Synapse
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


class STD(Synapse):
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
      `delay_steps`, `mode`, `name`, `key`: see [`funcdyn.synapses.Synapse`][].
    """

    U: Array
    tau_d: Array
    tau: Array

    def __init__(
        self,
        num_pre: int,
        num_post: int,
        conn: Connector | Projection | None = None,
        g_max: ParamSpec = 1.0,
        U: ParamSpec = 0.5,
        tau_d: ParamSpec = 200.0,
        tau: ParamSpec = 8.0,
        output: SynOut | None = None,
        delay_steps: int = 0,
        *,
        mode: Mode | None = None,
        name: str | None = None,
        key: PRNGKeyArray | None = None,
    ):
        who = type(self).__name__
        self._setup(num_pre, num_post, conn, g_max, output, delay_steps, key)
        self.U = check_fraction(U, "U", who, (self.num_pre,))
        self.tau_d = positive_parameter(tau_d, (self.num_pre,), "tau_d", who)
        self.tau = positive_parameter(tau, (self.num_post,), "tau", who)
        self.mode = resolve_mode(mode)
        self.name = name

    def init_state(self, batch_size: int | None = None, *, key=None) -> STDState:
        """`x = 1`, `g = 0`, an empty delay buffer."""
        self.check_batch_size(batch_size)
        pre = self._zeros(batch_size, self.num_pre)
        return STDState(x=jnp.ones_like(pre), g=self._zeros(batch_size, self.num_post),
                        delay=self._init_delay(batch_size))

    def __call__(self, state: STDState, x, ctx: Context) -> tuple[STDState, Array]:
        spikes, V = self._inputs(x)
        delay, spikes = self._delay(state.delay, spikes)
        shape = state.x.shape
        resources = 1.0 - (1.0 - state.x) * decay_factor(self.tau_d, ctx.dt, shape)
        released = bcast(self.U, shape) * resources * spikes
        resources = resources - released
        g = state.g * decay_factor(self.tau, ctx.dt, state.g.shape)
        g = g + self._project(released, event=True)
        return STDState(x=resources, g=g, delay=delay), self._output(g, V)
