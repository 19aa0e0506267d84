"""The adaptive leaky integrate-and-fire neuron (Bellec et al. 2018)."""

import diffrax
import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from .._core._modes import Mode, resolve_mode
from ..init._parameter import ParamSpec
from ..surrogate import InverseSquare, Surrogate
from ._base import (
    Neuron,
    bcast,
    check_input,
    check_order,
    check_reset,
    check_solver,
    check_spike_fn,
    check_tau_ref,
    initial_value,
    neuron_parameter,
    refractory_hold,
    refractory_next,
    spike_fn_reset,
    state_shape,
)
from ._integrate import solver_step


class ALIFState(eqx.Module):
    """The state of a [`funcdyn.neurons.ALIF`][] population: potential `V`, threshold
    adaptation `a`, last `spike`, and `refractory` time left (`None` without one)."""

    V: Array
    a: Array
    spike: Array
    refractory: Array | None


class ALIF(Neuron):
    r"""Adaptive leaky integrate-and-fire neurons (the LSNN neuron of Bellec et al. 2018).

    $$\tau \frac{dV}{dt} = -(V - V_\mathrm{rest}) + R\,I(t), \qquad
    \tau_a \frac{da}{dt} = -a, \qquad A = V_\mathrm{th} + \beta a$$

    a spike when $V \ge A$, and after a spike $a \leftarrow a + (1 - e^{-\Delta t/\tau_a})$
    (the LSNN update $a_{t+1} = \rho a_t + (1 - \rho) z_t$, $\rho = e^{-\Delta t/\tau_a}$).

    **Step semantics:** *integrate* `V` and `a` (exactly by default, or one step of
    `solver` on `vector_field` for `(V, a)`), *refractoriness* (when `tau_ref > 0`, as in
    [`funcdyn.neurons.LIF`][]), *spike* `spike_fn(V - A)` (`V` and `a` both integrated
    to the end of the step), *reset* `"subtract"` (the default, as in LSNN: $V \leftarrow V - (A -
    V_\mathrm{reset})s$) or `"zero"` (to `V_reset`), then *adapt* `a` by the spike. The
    output is the spike array.

    **Arguments:** `size`; per-neuron `tau` (20 ms), `tau_a` (200 ms), `beta` (1.8),
    `V_rest` (0), `V_reset` (0), `V_th` (1, the baseline threshold), `R` (1); `tau_ref`,
    `reset`, `spike_fn`, `detach_reset`, `V_initializer`, `solver`, `mode`, `name` as in
    [`funcdyn.neurons.LIF`][].

    ```python
    alif = funcdyn.neurons.ALIF(100, tau_a=700.0, beta=1.8)
    state, spikes = alif(alif.init_state(), current, funcdyn.Context(dt=1.0))
    ```
    """

    tau: Array
    tau_a: Array
    beta: Array
    V_rest: Array
    V_reset: Array
    V_th: Array
    R: Array
    tau_ref: Array | None
    spike_fn: Surrogate
    V_initializer: ParamSpec
    reset: str = eqx.field(static=True)
    detach_reset: bool = eqx.field(static=True)
    solver: diffrax.AbstractSolver | None = eqx.field(static=True)

    def __init__(
        self,
        size: int | tuple[int, ...],
        tau: ParamSpec = 20.0,
        tau_a: ParamSpec = 200.0,
        beta: ParamSpec = 1.8,
        V_rest: ParamSpec = 0.0,
        V_reset: ParamSpec = 0.0,
        V_th: ParamSpec = 1.0,
        R: ParamSpec = 1.0,
        tau_ref: ParamSpec = 0.0,
        reset: str = "subtract",
        spike_fn: Surrogate = InverseSquare(),
        detach_reset: bool = False,
        V_initializer: ParamSpec = None,
        solver: diffrax.AbstractSolver | None = None,
        *,
        mode: Mode | None = None,
        name: str | None = None,
        key: PRNGKeyArray | None = None,
    ):
        cls = type(self).__name__
        self._set_size(size)
        self.tau = neuron_parameter(tau, self.size, "tau", cls, positive=True, key=key)
        self.tau_a = neuron_parameter(tau_a, self.size, "tau_a", cls, positive=True, key=key)
        self.beta = neuron_parameter(beta, self.size, "beta", cls, nonnegative=True, key=key)
        self.V_rest = neuron_parameter(V_rest, self.size, "V_rest", cls, key=key)
        self.V_reset = neuron_parameter(V_reset, self.size, "V_reset", cls, key=key)
        self.V_th = neuron_parameter(V_th, self.size, "V_th", cls, key=key)
        self.R = neuron_parameter(R, self.size, "R", cls, key=key)
        check_order(self.V_reset, self.V_th, "V_reset", "V_th", cls)
        self.tau_ref = check_tau_ref(tau_ref, self.size, cls)
        self.reset = check_reset(reset, cls)
        self.spike_fn = check_spike_fn(spike_fn, cls)
        self.detach_reset = bool(detach_reset)
        self.V_initializer = V_initializer
        self.solver = check_solver(solver, cls)
        self.mode = resolve_mode(mode)
        self.name = name

    def vector_field(self, t: Array, y: tuple[Array, Array], I: Array) -> tuple[Array, Array]:
        """`(dV/dt, da/dt)` for `y = (V, a)`."""
        V, a = y
        shape = V.shape
        dV = (-(V - bcast(self.V_rest, shape)) + bcast(self.R, shape) * I) / bcast(self.tau, shape)
        return dV, -a / bcast(self.tau_a, shape)

    def init_state(
        self, batch_size: int | None = None, *, key: PRNGKeyArray | None = None
    ) -> ALIFState:
        """`V` from `V_initializer` (default `V_rest`), `a = 0`, no spikes."""
        shape = state_shape(self, batch_size)
        V = initial_value(
            self.V_initializer, shape, "V_initializer", key, bcast(self.V_rest, self.size)
        )
        zeros = jnp.zeros(shape, V.dtype)
        return ALIFState(
            V=V, a=zeros, spike=zeros, refractory=None if self.tau_ref is None else zeros
        )

    def __call__(self, state: ALIFState, x: Array | None, ctx: Context) -> tuple[ALIFState, Array]:
        V, a = state.V, state.a
        I = check_input(self, x, V)
        shape = V.shape
        rho = jnp.exp(-ctx.dt / bcast(self.tau_a, shape))
        if self.solver is None:
            growth = -jnp.expm1(-ctx.dt / bcast(self.tau, shape))
            V_inf = bcast(self.V_rest, shape) + bcast(self.R, shape) * I
            V_new, a_new = V + (V_inf - V) * growth, a * rho
        else:
            V_new, a_new = solver_step(self.solver, self.vector_field, ctx.t, ctx.dt, (V, a), I)
        V_new, refractory = refractory_hold(self, state.refractory, V, V_new, ctx.dt)
        threshold = bcast(self.V_th, shape) + bcast(self.beta, shape) * a_new
        spike, s, V_new = spike_fn_reset(
            self, V_new, threshold, bcast(self.V_reset, shape), refractory
        )
        a_new = a_new + (1.0 - rho) * s
        ref = refractory_next(self, state.refractory, spike, ctx.dt)
        return ALIFState(V=V_new, a=a_new, spike=spike, refractory=ref), spike
