"""Whole-trajectory adaptive integration of any model defined by its vector field."""

from collections.abc import Callable
from typing import Any

import diffrax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from ._core._system import DynamicalSystem


def simulate(
    model: DynamicalSystem,
    inputs: ArrayLike | Callable[[Array], Array],
    t0: float,
    t1: float,
    *,
    state: Any = None,
    solver: diffrax.AbstractSolver = diffrax.Tsit5(),
    stepsize_controller: diffrax.AbstractStepSizeController | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    dt0: float | None = 0.01,
    saveat: diffrax.SaveAt | None = None,
    max_steps: int | None = 1_000_000,
) -> diffrax.Solution:
    r"""Integrates a model's continuous dynamics from `t0` to `t1` with
    `diffrax.diffeqsolve` and adaptive steps.

    The model is any funcdyn model whose dynamics are entirely its vector field
    `model.vector_field(t, y, I)` over the state variables `model.variables` (e.g.
    [`funcdyn.neurons.HH`][], [`funcdyn.neurons.LeakyIntegrator`][]). Models that reset
    at a threshold (LIF, AdExIF, ...) are refused: a reset is a discontinuity that an
    adaptive solver cannot see; run them on a time grid with [`funcdyn.run`][].

    **Arguments:**

    - `model`: the model (non-batching, or pass a batched `state`).
    - `inputs`: the input current: a constant (a scalar or an array shaped like `V`) or
      a function `inputs(t)`.
    - `t0`, `t1`: the time span (ms), `t1 > t0`.
    - `state`: the initial state (default `model.init_state()`).
    - `solver`: a diffrax solver (default `diffrax.Tsit5()`).
    - `stepsize_controller`: default `diffrax.PIDController(rtol, atol)`; pass e.g.
      `diffrax.PIDController(rtol, atol, jump_ts=[...])` to step exactly onto the
      discontinuities of a pulsed input, or `diffrax.ConstantStepSize()`.
    - `rtol`, `atol`: of the default controller (they suit float32; with
      `jax_enable_x64` tighter ones such as 1e-8 work).
    - `dt0`, `saveat`, `max_steps`: passed to `diffrax.diffeqsolve` (default `saveat`:
      the final time only).

    **Returns:** the `diffrax.Solution`; `sol.ys` is the tuple of the state variables
    (in the order of `model.variables`), each with a leading time axis.

    ```python
    hh = funcdyn.neurons.HH(1)
    sol = funcdyn.simulate(hh, 10.0, 0.0, 50.0,
                           saveat=diffrax.SaveAt(ts=jnp.linspace(0.0, 50.0, 501)))
    V = sol.ys[0]
    ```
    """
    # Imported here: the neuron package imports this module's users.
    from .neurons._base import AbstractSpikingNeuron

    name = type(model).__name__
    variables = getattr(model, "variables", None)
    if not callable(getattr(model, "vector_field", None)) or variables is None:
        raise TypeError(
            f"simulate: {name} is not defined by a vector field (it needs "
            "`vector_field(t, y, I)` and `variables`); run it with funcdyn.run."
        )
    if isinstance(model, AbstractSpikingNeuron):
        raise ValueError(
            f"simulate: {name} resets its potential at threshold, a discontinuity that "
            "adaptive integration would step over; run it on a time grid with funcdyn.run."
        )
    if not float(t1) > float(t0):
        raise ValueError(f"simulate: `t1` must be after `t0`, got t0={t0}, t1={t1}.")
    if state is None:
        state = model.init_state()
    y0 = tuple(getattr(state, v) for v in variables)
    if callable(inputs):

        def field(t, y, args):
            return model.vector_field(t, y, jnp.asarray(inputs(t), y[0].dtype))
    else:
        current = jnp.asarray(inputs, dtype=y0[0].dtype)

        def field(t, y, args):
            return model.vector_field(t, y, current)

    if stepsize_controller is None:
        stepsize_controller = diffrax.PIDController(rtol=rtol, atol=atol)
    return diffrax.diffeqsolve(
        diffrax.ODETerm(field), solver, t0, t1, dt0, y0,
        stepsize_controller=stepsize_controller,
        saveat=diffrax.SaveAt(t1=True) if saveat is None else saveat,
        max_steps=max_steps,
    )
