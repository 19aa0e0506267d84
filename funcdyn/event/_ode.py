"""Event dynamics of any neuron given by its vector field: diffrax integration between
events and `diffrax.Event` root-finding of the threshold crossings."""

from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import optimistix as optx
from jaxtyping import Array

from ._method import AbstractEventDynamics, AbstractEventMethod


class ODE(AbstractEventMethod):
    r"""Event-driven simulation of any ODE neuron with `diffrax`: between events the
    neuron's own `vector_field` (plus the exponential synaptic current) is integrated
    with `diffrax.diffeqsolve`; a threshold crossing is located by `diffrax.Event` with
    a Newton root finder on the solver's dense output; the reset is applied at the event
    and integration resumes from there.

    Spike times are then refined, and differentiated, by the implicit function theorem
    on the integrated trajectory, $t^* \leftarrow t^* - (V(t^*) - \vartheta) / \dot V(t^*)$,
    so that gradients are $\partial t^*/\partial\theta = -(\partial V/\partial\theta) /
    \dot V$ at threshold.

    **Arguments:**

    - `solver`: a diffrax solver (default `diffrax.Tsit5()`).
    - `rtol`, `atol`: tolerances of the adaptive step-size controller (used when `steps`
      is None).
    - `steps`: `None` (adaptive steps) or an int: that many equal steps between two
      events. Equal steps make the simulated trajectory a smooth function of the
      parameters, so finite differences of the forward match the gradient to round-off.
    - `root_tol`: the tolerance of the event's bisection root finder (relative to the
      interval between events); the implicit-function step then refines the time to
      the integrated trajectory's root.
    - `max_steps`: the most solver steps between two events; more raises (diffrax).
    """

    solver: diffrax.AbstractSolver = eqx.field(static=True, default=diffrax.Tsit5())
    rtol: float = eqx.field(static=True, default=1e-8)
    atol: float = eqx.field(static=True, default=1e-8)
    steps: int | None = eqx.field(static=True, default=None)
    root_tol: float = eqx.field(static=True, default=1e-9)
    max_steps: int = eqx.field(static=True, default=4096)

    def __check_init__(self):
        if not isinstance(self.solver, diffrax.AbstractSolver):
            raise TypeError(
                f"ODE: `solver` must be a diffrax solver such as diffrax.Tsit5(), got "
                f"{self.solver!r}."
            )
        if self.steps is not None and (
            not isinstance(self.steps, int) or isinstance(self.steps, bool) or self.steps < 1
        ):
            raise ValueError(f"ODE: `steps` must be None or an int >= 1, got {self.steps!r}.")
        for name in ("rtol", "atol", "root_tol"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"ODE: `{name}` must be > 0, got {value!r}.")
        if not isinstance(self.max_steps, int) or self.max_steps < 1:
            raise ValueError(f"ODE: `max_steps` must be an int >= 1, got {self.max_steps!r}.")


class ODEDynamics(AbstractEventDynamics):
    """A neuron's `vector_field` with an exponential synaptic current, integrated by
    diffrax. `neuron` has its per-neuron arrays broadcast to `(N,)` (so the loop can be
    vmapped over neurons)."""

    neuron: Any
    tau_syn: Array
    method: ODE
    tuple_api: bool = eqx.field(static=True)
    has_threshold_fn: bool = eqx.field(static=True)
    has_on_spike: bool = eqx.field(static=True)
    reset_mode: str = eqx.field(static=True)

    @property
    def spiking(self) -> bool:
        return True

    def _neuron_field(self, t, y, I_total):
        if self.tuple_api:
            return tuple(self.neuron.vector_field(t, tuple(y), I_total))
        return (self.neuron.vector_field(t, y[0], I_total),)

    def field(self, t, y, I, Iext, hold):
        dy = self._neuron_field(t, y, I + Iext)
        if hold is not None:
            dy = (jnp.where(hold, jnp.zeros_like(dy[0]), dy[0]),) + tuple(dy[1:])
        return dy, -I / self.tau_syn

    def _solve(self, t, y, I, Iext, S, hold, saveat, event=None):
        # Integrated on a unit interval, time rescaled by S, so that the dependence on
        # the interval's length is an ordinary differentiable argument.
        def f(tau, state, args):
            yy, II = state
            dy, dI = self.field(t + S * tau, yy, II, Iext, hold)
            return jax.tree.map(lambda a: S * a, (dy, dI))

        m = self.method
        if m.steps is None:
            controller, dt0 = diffrax.PIDController(rtol=m.rtol, atol=m.atol), None
        else:
            controller, dt0 = diffrax.ConstantStepSize(), 1.0 / m.steps
        return diffrax.diffeqsolve(
            diffrax.ODETerm(f),
            m.solver,
            0.0,
            1.0,
            dt0,
            (tuple(y), I),
            saveat=saveat,
            stepsize_controller=controller,
            max_steps=m.max_steps,
            event=event,
        )

    def propagate(self, t, y, I, Iext, s, hold):
        sol = self._solve(t, y, I, Iext, s, hold, diffrax.SaveAt(t1=True))
        yy, II = jax.tree.map(lambda a: a[-1], sol.ys)
        if hold is not None:
            yy = (jnp.where(hold, y[0], yy[0]),) + tuple(yy[1:])
        return tuple(yy), II

    def propagate_V_many(self, t, y, I, Iext, s, S, hold):
        S_safe = jnp.where(S > 0, S, jnp.ones_like(S))
        ts = jnp.clip(s / S_safe, 0.0, 1.0)
        sol = self._solve(t, y, I, Iext, S, hold, diffrax.SaveAt(ts=ts))
        V = sol.ys[0][0]
        if hold is not None:
            V = jnp.where(hold[None], y[0][None], V)
        return V

    def threshold(self, y):
        if self.has_threshold_fn:
            # funcdyn's threshold hook may return a scalar for a shared threshold.
            return jnp.broadcast_to(self.neuron.threshold(tuple(y)), y[0].shape)
        return jnp.broadcast_to(self.neuron.V_th, y[0].shape)

    def crossing(self, t, y, I, Iext, S, eligible, hold):
        V = y[0]
        low = jnp.asarray(-jnp.finfo(V.dtype).max / 2, V.dtype)

        def gap(yy):
            return jnp.where(eligible, yy[0] - self.threshold(yy), low)

        def cond(t, y, args, **kwargs):
            return jnp.max(gap(y[0]))

        # Bisection within the step that changed sign: robust where the membrane runs
        # away (ExpIF/AdEx past V_T), where Newton on the interpolant can fail.
        root = optx.Bisection(
            rtol=self.method.root_tol, atol=self.method.root_tol, expand_if_necessary=True
        )
        event = diffrax.Event(cond, root_finder=root, direction=True)
        sol = self._solve(t, y, I, Iext, S, hold, diffrax.SaveAt(t1=True), event)
        hit = jnp.asarray(sol.event_mask)
        yy = jax.tree.map(lambda a: a[-1], sol.ys[0])
        j = jnp.argmax(gap(yy))
        s_hit = sol.ts[-1] * S
        which = (jnp.arange(V.shape[0]) == j) & hit & eligible
        return jnp.where(which, s_hit, jnp.full_like(V, jnp.inf))

    def reset(self, y, mask):
        V = y[0]
        V_reset = jnp.broadcast_to(self.neuron.V_reset, V.shape)
        if self.reset_mode == "zero":
            target = V_reset
        else:
            target = V - (self.threshold(y) - V_reset)
        V_new = jnp.where(mask, target, V)
        if not self.has_on_spike:
            return (V_new,) + tuple(y[1:])
        # The jumps of the event path do not depend on a step size (ALIF, whose jump
        # does, is refused when the dynamics are built).
        others = self.neuron.on_spike((V_new,) + tuple(y[1:]), mask.astype(V.dtype), None)
        return (V_new,) + tuple(others)

    def interval_max(self, t, y, I, Iext, S, hold, V_end):
        # Only the interval's ends: the ODE path does not locate interior maxima.
        return jnp.maximum(y[0], V_end)
