"""The (perfect, non-leaky) integrate-and-fire neuron."""

from jaxtyping import Array, PRNGKeyArray

from .._checks import bcast
from .._core._context import Context
from ..typing import ParamSpec
from ._base import AbstractSpikingNeuron
from ._lif import LIFState


class IF(AbstractSpikingNeuron):
    r"""A population of perfect (non-leaky) integrate-and-fire neurons.

    $$\tau \frac{dV}{dt} = R\,I(t)$$

    and a spike when $V \ge V_\mathrm{th}$.

    **Step:** the spiking step of [`funcdyn.neurons.AbstractSpikingNeuron`][]; with the
    default `solver=None` the integration is exact, $V \leftarrow V + \frac{\Delta
    t}{\tau} R I$. `V_rest` is only the default initial potential. The state is a
    [`funcdyn.neurons.LIFState`][]; the output is the spike array.

    **Arguments:** `size`; per-neuron `tau` (1, scales the integration), `V_rest` (0),
    `V_reset` (0), `V_th` (1), `R` (1); the rest as in [`funcdyn.neurons.LIF`][].

    ```python
    neuron = funcdyn.neurons.IF(10, V_th=1.0)
    state, spikes = neuron(neuron.init_state(), current, funcdyn.Context(dt=1.0))
    ```
    """

    tau: Array
    V_rest: Array
    R: Array

    state_cls = LIFState
    variables = ("V",)

    def __init__(
        self,
        size: int | tuple[int, ...],
        *,
        tau: ParamSpec = 1.0,
        V_rest: ParamSpec = 0.0,
        V_reset: ParamSpec = 0.0,
        V_th: ParamSpec = 1.0,
        R: ParamSpec = 1.0,
        key: PRNGKeyArray | None = None,
        **options,
    ):
        self._set_size(size)
        self.tau = self._parameter(tau, "tau", key, positive=True)
        self.V_rest = self._parameter(V_rest, "V_rest", key)
        self.R = self._parameter(R, "R", key)
        super().__init__(V_reset=V_reset, V_th=V_th, key=key, **options)

    def vector_field(self, t: Array, y: tuple[Array], I: Array) -> tuple[Array]:
        """`(dV/dt,)` with $dV/dt = R I / \\tau$."""
        shape = y[0].shape
        return (bcast(self.R, shape) * I / bcast(self.tau, shape),)

    def update(self, y: tuple[Array], I: Array, ctx: Context) -> tuple[Array]:
        if self.solver is None:
            return (y[0] + ctx.dt * self.vector_field(ctx.t, y, I)[0],)
        return super().update(y, I, ctx)
