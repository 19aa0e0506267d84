"""The alpha-function synapse."""

from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from .._core._modes import Mode, resolve_mode
from ..conn import Connector, Projection
from ..init._parameter import ParamSpec
from ..synouts import SynOut
from ._base import positive_parameter, Synapse
from ._dual_exponential import DualExponentialState, rise_decay_step


class Alpha(Synapse):
    r"""The alpha-function synapse: the dual exponential with equal rise and decay,

    $$\frac{dg}{dt} = -\frac{g}{\tau} + h, \qquad
    \frac{dh}{dt} = -\frac{h}{\tau} + \sum_i w_{ij} \sum_k \delta(t - t_i^k).$$

    After one spike of weight $w$: $g(t) = w\,t\,e^{-t/\tau}$, peaking at $t = \tau$
    with $w\tau/e$. The step is as in [`funcdyn.synapses.DualExponential`][] (exact
    integration, spikes added to `h` at the end of the step); the state is a
    [`funcdyn.synapses.DualExponentialState`][].

    **Arguments:** `tau` (ms, > 0, default `8.0`; a float or one per postsynaptic
    neuron), and `num_pre`, `num_post`, `conn`, `g_max`, `output`, `delay_steps`,
    `mode`, `name`, `key` as in [`funcdyn.synapses.Synapse`][].
    """

    tau: Array

    def __init__(
        self,
        num_pre: int,
        num_post: int,
        conn: Connector | Projection | None = None,
        g_max: ParamSpec = 1.0,
        tau: ParamSpec = 8.0,
        output: SynOut | None = None,
        delay_steps: int = 0,
        *,
        mode: Mode | None = None,
        name: str | None = None,
        key: PRNGKeyArray | None = None,
    ):
        self._setup(num_pre, num_post, conn, g_max, output, delay_steps, key)
        self.tau = positive_parameter(tau, (self.num_post,), "tau", type(self).__name__)
        self.mode = resolve_mode(mode)
        self.name = name

    def init_state(self, batch_size: int | None = None, *, key=None) -> DualExponentialState:
        """Zero `g` and `h`, an empty delay buffer."""
        self.check_batch_size(batch_size)
        zeros = self._zeros(batch_size, self.num_post)
        return DualExponentialState(g=zeros, h=zeros, delay=self._init_delay(batch_size))

    def __call__(self, state: DualExponentialState, x, ctx: Context):
        spikes, V = self._inputs(x)
        delay, spikes = self._delay(state.delay, spikes)
        g, h = rise_decay_step(state.g, state.h, self.tau, self.tau, ctx.dt)
        h = h + self._project(spikes, event=True)
        return DualExponentialState(g=g, h=h, delay=delay), self._output(g, V)
