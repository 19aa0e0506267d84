"""The leaky integrate-and-fire neuron."""

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


class LIFState(eqx.Module):
    """The state of a [`funcdyn.neurons.LIF`][] population.

    - `V`: membrane potential.
    - `spike`: the spikes of the last step (0/1 floats).
    - `refractory`: the refractory time left (ms), or `None` when `tau_ref == 0`.
    """

    V: Array
    spike: Array
    refractory: Array | None


class LIF(Neuron):
    r"""A population of leaky integrate-and-fire neurons.

    $$\tau \frac{dV}{dt} = -(V - V_\mathrm{rest}) + R\,I(t)$$

    and a spike when $V \ge V_\mathrm{th}$.

    **Step semantics** (one call, from $t$ to $t + \Delta t$, input $I$ held constant):

    1. *integrate*: with the default exponential Euler, the exact solution
       $V \leftarrow V_\infty + (V - V_\infty)e^{-\Delta t/\tau}$, $V_\infty = V_\mathrm{rest} + R I$; with `solver=`, one step of that diffrax solver on `vector_field`;
    2. *refractoriness* (only when `tau_ref > 0`): a neuron with refractory time left
       keeps its potential (it does not integrate) and cannot spike. The neuron is held
       for `round(tau_ref / dt)` steps after the step in which it spiked;
    3. *spike*: `spike = spike_fn(V - V_th)`, the Heaviside step forward with a
       surrogate gradient;
    4. *reset*: `"zero"`: $V \leftarrow V + (V_\mathrm{reset} - V)s$ (to `V_reset`);
       `"subtract"`: $V \leftarrow V - (V_\mathrm{th} - V_\mathrm{reset})s$ (keeps the
       overshoot). With `detach_reset=True` the spike used here is
       `jax.lax.stop_gradient`-ed.

    The output is the spike array (0.0/1.0, same dtype as `V`).

    **Arguments:**

    - `size`: the number of neurons, an int or a tuple (the shape of the population).
    - `tau` (ms, > 0), `V_rest`, `V_reset`, `V_th` (mV), `R`: per-neuron parameters: a
      float, an array broadcastable to `size`, or an initialiser. Each is an array leaf,
      trainable in [`funcdyn.training_mode`][].
    - `tau_ref`: the refractory period (ms, >= 0). A Python `0` (the default) traces no
      refractory logic at all.
    - `reset`: `"zero"` or `"subtract"` (static).
    - `spike_fn`: a [`funcdyn.surrogate.Surrogate`][] (default
      [`funcdyn.surrogate.InverseSquare`][]).
    - `detach_reset`: whether the reset is cut from the gradient.
    - `V_initializer`: the initial potential: `None` (`V_rest`), an array, or an
      initialiser (called with the state's shape and the `key` of `init_state`).
    - `solver`: `None` (exact exponential Euler) or a `diffrax` solver.
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][].

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
        cls = type(self).__name__
        self._set_size(size)
        self.tau = neuron_parameter(tau, self.size, "tau", cls, positive=True, key=key)
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

    def vector_field(self, t: Array, V: Array, I: Array) -> Array:
        """$dV/dt = (-(V - V_\\mathrm{rest}) + R I) / \\tau$; `I` shaped like `V`."""
        shape = V.shape
        return (-(V - bcast(self.V_rest, shape)) + bcast(self.R, shape) * I) / bcast(
            self.tau, shape
        )

    def init_state(
        self, batch_size: int | None = None, *, key: PRNGKeyArray | None = None
    ) -> LIFState:
        """`V` from `V_initializer` (default `V_rest`), no spikes, no refractory time."""
        shape = state_shape(self, batch_size)
        V = initial_value(
            self.V_initializer, shape, "V_initializer", key, bcast(self.V_rest, self.size)
        )
        zeros = jnp.zeros(shape, V.dtype)
        return LIFState(V=V, spike=zeros, refractory=None if self.tau_ref is None else zeros)

    def _integrate(self, V: Array, I: Array, ctx: Context) -> Array:
        shape = V.shape
        if self.solver is None:
            # V + (V_inf - V)(1 - e^(-dt/tau)), with expm1: accurate when dt << tau.
            growth = -jnp.expm1(-ctx.dt / bcast(self.tau, shape))
            V_inf = bcast(self.V_rest, shape) + bcast(self.R, shape) * I
            return V + (V_inf - V) * growth
        return solver_step(self.solver, self.vector_field, ctx.t, ctx.dt, V, I)

    def __call__(self, state: LIFState, x: Array | None, ctx: Context) -> tuple[LIFState, Array]:
        V = state.V
        I = check_input(self, x, V)
        V_new, refractory = refractory_hold(
            self, state.refractory, V, self._integrate(V, I, ctx), ctx.dt
        )
        shape = V.shape
        spike, _, V_new = spike_fn_reset(
            self, V_new, bcast(self.V_th, shape), bcast(self.V_reset, shape), refractory
        )
        ref = refractory_next(self, state.refractory, spike, ctx.dt)
        return LIFState(V=V_new, spike=spike, refractory=ref), spike
