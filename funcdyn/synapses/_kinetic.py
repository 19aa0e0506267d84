"""Kinetic receptor models (Destexhe, Mainen & Sejnowski 1994): AMPA and GABA_A."""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from ..typing import ParamSpec
from ..synouts import COBA, SynOut
from ._base import AbstractSynapse, bcast, DelayState, positive_parameter


class KineticState(eqx.Module):
    """The state of an [`funcdyn.synapses.AMPA`][] or [`funcdyn.synapses.GABAa`][]
    synapse, per presynaptic neuron.

    - `g`: the fraction of open receptors, `(num_pre,)` or `(batch, num_pre)`.
    - `release`: the time (ms) the transmitter pulse still lasts, same shape.
    - `delay`: the delay buffer, or `None`.
    """

    g: Array
    release: Array
    delay: DelayState | None


_KINETIC_DOC = r"""

    $$\frac{dg_i}{dt} = \alpha\,[T]_i\,(1 - g_i) - \beta\,g_i, \qquad
    I_j = \mathrm{output}\Big(\sum_i w_{ij}\, g_i,\; V_j\Big),$$

    where a presynaptic spike releases a transmitter pulse $[T]_i = T$ lasting
    `T_duration` ms (`round(T_duration / dt)` steps, starting with the next step), and
    $[T]_i = 0$ otherwise. The receptors live on the presynaptic side, so the weighted
    sum visits every connection each step.

    **Step:** `g` is integrated exactly for the step's (constant) $[T]$:
    `g <- g_inf + (g - g_inf) exp(-k dt)`, `k = alpha [T] + beta`, `g_inf = alpha [T] /
    k`; a spike in this step starts a new pulse; then `I = output(g W, V)`.

    **Arguments:**

    - `alpha` (1/(mM ms)), `beta` (1/ms), `T` (mM), `T_duration` (ms): floats or one
      per presynaptic neuron (> 0); trainable in training mode.
    - `num_pre`, `num_post`, `conn`, `g_max`, `output` (default COBA with the reversal
      potential `E`), `delay_steps`, `mode`, `name`, `key`: see
      [`funcdyn.synapses.AbstractSynapse`][]. The default output needs `x = (spikes, V_post)`.
    """


class _AbstractKinetic(AbstractSynapse):
    alpha: Array
    beta: Array
    T: Array
    T_duration: Array

    state_cls = KineticState
    state_variables = {"g": ("pre", 0.0), "release": ("pre", 0.0)}

    def __init__(self, num_pre, num_post, conn=None, *, alpha, beta, T, T_duration,
                 E: float, output: SynOut | None = None, key: PRNGKeyArray | None = None,
                 **options):
        super().__init__(num_pre, num_post, conn, output=COBA(E=E) if output is None else output,
                         key=key, **options)
        who, shape = type(self).__name__, (self.num_pre,)
        self.alpha = positive_parameter(alpha, shape, "alpha", who)
        self.beta = positive_parameter(beta, shape, "beta", who)
        self.T = positive_parameter(T, shape, "T", who)
        self.T_duration = positive_parameter(T_duration, shape, "T_duration", who)

    def update(self, state: KineticState, spikes: Array, ctx: Context):
        shape = state.g.shape
        # Half a step of slack absorbs the rounding of the repeated `- dt`.
        on = state.release > 0.5 * ctx.dt
        T = jnp.where(on, bcast(self.T, shape), jnp.zeros((), state.g.dtype))
        alpha_T = bcast(self.alpha, shape) * T
        k = alpha_T + bcast(self.beta, shape)
        g_inf = alpha_T / k
        g = g_inf + (state.g - g_inf) * jnp.exp(-ctx.dt * k)
        release = jnp.where(spikes > 0, bcast(self.T_duration, shape), state.release - ctx.dt)
        return {"g": g, "release": release}, self._project(g, event=False)


class AMPA(_AbstractKinetic):
    __doc__ = (
        r"""The AMPA receptor synapse (fast excitation), a kinetic model:"""
        + _KINETIC_DOC
        + r"""
    Defaults: `alpha=0.98`, `beta=0.18`, `T=0.5`, `T_duration=0.5`, `g_max=0.42`,
    `E=0.0` mV.

    ```python
    syn = funcdyn.synapses.AMPA(100, 100, conn=funcdyn.conn.FixedProb(0.1, seed=0))
    state, I = syn(syn.init_state(), (spikes, V_post), ctx)
    ```
    """
    )

    def __init__(self, num_pre, num_post, conn=None, *, g_max: ParamSpec = 0.42,
                 alpha: ParamSpec = 0.98, beta: ParamSpec = 0.18, T: ParamSpec = 0.5,
                 T_duration: ParamSpec = 0.5, E: float = 0.0, **options):
        super().__init__(num_pre, num_post, conn, g_max=g_max, alpha=alpha, beta=beta, T=T,
                         T_duration=T_duration, E=E, **options)


class GABAa(_AbstractKinetic):
    __doc__ = (
        r"""The GABA_A receptor synapse (fast inhibition), a kinetic model:"""
        + _KINETIC_DOC
        + r"""
    Defaults: `alpha=0.53`, `beta=0.18`, `T=1.0`, `T_duration=1.0`, `g_max=0.04`,
    `E=-80.0` mV.
    """
    )

    def __init__(self, num_pre, num_post, conn=None, *, g_max: ParamSpec = 0.04,
                 alpha: ParamSpec = 0.53, beta: ParamSpec = 0.18, T: ParamSpec = 1.0,
                 T_duration: ParamSpec = 1.0, E: float = -80.0, **options):
        super().__init__(num_pre, num_post, conn, g_max=g_max, alpha=alpha, beta=beta, T=T,
                         T_duration=T_duration, E=E, **options)
