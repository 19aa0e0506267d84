"""The exponential integrate-and-fire neuron."""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from .._checks import bcast
from ..typing import ParamSpec
from ._base import AbstractSpikingNeuron

# exp(40) ~ 2e17: far above any physiological drive, yet no float32 overflow when a
# diverging membrane overshoots the cut-off within one step.
MAX_EXPONENT = 40.0


def spike_exponential(V: Array, V_T: Array, delta_T: Array) -> Array:
    """$e^{(V - V_T)/\\Delta_T}$ with the exponent capped at `MAX_EXPONENT`, the upswing
    of the exponential models (ExpIF, AdExIF)."""
    s = V.shape
    return jnp.exp(jnp.minimum((V - bcast(V_T, s)) / bcast(delta_T, s), MAX_EXPONENT))


class ExpIFState(eqx.Module):
    """The state of a [`funcdyn.neurons.ExpIF`][]: `V`, last `spike`, `refractory`."""

    V: Array
    spike: Array
    refractory: Array | None


class ExpIF(AbstractSpikingNeuron):
    r"""Exponential integrate-and-fire neurons (Fourcaud-Trocmé et al. 2003).

    $$\tau \frac{dV}{dt} = -(V - V_\mathrm{rest}) + \Delta_T e^{(V - V_T)/\Delta_T} + R\,I(t)$$

    `V_T` is the soft threshold where the exponential takes over; `V_th` is the cut-off
    where the upswing is counted as a spike and `V` is reset to `V_reset`. The exponent is
    capped at 40 so that a step that overshoots stays finite.

    **Step semantics:** *integrate* (default: exponential Euler on the leak linearised
    about the current `V`, $V \leftarrow V + \frac{e^{a\Delta t} - 1}{a} f(V)$, $a =
    \partial f/\partial V$; or one step of `solver`), *refractoriness* (`tau_ref > 0`:
    `V` held, no spike, for `round(tau_ref/dt)` steps), *spike* `spike_fn(V - V_th)`,
    *reset* (`"zero"`, the default: to `V_reset`). The output is the spike array.

    **Arguments:** `size`; per-neuron `V_rest` (-65 mV), `V_reset` (-68), `V_th` (-30),
    `V_T` (-59.9), `delta_T` (3.48), `R` (1), `tau` (10 ms); `tau_ref`, `reset`,
    `spike_fn`, `detach_reset`, `V_initializer`, `solver`, `mode`, `name` as in
    [`funcdyn.neurons.LIF`][].

    ```python
    neuron = funcdyn.neurons.ExpIF(10)
    state, spikes = neuron(neuron.init_state(), 5.0, funcdyn.Context(dt=0.05))
    ```
    """

    V_rest: Array
    V_T: Array
    delta_T: Array
    R: Array
    tau: Array

    state_cls = ExpIFState
    variables = ("V",)

    def __init__(
        self,
        size: int | tuple[int, ...],
        *,
        V_rest: ParamSpec = -65.0,
        V_T: ParamSpec = -59.9,
        delta_T: ParamSpec = 3.48,
        R: ParamSpec = 1.0,
        tau: ParamSpec = 10.0,
        V_reset: ParamSpec = -68.0,
        V_th: ParamSpec = -30.0,
        key: PRNGKeyArray | None = None,
        **options,
    ):
        self._set_size(size)
        self.V_rest = self._parameter(V_rest, "V_rest", key)
        self.V_T = self._parameter(V_T, "V_T", key)
        self.delta_T = self._parameter(delta_T, "delta_T", key, positive=True)
        self.R = self._parameter(R, "R", key)
        self.tau = self._parameter(tau, "tau", key, positive=True)
        super().__init__(V_reset=V_reset, V_th=V_th, key=key, **options)

    def self_derivative(self, t: Array, y: tuple[Array], I: Array) -> tuple[Array]:
        """`(∂(dV/dt)/∂V,)`, for exponential Euler."""
        (V,) = y
        s = V.shape
        e = spike_exponential(V, self.V_T, self.delta_T)
        return ((e - 1.0) / bcast(self.tau, s),)

    def vector_field(self, t: Array, y: tuple[Array], I: Array) -> tuple[Array]:
        """`(dV/dt,)` for `y = (V,)`."""
        (V,) = y
        s = V.shape
        dT = bcast(self.delta_T, s)
        spike_current = dT * spike_exponential(V, self.V_T, self.delta_T)
        dV = (-(V - bcast(self.V_rest, s)) + spike_current + bcast(self.R, s) * I) / bcast(
            self.tau, s
        )
        return (dV,)
