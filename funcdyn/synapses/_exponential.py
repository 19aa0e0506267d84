"""The single-exponential synapse."""

import equinox as eqx
from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from .._core._modes import Mode, resolve_mode
from ..conn import Connector, Projection
from ..init._parameter import ParamSpec
from ..synouts import SynOut
from ._base import decay_factor, DelayState, positive_parameter, Synapse


class ExponentialState(eqx.Module):
    """The state of an [`funcdyn.synapses.Exponential`][] synapse.

    - `g`: the conductance of each postsynaptic neuron, `(num_post,)` or
      `(batch, num_post)`.
    - `delay`: the delay buffer, or `None`.
    """

    g: Array
    delay: DelayState | None


class Exponential(Synapse):
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
      [`funcdyn.synapses.Synapse`][].
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

    def init_state(self, batch_size: int | None = None, *, key=None) -> ExponentialState:
        """Zero conductance and an empty delay buffer."""
        self.check_batch_size(batch_size)
        return ExponentialState(
            g=self._zeros(batch_size, self.num_post), delay=self._init_delay(batch_size)
        )

    def __call__(self, state: ExponentialState, x, ctx: Context) -> tuple[ExponentialState, Array]:
        spikes, V = self._inputs(x)
        delay, spikes = self._delay(state.delay, spikes)
        g = state.g * decay_factor(self.tau, ctx.dt, state.g.shape)
        g = g + self._project(spikes, event=True)
        return ExponentialState(g=g, delay=delay), self._output(g, V)
