"""The delta (instantaneous) synapse."""

import equinox as eqx
from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from .._core._modes import Mode, resolve_mode
from ..conn import Connector, Projection
from ..init._parameter import ParamSpec
from ..synouts import SynOut
from ._base import DelayState, Synapse


class DeltaState(eqx.Module):
    """The state of a [`funcdyn.synapses.Delta`][] synapse: only its delay buffer
    (`None` without a delay)."""

    delay: DelayState | None


class Delta(Synapse):
    r"""An instantaneous synapse: each spike delivers its weight within the step,

    $$g_j(t) = \sum_i w_{ij}\, s_i(t - D\,\Delta t), \qquad I = \mathrm{output}(g, V).$$

    With [`funcdyn.synouts.CUBA`][] the current is a one-step pulse of height `g_max`
    per spike (a neuron integrating it over `dt` with membrane time constant `tau` and
    resistance `R` jumps by about `R g_max dt / tau`). No state besides the delay.

    **Arguments:** `num_pre`, `num_post`, `conn`, `g_max` (default `1.0`), `output`
    (default CUBA), `delay_steps`, `mode`, `name`, `key`: see
    [`funcdyn.synapses.Synapse`][].

    ```python
    syn = funcdyn.synapses.Delta(100, 100, conn=funcdyn.conn.FixedProb(0.1, seed=0), g_max=0.5)
    state, I = syn(syn.init_state(), spikes, ctx)
    ```
    """

    def __init__(
        self,
        num_pre: int,
        num_post: int,
        conn: Connector | Projection | None = None,
        g_max: ParamSpec = 1.0,
        output: SynOut | None = None,
        delay_steps: int = 0,
        *,
        mode: Mode | None = None,
        name: str | None = None,
        key: PRNGKeyArray | None = None,
    ):
        self._setup(num_pre, num_post, conn, g_max, output, delay_steps, key)
        self.mode = resolve_mode(mode)
        self.name = name

    def init_state(self, batch_size: int | None = None, *, key=None) -> DeltaState:
        """The empty delay buffer (or `None` inside the state without a delay)."""
        self.check_batch_size(batch_size)
        return DeltaState(delay=self._init_delay(batch_size))

    def __call__(self, state: DeltaState, x, ctx: Context) -> tuple[DeltaState, Array]:
        spikes, V = self._inputs(x)
        delay, spikes = self._delay(state.delay, spikes)
        g = self._project(spikes, event=True)
        return DeltaState(delay=delay), self._output(g, V)
