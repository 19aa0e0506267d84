"""The adaptive exponential integrate-and-fire neuron."""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from .._checks import bcast
from ..typing import ParamSpec
from ._exp_if import spike_exponential
from ._base import AbstractSpikingNeuron


class AdExIFState(eqx.Module):
    """The state of an [`funcdyn.neurons.AdExIF`][]: `V`, adaptation current `w`, last
    `spike`, `refractory`."""

    V: Array
    w: Array
    spike: Array
    refractory: Array | None


class AdExIF(AbstractSpikingNeuron):
    r"""Adaptive exponential integrate-and-fire neurons (Brette & Gerstner 2005).

    $$\tau \frac{dV}{dt} = -(V - V_\mathrm{rest}) + \Delta_T e^{(V - V_T)/\Delta_T}
      - R w + R\,I(t)$$

    $$\tau_w \frac{dw}{dt} = a (V - V_\mathrm{rest}) - w$$

    At a spike ($V \ge V_\mathrm{th}$): $V \leftarrow V_\mathrm{reset}$, $w \leftarrow w + b$.

    **Step semantics:** *integrate* `(V, w)` (default: exponential Euler with each
    variable linearised about the current point, exact for `w` given `V`; or one step of
    `solver`), *refractoriness* (`tau_ref > 0`: `V` held and no spike for
    `round(tau_ref/dt)` steps; `w` evolves), *spike* `spike_fn(V - V_th)`, *reset* of
    `V`, then $w \leftarrow w + b s$. The output is the spike array.

    **Arguments:** `size`; per-neuron `V_rest` (-65 mV), `V_reset` (-68), `V_th` (-30),
    `V_T` (-59.9), `delta_T` (3.48), `a` (1), `b` (1), `tau` (10 ms), `tau_w` (30 ms),
    `R` (1); the rest as in [`funcdyn.neurons.LIF`][].

    ```python
    neuron = funcdyn.neurons.AdExIF(10, a=0.5, b=7.0)
    ```
    """

    V_rest: Array
    V_T: Array
    delta_T: Array
    a: Array
    b: Array
    tau: Array
    tau_w: Array
    R: Array

    state_cls = AdExIFState
    variables = ("V", "w")

    def __init__(
        self,
        size: int | tuple[int, ...],
        *,
        V_rest: ParamSpec = -65.0,
        V_T: ParamSpec = -59.9,
        delta_T: ParamSpec = 3.48,
        a: ParamSpec = 1.0,
        b: ParamSpec = 1.0,
        tau: ParamSpec = 10.0,
        tau_w: ParamSpec = 30.0,
        R: ParamSpec = 1.0,
        V_reset: ParamSpec = -68.0,
        V_th: ParamSpec = -30.0,
        key: PRNGKeyArray | None = None,
        **options,
    ):
        self._set_size(size)
        self.V_rest = self._parameter(V_rest, "V_rest", key)
        self.V_T = self._parameter(V_T, "V_T", key)
        self.delta_T = self._parameter(delta_T, "delta_T", key, positive=True)
        self.a = self._parameter(a, "a", key)
        self.b = self._parameter(b, "b", key)
        self.tau = self._parameter(tau, "tau", key, positive=True)
        self.tau_w = self._parameter(tau_w, "tau_w", key, positive=True)
        self.R = self._parameter(R, "R", key)
        super().__init__(V_reset=V_reset, V_th=V_th, key=key, **options)

    def self_derivative(self, t: Array, y: tuple[Array, Array], I: Array) -> tuple[Array, Array]:
        """`(∂(dV/dt)/∂V, ∂(dw/dt)/∂w)`, for exponential Euler."""
        V, _ = y
        s = V.shape
        e = spike_exponential(V, self.V_T, self.delta_T)
        return (e - 1.0) / bcast(self.tau, s), -1.0 / bcast(self.tau_w, s) * jnp.ones_like(V)

    def vector_field(self, t: Array, y: tuple[Array, Array], I: Array) -> tuple[Array, Array]:
        """`(dV/dt, dw/dt)` for `y = (V, w)`."""
        V, w = y
        s = V.shape
        dT = bcast(self.delta_T, s)
        V_rest, R = bcast(self.V_rest, s), bcast(self.R, s)
        exp_term = dT * spike_exponential(V, self.V_T, self.delta_T)
        dV = (-(V - V_rest) + exp_term - R * w + R * I) / bcast(self.tau, s)
        dw = (bcast(self.a, s) * (V - V_rest) - w) / bcast(self.tau_w, s)
        return dV, dw

    def on_spike(self, y, s, ctx):
        return (y[1] + bcast(self.b, s.shape) * s,)
