"""The leaky integrator: a non-spiking readout neuron."""

from typing import ClassVar

import diffrax
import equinox as eqx
from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from .._core._modes import Mode, resolve_mode
from ..typing import ParamSpec
from ._base import AbstractNeuron
from ._integrate import leaky_update, leaky_vector_field, solver_step


class LeakyIntegratorState(eqx.Module):
    """The state of a [`funcdyn.neurons.LeakyIntegrator`][]: the potential `V`."""

    V: Array


class LeakyIntegrator(AbstractNeuron):
    r"""A population of non-spiking leaky integrators, the usual readout of a spiking
    network.

    $$\tau \frac{dV}{dt} = -(V - V_\mathrm{rest}) + R\,I(t)$$

    **Step semantics:** one call integrates from $t$ to $t + \Delta t$ with $I$ held
    constant (exact by default, $V \leftarrow V_\infty + (V - V_\infty)e^{-\Delta
    t/\tau}$, stable for every `dt`; or one step of `solver`). There is no threshold and
    no reset: the output is the new membrane potential `V`.

    **Arguments:**

    - `size`: the number of neurons, an int or a tuple.
    - `tau` (ms, > 0), `V_rest`, `R`: per-neuron parameters (floats, arrays or
      initialisers); array leaves, trainable in [`funcdyn.training_mode`][].
    - `V_initializer`: the initial potential (default `V_rest`); fixed unless
      `train_state=True`, which makes it the trainable parameter `V0`.
    - `solver`: `None` (exact) or a diffrax solver.
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][]; `key`: for random parameters.

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
    solver: diffrax.AbstractSolver | None = eqx.field(static=True)

    variables: ClassVar[tuple[str, ...]] = ("V",)

    def __init__(
        self,
        size: int | tuple[int, ...],
        *,
        tau: ParamSpec = 10.0,
        V_rest: ParamSpec = 0.0,
        R: ParamSpec = 1.0,
        V_initializer: ParamSpec = None,
        train_state: bool = False,
        solver: diffrax.AbstractSolver | None = None,
        mode: Mode | None = None,
        name: str | None = None,
        key: PRNGKeyArray | None = None,
    ):
        self._set_size(size)
        self.tau = self._parameter(tau, "tau", key, positive=True)
        self.V_rest = self._parameter(V_rest, "V_rest", key)
        self.R = self._parameter(R, "R", key)
        self.solver = self._check_solver(solver)
        self.mode = resolve_mode(mode)
        self.name = name
        self._set_initial_potential(V_initializer, train_state, key)

    def default_V(self) -> Array:
        return self.V_rest

    def vector_field(self, t: Array, y: tuple[Array], I: Array) -> tuple[Array]:
        """`(dV/dt,)` with $dV/dt = (-(V - V_\\mathrm{rest}) + R I)/\\tau$."""
        return (leaky_vector_field(y[0], I, self.tau, self.V_rest, self.R),)

    def init_state(
        self, batch_size: int | None = None, *, key: PRNGKeyArray | None = None
    ) -> LeakyIntegratorState:
        """`V` from `V_initializer` (default `V_rest`)."""
        return LeakyIntegratorState(V=self.initial_V(batch_size, key))

    def __call__(
        self, state: LeakyIntegratorState, x: Array | None, ctx: Context
    ) -> tuple[LeakyIntegratorState, Array]:
        self.check_state(state)
        I = self.check_input(x, state.V)
        V0 = self.check_ranges(state.V)
        if self.solver is None:
            V = leaky_update(V0, I, self.tau, self.V_rest, self.R, ctx.dt)
        else:
            (V,) = solver_step(self.solver, self.vector_field, ctx.t, ctx.dt, (V0,), I)
        return LeakyIntegratorState(V=V), V
