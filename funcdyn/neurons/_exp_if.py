"""The exponential integrate-and-fire neuron."""

import diffrax
import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from .._core._modes import Mode
from ..init._parameter import ParamSpec
from ..surrogate import InverseSquare, Surrogate
from ._base import bcast
from ._spiking_ode import SpikingODE

# exp(40) ~ 2e17: far above any physiological drive, yet no float32 overflow when a
# diverging membrane overshoots the cut-off within one step.
MAX_EXPONENT = 40.0


class ExpIFState(eqx.Module):
    """The state of a [`funcdyn.neurons.ExpIF`][]: `V`, last `spike`, `refractory`."""

    V: Array
    spike: Array
    refractory: Array | None


class ExpIF(SpikingODE):
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
        V_rest: ParamSpec = -65.0,
        V_reset: ParamSpec = -68.0,
        V_th: ParamSpec = -30.0,
        V_T: ParamSpec = -59.9,
        delta_T: ParamSpec = 3.48,
        R: ParamSpec = 1.0,
        tau: ParamSpec = 10.0,
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
        self.R = self._param(R, "R", key)
        self.tau = self._param(tau, "tau", key, positive=True)

    def self_derivative(self, t: Array, y: tuple[Array], I: Array) -> tuple[Array]:
        """`(∂(dV/dt)/∂V,)`, for exponential Euler."""
        (V,) = y
        s = V.shape
        dT = bcast(self.delta_T, s)
        e = jnp.exp(jnp.minimum((V - bcast(self.V_T, s)) / dT, MAX_EXPONENT))
        return ((e - 1.0) / bcast(self.tau, s),)

    def vector_field(self, t: Array, y: tuple[Array], I: Array) -> tuple[Array]:
        """`(dV/dt,)` for `y = (V,)`."""
        (V,) = y
        s = V.shape
        dT = bcast(self.delta_T, s)
        spike_current = dT * jnp.exp(jnp.minimum((V - bcast(self.V_T, s)) / dT, MAX_EXPONENT))
        dV = (-(V - bcast(self.V_rest, s)) + spike_current + bcast(self.R, s) * I) / bcast(
            self.tau, s
        )
        return (dV,)
