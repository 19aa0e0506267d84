"""The (perfect, non-leaky) integrate-and-fire neuron."""

import diffrax
from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from .._core._modes import Mode
from ..init._parameter import ParamSpec
from ..surrogate import InverseSquare, Surrogate
from ._base import bcast
from ._integrate import solver_step
from ._lif import LIF


class IF(LIF):
    r"""A population of perfect (non-leaky) integrate-and-fire neurons.

    $$\tau \frac{dV}{dt} = R\,I(t)$$

    and a spike when $V \ge V_\mathrm{th}$.

    **Step semantics:** as [`funcdyn.neurons.LIF`][]: *integrate* (exactly, $V
    \leftarrow V + \frac{\Delta t}{\tau} R I$, or one step of `solver`), then
    *refractoriness* (when `tau_ref > 0`: the neuron keeps `V` and cannot spike for
    `round(tau_ref / dt)` steps after a spike), *spike* (`spike_fn(V - V_th)`), *reset*
    (`"zero"` to `V_reset`, or `"subtract"` of `V_th - V_reset`). The output is the spike
    array. `V_rest` is only the default initial potential.

    **Arguments:** as [`funcdyn.neurons.LIF`][] (`tau` scales the integration; default
    `tau = 1`, `V_th = 1`, `V_reset = V_rest = 0`).

    ```python
    neuron = funcdyn.neurons.IF(10, V_th=1.0)
    state, spikes = neuron(neuron.init_state(), current, funcdyn.Context(dt=1.0))
    ```
    """

    def __init__(
        self,
        size: int | tuple[int, ...],
        tau: ParamSpec = 1.0,
        V_rest: ParamSpec = 0.0,
        V_reset: ParamSpec = 0.0,
        V_th: ParamSpec = 1.0,
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

    def vector_field(self, t: Array, V: Array, I: Array) -> Array:
        """$dV/dt = R I / \\tau$."""
        shape = V.shape
        return bcast(self.R, shape) * I / bcast(self.tau, shape)

    def _integrate(self, V: Array, I: Array, ctx: Context) -> Array:
        if self.solver is None:
            return V + ctx.dt * self.vector_field(ctx.t, V, I)
        return solver_step(self.solver, self.vector_field, ctx.t, ctx.dt, V, I)
