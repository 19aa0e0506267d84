"""A layer of LIF neurons with a trainable recurrent weight matrix."""

import diffrax
from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from .._core._modes import Mode
from ..init import KaimingNormal, parameter
from ..init._parameter import ParamSpec
from ..surrogate import InverseSquare, Surrogate
from ._base import check_input
from ._lif import LIF, LIFState


class RecurrentLIF(LIF):
    r"""A layer of [`funcdyn.neurons.LIF`][] neurons coupled by a recurrent weight matrix.

    $$\tau \frac{dV}{dt} = -(V - V_\mathrm{rest}) + R\,(I(t) + s_{t-1} W_\mathrm{rec})$$

    where $s_{t-1}$ are the layer's spikes of the previous step (in the state) and
    $W_\mathrm{rec}$ has shape `(size, size)` (row: presynaptic, column: postsynaptic).

    **Step semantics:** the recurrent current $s_{t-1} W_\mathrm{rec}$ is added to the
    input current, then the step is exactly the LIF step: *integrate*,
    *refractoriness*, *spike*, *reset*. The output is the spike array.

    **Arguments:** `size` (an int), `W_rec_initializer` (an array of shape `(size,
    size)`, an initialiser, default [`funcdyn.init.KaimingNormal`][], or a callable),
    `key` (for a random initialiser), and every argument of [`funcdyn.neurons.LIF`][].
    `W_rec` is trainable in [`funcdyn.training_mode`][].

    ```python
    layer = funcdyn.neurons.RecurrentLIF(64, V_th=1.0, V_reset=0.0, mode=funcdyn.training_mode,
                                         key=jax.random.key(0))
    state, spikes = layer(layer.init_state(32), current, ctx)   # current: (32, 64)
    ```
    """

    W_rec: Array

    def __init__(
        self,
        size: int,
        W_rec_initializer: ParamSpec = KaimingNormal(),
        tau: ParamSpec = 10.0,
        V_rest: ParamSpec = 0.0,
        V_reset: ParamSpec = -5.0,
        V_th: ParamSpec = 20.0,
        R: ParamSpec = 1.0,
        tau_ref: ParamSpec = 0.0,
        reset: str = "zero",
        spike_fn: Surrogate = InverseSquare(),
        detach_reset: bool = False,
        V_initializer: ParamSpec = None,
        solver: diffrax.AbstractSolver | None = None,
        *,
        mode: Mode | None = None,
        name: str | None = None,
        key: PRNGKeyArray | None = None,
    ):
        if isinstance(size, (tuple, list)):
            raise ValueError(f"RecurrentLIF: `size` must be an int (a 1-D layer), got {size!r}.")
        super().__init__(
            size,
            tau,
            V_rest,
            V_reset,
            V_th,
            R,
            tau_ref,
            reset,
            spike_fn,
            detach_reset,
            V_initializer,
            solver,
            mode=mode,
            name=name,
            key=key,
        )
        self.W_rec = parameter(
            W_rec_initializer, (self.num, self.num), name="W_rec_initializer", key=key
        )

    def __call__(self, state: LIFState, x: Array | None, ctx: Context) -> tuple[LIFState, Array]:
        I = check_input(self, x, state.V) + state.spike @ self.W_rec
        return super().__call__(state, I, ctx)
