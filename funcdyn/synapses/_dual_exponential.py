"""The dual-exponential synapse."""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from ..typing import ParamSpec
from ._base import AbstractSynapse, bcast, decay_factor, DelayState, positive_parameter


class DualExponentialState(eqx.Module):
    """The state of a [`funcdyn.synapses.DualExponential`][] or
    [`funcdyn.synapses.Alpha`][] synapse.

    - `g`: the conductance, `(num_post,)` or `(batch, num_post)`.
    - `h`: the rising variable that the spikes increment, same shape.
    - `delay`: the delay buffer, or `None`.
    """

    g: Array
    h: Array
    delay: DelayState | None


def _relative_growth(z: Array) -> Array:
    """`(1 - exp(-z)) / z`, finite at `z = 0` (where it is 1)."""
    small = jnp.abs(z) < 1e-4
    safe = jnp.where(small, jnp.ones_like(z), z)
    return jnp.where(small, 1.0 - 0.5 * z, -jnp.expm1(-safe) / safe)


def rise_decay_step(g: Array, h: Array, tau_rise: Array, tau_decay: Array, dt: float):
    """The exact solution over `dt` of `dg/dt = -g/tau_decay + h`, `dh/dt = -h/tau_rise`.

    `g(dt) = g e^{-dt/td} + h dt e^{-dt/td} (1 - e^{-a dt}) / (a dt)` with
    `a = 1/tr - 1/td`; for `tr == td` (the alpha function) the fraction is 1.
    """
    shape = g.shape
    decay_g = decay_factor(tau_decay, dt, shape)
    decay_h = decay_factor(tau_rise, dt, shape)
    a = bcast(1.0 / tau_rise - 1.0 / tau_decay, shape)
    g = g * decay_g + h * (dt * decay_g * _relative_growth(a * dt))
    return g, h * decay_h


class DualExponential(AbstractSynapse):
    r"""A synapse with separate rise and decay time constants:

    $$\frac{dg}{dt} = -\frac{g}{\tau_\mathrm{decay}} + h, \qquad
    \frac{dh}{dt} = -\frac{h}{\tau_\mathrm{rise}} + \sum_i w_{ij} \sum_k \delta(t - t_i^k),
    \qquad I = \mathrm{output}(g, V).$$

    After one spike of weight $w$ the conductance is
    $g(t) = w\,\frac{\tau_r \tau_d}{\tau_d - \tau_r}\,(e^{-t/\tau_d} - e^{-t/\tau_r})$,
    peaking at $t^* = \frac{\tau_r \tau_d}{\tau_d - \tau_r}\ln(\tau_d/\tau_r)$.

    **Step:** the linear system is integrated exactly over `dt`, then the spikes of the
    step are added to `h` (so `g` starts rising in the next step), then
    `I = output(g, V)`.

    **Arguments:**

    - `num_pre`, `num_post`, `conn`, `g_max` (default `1.0`), `output` (default CUBA),
      `delay_steps`, `mode`, `name`, `key`: see [`funcdyn.synapses.AbstractSynapse`][].
    - `tau_rise` (default `1.0` ms), `tau_decay` (default `10.0` ms): time constants,
      > 0, a float or one per postsynaptic neuron; trainable in training mode.
    """

    tau_rise: Array
    tau_decay: Array

    state_cls = DualExponentialState
    state_variables = {"g": ("post", 0.0), "h": ("post", 0.0)}

    def __init__(self, num_pre, num_post, conn=None, *, tau_rise: ParamSpec = 1.0,
                 tau_decay: ParamSpec = 10.0, key: PRNGKeyArray | None = None, **options):
        super().__init__(num_pre, num_post, conn, key=key, **options)
        who = type(self).__name__
        self.tau_rise = positive_parameter(tau_rise, (self.num_post,), "tau_rise", who)
        self.tau_decay = positive_parameter(tau_decay, (self.num_post,), "tau_decay", who)

    def update(self, state: DualExponentialState, spikes: Array, ctx: Context):
        g, h = rise_decay_step(state.g, state.h, self.tau_rise, self.tau_decay, ctx.dt)
        return {"g": g, "h": h + self._project(spikes, event=True)}, g
