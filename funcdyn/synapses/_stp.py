"""Short-term plasticity (Tsodyks-Markram): facilitation and depression."""

import equinox as eqx
import jax
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from ..init import parameter
from ..typing import ParamSpec
from ._base import AbstractSynapse, bcast, decay_factor, DelayState, positive_parameter


class STPState(eqx.Module):
    """The state of an [`funcdyn.synapses.STP`][] synapse.

    - `u`: the release probability (facilitation), per presynaptic neuron.
    - `x`: the available resources (depression), per presynaptic neuron.
    - `g`: the postsynaptic conductance, per postsynaptic neuron.
    - `delay`: the delay buffer, or `None`.

    Shapes: `(num,)`, or `(batch, num)` in a batching mode.
    """

    u: Array
    x: Array
    g: Array
    delay: DelayState | None


def check_fraction(value, name: str, who: str, shape) -> Array:
    """A parameter broadcastable to `shape` with values in `(0, 1]`."""
    array = parameter(value, shape, name=name, broadcast=True)
    try:
        values = np.asarray(array)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return array
    if not np.all((values > 0) & (values <= 1)):
        raise ValueError(f"{who}: `{name}` must lie in (0, 1], got {value!r}.")
    return array


class STP(AbstractSynapse):
    r"""Short-term facilitation and depression (Tsodyks, Pawelzik & Markram 1998), with
    an exponentially decaying postsynaptic conductance:

    $$\frac{du_i}{dt} = -\frac{u_i}{\tau_f}, \qquad
    \frac{dx_i}{dt} = \frac{1 - x_i}{\tau_d}, \qquad
    \tau \frac{dg_j}{dt} = -g_j + \tau \sum_i w_{ij} \sum_k r_i^k\, \delta(t - t_i^k),$$

    and at a spike of neuron $i$: $u_i \leftarrow u_i + U(1 - u_i)$, the released
    fraction $r_i = u_i x_i$ (with the increased $u_i$), $x_i \leftarrow x_i - r_i$.
    $I_j = \mathrm{output}(g_j, V_j)$.

    **Step:** `u` and `x` relax exactly over `dt`; this step's spikes `s` (0/1) update
    them (`u <- u + U (1 - u) s`, `r = u x s`, `x <- x - r`, differentiable in `s`);
    `g <- g exp(-dt/tau) + r W` (event-driven: `r` is non-zero only where `s` is); then
    `I = output(g, V)`. Initially `u = 0` and `x = 1`, so the first spike releases `U`.

    **Arguments:**

    - `U`: the release increment, in `(0, 1]` (default `0.15`).
    - `tau_f` (default `1500.0` ms), `tau_d` (default `200.0` ms): facilitation and
      recovery time constants, per presynaptic neuron; `tau` (default `8.0` ms): the
      conductance decay, per postsynaptic neuron. All > 0, trainable in training mode.
    - `num_pre`, `num_post`, `conn`, `g_max` (default `1.0`), `output` (default CUBA),
      `delay_steps`, `mode`, `name`, `key`: see [`funcdyn.synapses.AbstractSynapse`][].
    """

    U: Array
    tau_f: Array
    tau_d: Array
    tau: Array

    state_cls = STPState
    state_variables = {"u": ("pre", 0.0), "x": ("pre", 1.0), "g": ("post", 0.0)}

    def __init__(self, num_pre, num_post, conn=None, *, U: ParamSpec = 0.15,
                 tau_f: ParamSpec = 1500.0, tau_d: ParamSpec = 200.0, tau: ParamSpec = 8.0,
                 key: PRNGKeyArray | None = None, **options):
        super().__init__(num_pre, num_post, conn, key=key, **options)
        who = type(self).__name__
        self.U = check_fraction(U, "U", who, (self.num_pre,))
        self.tau_f = positive_parameter(tau_f, (self.num_pre,), "tau_f", who)
        self.tau_d = positive_parameter(tau_d, (self.num_pre,), "tau_d", who)
        self.tau = positive_parameter(tau, (self.num_post,), "tau", who)

    def update(self, state: STPState, spikes: Array, ctx: Context):
        shape = state.u.shape
        u = state.u * decay_factor(self.tau_f, ctx.dt, shape)
        resources = 1.0 - (1.0 - state.x) * decay_factor(self.tau_d, ctx.dt, shape)
        u = u + bcast(self.U, shape) * (1.0 - u) * spikes
        released = u * resources * spikes
        g = state.g * decay_factor(self.tau, ctx.dt, state.g.shape)
        g = g + self._project(released, event=True)
        return {"u": u, "x": resources - released, "g": g}, g
