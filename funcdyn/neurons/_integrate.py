"""One time step of a neuron's ODE: exponential Euler or one step of a diffrax solver."""

from collections.abc import Callable
from typing import Any

import diffrax
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
from jaxtyping import Array, PyTree

from .._checks import bcast

VectorField = Callable[[Array, PyTree, Any], PyTree]


# The largest growth exponent `a dt` of one exponential-Euler step: e^60 ~ 1e26 stays
# finite in float32. A faster upswing (an exponential or quadratic neuron far past its
# threshold) is integrated with this rate instead: the step still overshoots the
# threshold by far, so the neuron spikes and resets, instead of overflowing to inf and
# a NaN reset.
MAX_GROWTH_EXPONENT = 60.0


def _phi1_dt(a: Array, dt: float) -> Array:
    """`(exp(a dt) - 1) / a`, continuous at `a = 0` where it equals `dt`, with the
    exponent `a dt` capped at `MAX_GROWTH_EXPONENT`."""
    z = jnp.minimum(a * dt, MAX_GROWTH_EXPONENT)
    small = jnp.abs(z) < 1e-4
    z_safe = jnp.where(small, jnp.ones_like(z), z)
    # Second-order Taylor near 0: the direct formula loses digits to cancellation there.
    return dt * jnp.where(small, 1.0 + 0.5 * z, jnp.expm1(z_safe) / z_safe)


def self_derivative_by_jvp(vector_field: VectorField, t: Array, y: PyTree, args: Any) -> PyTree:
    """$\\partial f_k / \\partial y_k$ for each leaf $y_k$ (elementwise), from one
    `jax.jvp` per leaf."""
    leaves, treedef = jtu.tree_flatten(y)
    out = []
    for k in range(len(leaves)):
        tangent = [jnp.ones_like(v) if j == k else jnp.zeros_like(v) for j, v in enumerate(leaves)]
        _, df = jax.jvp(
            lambda *ls: vector_field(t, jtu.tree_unflatten(treedef, ls), args),
            tuple(leaves),
            tuple(tangent),
        )
        out.append(treedef.flatten_up_to(df)[k])
    return jtu.tree_unflatten(treedef, out)


def exp_euler_step(
    vector_field: VectorField,
    t: Array,
    dt: float,
    y: PyTree,
    args: Any,
    self_derivative: VectorField | None = None,
) -> PyTree:
    r"""One exponential-Euler step of `dy/dt = f(t, y, args)`, each variable linearised
    about the current point.

    For each leaf $y_k$ (an array of per-neuron values) let $a_k = \partial f_k /
    \partial y_k$, the derivative of a variable's rate with respect to itself. Then

    $$y_k(t + \Delta t) = y_k + \frac{e^{a_k \Delta t} - 1}{a_k} f_k(t, y)$$

    which is exact when $f_k$ is linear in $y_k$ with the other variables frozen over the
    step (a leaky membrane; the gating variables of Hodgkin-Huxley). Its order is 1 in
    general, and 2 for a single variable (it is then the exponential Rosenbrock-Euler
    method).

    **Arguments:** `vector_field`, `t`, `dt`, `y` (a pytree of arrays), `args`, and
    `self_derivative(t, y, args)`: the $a_k$ as a pytree like `y`, in closed form. When
    it is `None` they come from one `jax.jvp` per leaf, which requires the leaves to be
    elementwise: neuron `i`'s rates may depend only on neuron `i`'s variables (true of
    every single-neuron model).
    """
    f0 = vector_field(t, y, args)
    leaves, treedef = jtu.tree_flatten(y)
    f_leaves = treedef.flatten_up_to(f0)
    if self_derivative is None:
        a = self_derivative_by_jvp(vector_field, t, y, args)
    else:
        a = self_derivative(t, y, args)
    a_leaves = treedef.flatten_up_to(a)
    out = [yk + _phi1_dt(ak, dt) * fk for yk, fk, ak in zip(leaves, f_leaves, a_leaves)]
    return jtu.tree_unflatten(treedef, out)


def solver_step(
    solver: diffrax.AbstractSolver,
    vector_field: VectorField,
    t: Array,
    dt: float,
    y: PyTree,
    args: Any,
) -> PyTree:
    """One step of size `dt` of a diffrax solver on `dy/dt = vector_field(t, y, args)`.

    The solver state is initialised afresh every step (`solver.init`), which is correct
    for every solver, FSAL ones included (they re-evaluate the first stage), and keeps
    the neuron's state free of solver internals. The input `args` is held constant over
    the step.
    """
    term = diffrax.ODETerm(vector_field)
    t1 = t + dt
    solver_state = solver.init(term, t, t1, y, args)
    y1, _, _, _, _ = solver.step(term, t, t1, y, args, solver_state, made_jump=False)
    return y1


def integrate(
    solver: diffrax.AbstractSolver | None,
    vector_field: VectorField,
    t: Array,
    dt: float,
    y: PyTree,
    args: Any,
    self_derivative: VectorField | None = None,
) -> PyTree:
    """One step: exponential Euler when `solver` is `None`, else one diffrax step."""
    if solver is None:
        return exp_euler_step(vector_field, t, dt, y, args, self_derivative)
    return solver_step(solver, vector_field, t, dt, y, args)


def leaky_vector_field(V: Array, I: Array, tau: Array, V_rest: Array, R: Array) -> Array:
    """$dV/dt = (-(V - V_\\mathrm{rest}) + R I) / \\tau$, the leaky membrane of LIF, ALIF
    and the leaky integrator; parameters broadcast to the shape of `V`."""
    s = V.shape
    return (-(V - bcast(V_rest, s)) + bcast(R, s) * I) / bcast(tau, s)


def leaky_update(V: Array, I: Array, tau: Array, V_rest: Array, R: Array, dt: float) -> Array:
    """The exact solution of the leaky membrane over `dt` with `I` held constant:
    $V + (V_\\infty - V)(1 - e^{-\\Delta t/\\tau})$, $V_\\infty = V_\\mathrm{rest} + R I$."""
    s = V.shape
    # expm1: accurate when dt << tau.
    growth = -jnp.expm1(-dt / bcast(tau, s))
    V_inf = bcast(V_rest, s) + bcast(R, s) * I
    return V + (V_inf - V) * growth
