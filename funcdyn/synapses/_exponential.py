"""The single-exponential synapse."""

import equinox as eqx
from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from ..typing import ParamSpec
from ._base import AbstractSynapse, decay_factor, DelayState, positive_parameter


class ExponentialState(eqx.Module):
    """The state of an [`funcdyn.synapses.Exponential`][] synapse.

    - `g`: the conductance of each postsynaptic neuron, `(num_post,)` or
      `(batch, num_post)`.
    - `delay`: the delay buffer, or `None`.
    """

    g: Array
    delay: DelayState | None


class Exponential(AbstractSynapse):
    r"""A synapse whose conductance jumps by the weight at each spike and decays
    exponentially:

    $$\tau \frac{dg_j}{dt} = -g_j + \tau \sum_i w_{ij} \sum_k \delta(t - t_i^k),
    \qquad I_j = \mathrm{output}(g_j, V_j).$$

    **Step:** `g <- g * exp(-dt / tau) + x W` (the decay is integrated exactly; the
    spikes of this step are added at its end), then `I = output(g, V)`. A spike in step
    `n` gives `g = w exp(-(m - n) dt / tau)` in every step `m >= n`.

    The conductance lives on the postsynaptic side, so with a sparse connectivity only
    the out-edges of the neurons that spiked are visited each step.

    **Arguments:**

    - `num_pre`, `num_post`, `conn` (default All2All), `g_max` (default `1.0`),
      `output` (default CUBA), `delay_steps`, `mode`, `name`, `key`: see
      [`funcdyn.synapses.AbstractSynapse`][].
    - `tau`: the decay time constant (ms, > 0), default `8.0`; a float or one per
      postsynaptic neuron. An array leaf: trainable in training mode.

    ```python
    syn = funcdyn.synapses.Exponential(
        100, 50, g_max=funcdyn.init.KaimingNormal(scale=20.0), tau=10.0, key=key
    )
    state, I = syn(syn.init_state(), spikes, funcdyn.Context(dt=1.0))
    ```
    """

    tau: Array

    state_cls = ExponentialState
    state_variables = {"g": ("post", 0.0)}

    def __init__(self, num_pre, num_post, conn=None, *, tau: ParamSpec = 8.0,
                 key: PRNGKeyArray | None = None, **options):
        super().__init__(num_pre, num_post, conn, key=key, **options)
        self.tau = positive_parameter(tau, (self.num_post,), "tau", type(self).__name__)

    def update(self, state: ExponentialState, spikes: Array, ctx: Context):
        g = state.g * decay_factor(self.tau, ctx.dt, state.g.shape)
        g = g + self._project(spikes, event=True)
        return {"g": g}, g
