"""The shared step of the nonlinear integrate-and-fire models (ExpIF, AdExIF, QuaIF,
Izhikevich, GIF): integrate every variable, spike on `V`, reset, jump the others."""

from typing import ClassVar

import diffrax
import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from .._core._modes import resolve_mode
from ..surrogate import Surrogate
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
from ._integrate import integrate, self_derivative_by_jvp


class SpikingODE(Neuron):
    """Base of the nonlinear spiking models.

    A subclass sets `state_cls` (an `eqx.Module` with the fields named in `variables`,
    then `spike` and `refractory`), `variables` (the ODE variables, `"V"` first),
    implements `vector_field(t, y, I)` on the tuple `y` of those variables and
    `self_derivative(t, y, I)` (each rate's derivative with respect to its own
    variable, for exponential Euler), and may
    override `initial_others(V)` (the initial values of the variables after `V`),
    `threshold(y)` (default `V_th`) and `on_spike(y, s)` (jumps of the variables after
    `V` at a spike `s`; default none).

    **Step:** *integrate* every variable over `dt` with `I` held constant (exponential
    Euler with each variable linearised about the current point when `solver` is None,
    see [`funcdyn.neurons.exp_euler_step`][], else one step of the diffrax `solver`);
    *refractoriness* (when `tau_ref > 0`, `V` is held and cannot spike for
    `round(tau_ref / dt)` steps after a spike; the other variables evolve);
    *spike* `spike_fn(V - threshold)`, both at the end of the step;
    *reset* of `V` (`"zero"`: to `V_reset`; `"subtract"`: by `threshold - V_reset`);
    *jumps* of the other variables (`on_spike`).
    """

    V_reset: Array
    V_th: Array
    tau_ref: Array | None
    spike_fn: Surrogate
    V_initializer: object
    reset: str = eqx.field(static=True)
    detach_reset: bool = eqx.field(static=True)
    solver: diffrax.AbstractSolver | None = eqx.field(static=True)

    state_cls: ClassVar[type]
    variables: ClassVar[tuple[str, ...]]

    def _init_common(
        self,
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
        check_reset_order=True,
    ):
        cls = type(self).__name__
        self._set_size(size)
        self.V_reset = neuron_parameter(V_reset, self.size, "V_reset", cls, key=key)
        self.V_th = neuron_parameter(V_th, self.size, "V_th", cls, key=key)
        if check_reset_order:
            check_order(self.V_reset, self.V_th, "V_reset", "V_th", cls)
        self.tau_ref = check_tau_ref(tau_ref, self.size, cls)
        self.reset = check_reset(reset, cls)
        self.spike_fn = check_spike_fn(spike_fn, cls)
        self.detach_reset = bool(detach_reset)
        self.V_initializer = V_initializer
        self.solver = check_solver(solver, cls)
        self.mode = resolve_mode(mode)
        self.name = name

    def _param(self, value, name, key=None, positive=False):
        return neuron_parameter(
            value, self.size, name, type(self).__name__, positive=positive, key=key
        )

    # -- model-specific hooks ----------------------------------------------------------

    def default_V(self) -> Array:
        return self.V_rest

    def initial_others(self, V: Array) -> tuple[Array, ...]:
        return ()

    def threshold(self, y: tuple[Array, ...]) -> Array:
        return bcast(self.V_th, y[0].shape)

    def on_spike(self, y: tuple[Array, ...], s: Array) -> tuple[Array, ...]:
        return y[1:]

    def self_derivative(self, t: Array, y: tuple[Array, ...], I: Array) -> tuple[Array, ...]:
        """$\\partial f_k / \\partial y_k$ for each variable, used by exponential Euler.
        Subclasses give it in closed form; this default differentiates `vector_field`."""
        return self_derivative_by_jvp(self.vector_field, t, y, I)

    # -- the contract --------------------------------------------------------------------

    def init_state(self, batch_size: int | None = None, *, key: PRNGKeyArray | None = None):
        """`V` from `V_initializer` (default: the model's resting value), the other
        variables at their documented initial values, no spikes."""
        shape = state_shape(self, batch_size)
        V = initial_value(
            self.V_initializer, shape, "V_initializer", key, bcast(self.default_V(), self.size)
        )
        zeros = jnp.zeros(shape, V.dtype)
        others = dict(zip(self.variables[1:], self.initial_others(V)))
        return self.state_cls(
            V=V, **others, spike=zeros, refractory=None if self.tau_ref is None else zeros
        )

    def __call__(self, state, x: Array | None, ctx: Context):
        y = tuple(getattr(state, v) for v in self.variables)
        V = y[0]
        I = check_input(self, x, V)
        y_new = integrate(
            self.solver, self.vector_field, ctx.t, ctx.dt, y, I, self.self_derivative
        )
        V_new, refractory = refractory_hold(self, state.refractory, V, y_new[0], ctx.dt)
        threshold = self.threshold(y_new)
        spike, s, V_new = spike_fn_reset(
            self, V_new, threshold, bcast(self.V_reset, V.shape), refractory
        )
        others = self.on_spike((V_new,) + tuple(y_new[1:]), s)
        ref = refractory_next(self, state.refractory, spike, ctx.dt)
        new = self.state_cls(
            V=V_new, **dict(zip(self.variables[1:], others)), spike=spike, refractory=ref
        )
        return new, spike
