"""The leaky integrate-and-fire neuron."""

import equinox as eqx
from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from ..typing import ParamSpec
from ._base import AbstractSpikingNeuron
from ._integrate import leaky_update, leaky_vector_field


class LIFState(eqx.Module):
    """The state of a [`funcdyn.neurons.LIF`][] population.

    - `V`: membrane potential.
    - `spike`: the spikes of the last step (0/1 floats).
    - `refractory`: the refractory time left (ms), or `None` when `tau_ref == 0`.
    """

    V: Array
    spike: Array
    refractory: Array | None


class LIF(AbstractSpikingNeuron):
    r"""A population of leaky integrate-and-fire neurons.

    $$\tau \frac{dV}{dt} = -(V - V_\mathrm{rest}) + R\,I(t)$$

    and a spike when $V \ge V_\mathrm{th}$.

    **Step:** the spiking step of [`funcdyn.neurons.AbstractSpikingNeuron`][]
    (integrate, refractoriness, spike, reset). With the default `solver=None` the
    integration is exact: $V \leftarrow V_\infty + (V - V_\infty)e^{-\Delta t/\tau}$,
    $V_\infty = V_\mathrm{rest} + R I$, stable for every `dt`. The output is the spike
    array (0.0/1.0, same dtype as `V`).

    **Arguments:**

    - `size`: the number of neurons, an int or a tuple (the shape of the population).
    - `tau` (ms, > 0), `V_rest`, `V_reset`, `V_th` (mV), `R`: per-neuron parameters: a
      float, an array broadcastable to `size`, or an initialiser (each random one draws
      from its own key). Each is an array leaf, trainable in [`funcdyn.training_mode`][].
    - `tau_ref`, `reset`, `spike_fn`, `detach_reset`, `V_initializer`, `train_state`,
      `solver`, `mode`, `name`, `key`: see [`funcdyn.neurons.AbstractSpikingNeuron`][].

    **Shapes:** the input current `x` is `size` (non-batching) or `(batch, *size)`, or a
    scalar, or `None` (no input); the output spikes have the shape of the state.

    ```python
    lif = funcdyn.neurons.LIF(100, tau=10.0, V_rest=0.0, V_reset=0.0, V_th=1.0)
    state = lif.init_state()
    state, spikes = lif(state, current, funcdyn.Context(dt=0.1))
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
        tau: ParamSpec = 10.0,
        V_rest: ParamSpec = 0.0,
        V_reset: ParamSpec = -5.0,
        V_th: ParamSpec = 20.0,
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
        """`(dV/dt,)` with $dV/dt = (-(V - V_\\mathrm{rest}) + R I) / \\tau$."""
        return (leaky_vector_field(y[0], I, self.tau, self.V_rest, self.R),)

    def update(self, y: tuple[Array], I: Array, ctx: Context) -> tuple[Array]:
        if self.solver is None:
            return (leaky_update(y[0], I, self.tau, self.V_rest, self.R, ctx.dt),)
        return super().update(y, I, ctx)
