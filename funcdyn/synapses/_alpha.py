"""The alpha-function synapse."""

from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from ..typing import ParamSpec
from ._base import AbstractSynapse, positive_parameter
from ._dual_exponential import DualExponentialState, rise_decay_step


class Alpha(AbstractSynapse):
    r"""The alpha-function synapse: the dual exponential with equal rise and decay,

    $$\frac{dg}{dt} = -\frac{g}{\tau} + h, \qquad
    \frac{dh}{dt} = -\frac{h}{\tau} + \sum_i w_{ij} \sum_k \delta(t - t_i^k).$$

    After one spike of weight $w$: $g(t) = w\,t\,e^{-t/\tau}$, peaking at $t = \tau$
    with $w\tau/e$. The step is as in [`funcdyn.synapses.DualExponential`][] (exact
    integration, spikes added to `h` at the end of the step); the state is a
    [`funcdyn.synapses.DualExponentialState`][].

    **Arguments:** `tau` (ms, > 0, default `8.0`; a float or one per postsynaptic
    neuron), and `num_pre`, `num_post`, `conn`, `g_max`, `output`, `delay_steps`,
    `mode`, `name`, `key` as in [`funcdyn.synapses.AbstractSynapse`][].
    """

    tau: Array

    state_cls = DualExponentialState
    state_variables = {"g": ("post", 0.0), "h": ("post", 0.0)}

    def __init__(self, num_pre, num_post, conn=None, *, tau: ParamSpec = 8.0,
                 key: PRNGKeyArray | None = None, **options):
        super().__init__(num_pre, num_post, conn, key=key, **options)
        self.tau = positive_parameter(tau, (self.num_post,), "tau", type(self).__name__)

    def update(self, state: DualExponentialState, spikes: Array, ctx: Context):
        g, h = rise_decay_step(state.g, state.h, self.tau, self.tau, ctx.dt)
        return {"g": g, "h": h + self._project(spikes, event=True)}, g
