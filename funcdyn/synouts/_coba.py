"""Conductance-based output."""

from typing import ClassVar

from jaxtyping import Array, ArrayLike

from ._base import _bcast, _reversal, SynOut


class COBA(SynOut):
    r"""Conductance-based output with reversal potential $E$:

    $$I = g\,(E - V).$$

    The current depends on the postsynaptic potential $V$: call the synapse with
    `x = (spikes, V_post)`.

    **Arguments:**

    - `E`: the reversal potential (mV): a float (default `0.0`) or a per-neuron array.
      An array leaf: trainable in a training-mode synapse.

    ```python
    syn = funcdyn.synapses.Exponential(3200, 4000, conn=funcdyn.conn.FixedProb(0.02),
                                       g_max=0.6, tau=5.0,
                                       output=funcdyn.synouts.COBA(E=0.0), key=key)
    state, I = syn(state, (pre_spikes, V_post), ctx)
    ```
    """

    E: ArrayLike
    needs_V: ClassVar[bool] = True

    def __init__(self, E: ArrayLike = 0.0):
        self.E = _reversal(E, "E", "COBA")

    def __call__(self, g: Array, V: Array) -> Array:
        return g * (_bcast(self.E, g.shape).astype(g.dtype) - V)
