"""The delta (instantaneous) synapse."""

import equinox as eqx
from jaxtyping import Array

from .._core._context import Context
from ._base import AbstractSynapse, DelayState


class DeltaState(eqx.Module):
    """The state of a [`funcdyn.synapses.Delta`][] synapse: only its delay buffer
    (`None` without a delay)."""

    delay: DelayState | None


class Delta(AbstractSynapse):
    r"""An instantaneous synapse: each spike delivers its weight within the step,

    $$g_j(t) = \sum_i w_{ij}\, s_i(t - D\,\Delta t), \qquad I = \mathrm{output}(g, V).$$

    With [`funcdyn.synouts.CUBA`][] the current is a one-step pulse of height `g_max`
    per spike (a neuron integrating it over `dt` with membrane time constant `tau` and
    resistance `R` jumps by about `R g_max dt / tau`). No state besides the delay.

    **Arguments:** `num_pre`, `num_post`, `conn`, `g_max` (default `1.0`), `output`
    (default CUBA), `delay_steps`, `mode`, `name`, `key`: see
    [`funcdyn.synapses.AbstractSynapse`][].

    ```python
    syn = funcdyn.synapses.Delta(100, 100, conn=funcdyn.conn.FixedProb(0.1, seed=0), g_max=0.5)
    state, I = syn(syn.init_state(), spikes, ctx)
    ```
    """

    state_cls = DeltaState
    state_variables = {}

    def __init__(self, num_pre, num_post, conn=None, **options):
        super().__init__(num_pre, num_post, conn, **options)

    def update(self, state: DeltaState, spikes: Array, ctx: Context):
        return {}, self._project(spikes, event=True)
