"""The leaky integrator: a non-spiking readout neuron."""

import diffrax
import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from .._core._modes import Mode, resolve_mode
from ..init._parameter import ParamSpec
from ._base import (
    Neuron,
    bcast,
    check_input,
    check_solver,
    initial_value,
    neuron_parameter,
    state_shape,
)
from ._integrate import solver_step


class LeakyIntegratorState(eqx.Module):
    """The state of a [`funcdyn.neurons.LeakyIntegrator`][]: the potential `V`."""

    V: Array


class LeakyIntegrator(Neuron):
    r"""A population of non-spiking leaky integrators, the usual readout of a spiking
    network.

    $$\tau \frac{dV}{dt} = -(V - V_\mathrm{rest}) + R\,I(t)$$

    **Step semantics:** one call integrates from $t$ to $t + \Delta t$ with $I$ held
    constant (exact exponential Euler by default, $V \leftarrow V_\infty + (V -
    V_\infty)e^{-\Delta t/\tau}$, or one step of `solver`). There is no threshold and no
    reset: the output is the new membrane potential `V`.

    **Arguments:**

    - `size`: the number of neurons, an int or a tuple.
    - `tau` (ms, > 0), `V_rest`, `R`: per-neuron parameters (floats, arrays or
      initialisers); array leaves, trainable in [`funcdyn.training_mode`][].
    - `V_initializer`: the initial potential (default `V_rest`).
    - `solver`: `None` (exact exponential Euler) or a diffrax solver.
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][].

    **Shapes:** `x` is `size` or `(batch, *size)` (or a scalar, or `None`); the output
    `V` has the shape of the state.

    ```python
    readout = funcdyn.neurons.LeakyIntegrator(2, tau=5.0)
    state, V = readout(readout.init_state(), current, funcdyn.Context(dt=1.0))
    ```
    """

    tau: Array
    V_rest: Array
    R: Array
    V_initializer: ParamSpec
    solver: diffrax.AbstractSolver | None = eqx.field(static=True)

    def __init__(
        self,
        size: int | tuple[int, ...],
        tau: ParamSpec = 10.0,
        V_rest: ParamSpec = 0.0,
        R: ParamSpec = 1.0,
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
        self.R = neuron_parameter(R, self.size, "R", cls, key=key)
        self.V_initializer = V_initializer
        self.solver = check_solver(solver, cls)
        self.mode = resolve_mode(mode)
        self.name = name

    def vector_field(self, t: Array, V: Array, I: Array) -> Array:
        """$dV/dt = (-(V - V_\\mathrm{rest}) + R I)/\\tau$."""
        shape = V.shape
        return (-(V - bcast(self.V_rest, shape)) + bcast(self.R, shape) * I) / bcast(
            self.tau, shape
        )

    def init_state(
        self, batch_size: int | None = None, *, key: PRNGKeyArray | None = None
    ) -> LeakyIntegratorState:
        """`V` from `V_initializer` (default `V_rest`)."""
        shape = state_shape(self, batch_size)
        V = initial_value(
            self.V_initializer, shape, "V_initializer", key, bcast(self.V_rest, self.size)
        )
        return LeakyIntegratorState(V=V)

    def __call__(
        self, state: LeakyIntegratorState, x: Array | None, ctx: Context
    ) -> tuple[LeakyIntegratorState, Array]:
        V = state.V
        I = check_input(self, x, V)
        shape = V.shape
        if self.solver is None:
            # V + (V_inf - V)(1 - e^(-dt/tau)), with expm1: accurate when dt << tau.
            growth = -jnp.expm1(-ctx.dt / bcast(self.tau, shape))
            V_inf = bcast(self.V_rest, shape) + bcast(self.R, shape) * I
            V = V + (V_inf - V) * growth
        else:
            V = solver_step(self.solver, self.vector_field, ctx.t, ctx.dt, V, I)
        return LeakyIntegratorState(V=V), V
