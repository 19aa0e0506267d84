"""The adaptive exponential integrate-and-fire neuron."""

import diffrax
import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from .._core._modes import Mode
from ..init._parameter import ParamSpec
from ..surrogate import InverseSquare, Surrogate
from ._base import bcast
from ._exp_if import MAX_EXPONENT
from ._spiking_ode import SpikingODE


class AdExIFState(eqx.Module):
    """The state of an [`funcdyn.neurons.AdExIF`][]: `V`, adaptation current `w`, last
    `spike`, `refractory`."""

    V: Array
    w: Array
    spike: Array
    refractory: Array | None


class AdExIF(SpikingODE):
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
        V_rest: ParamSpec = -65.0,
        V_reset: ParamSpec = -68.0,
        V_th: ParamSpec = -30.0,
        V_T: ParamSpec = -59.9,
        delta_T: ParamSpec = 3.48,
        a: ParamSpec = 1.0,
        b: ParamSpec = 1.0,
        tau: ParamSpec = 10.0,
        tau_w: ParamSpec = 30.0,
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
        self._init_common(
            size,
            V_reset,
            V_th,
            tau_ref,
            reset,
            spike_fn,
            detach_reset,
            V_initializer,
            solver,
            mode,
            name,
            key,
        )
        self.V_rest = self._param(V_rest, "V_rest", key)
        self.V_T = self._param(V_T, "V_T", key)
        self.delta_T = self._param(delta_T, "delta_T", key, positive=True)
        self.a = self._param(a, "a", key)
        self.b = self._param(b, "b", key)
        self.tau = self._param(tau, "tau", key, positive=True)
        self.tau_w = self._param(tau_w, "tau_w", key, positive=True)
        self.R = self._param(R, "R", key)

    def initial_others(self, V: Array) -> tuple[Array]:
        return (jnp.zeros_like(V),)

    def self_derivative(self, t: Array, y: tuple[Array, Array], I: Array) -> tuple[Array, Array]:
        """`(∂(dV/dt)/∂V, ∂(dw/dt)/∂w)`, for exponential Euler."""
        V, _ = y
        s = V.shape
        dT = bcast(self.delta_T, s)
        e = jnp.exp(jnp.minimum((V - bcast(self.V_T, s)) / dT, MAX_EXPONENT))
        return (e - 1.0) / bcast(self.tau, s), -1.0 / bcast(self.tau_w, s) * jnp.ones_like(V)

    def vector_field(self, t: Array, y: tuple[Array, Array], I: Array) -> tuple[Array, Array]:
        """`(dV/dt, dw/dt)` for `y = (V, w)`."""
        V, w = y
        s = V.shape
        dT = bcast(self.delta_T, s)
        V_rest, R = bcast(self.V_rest, s), bcast(self.R, s)
        exp_term = dT * jnp.exp(jnp.minimum((V - bcast(self.V_T, s)) / dT, MAX_EXPONENT))
        dV = (-(V - V_rest) + exp_term - R * w + R * I) / bcast(self.tau, s)
        dw = (bcast(self.a, s) * (V - V_rest) - w) / bcast(self.tau_w, s)
        return dV, dw

    def on_spike(self, y, s):
        return (y[1] + bcast(self.b, s.shape) * s,)
