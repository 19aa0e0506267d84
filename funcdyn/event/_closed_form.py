"""Closed-form event dynamics of neurons with linear sub-threshold dynamics (LIF, IF and
the non-spiking leaky integrator) driven by exponential synaptic currents."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ._method import AbstractEventDynamics, AbstractEventMethod


def _exp_kernel(s: Array, tau_m: Array, tau_s: Array) -> Array:
    r"""$(e^{-s/\tau_s} - e^{-s/\tau_m}) / (1/\tau_m - 1/\tau_s)$, stable for every pair of
    time constants (including $\tau_s = \tau_m$, where it is $s e^{-s/\tau}$) and every
    $s \ge 0$, with the right derivative in the time constants everywhere."""
    d = 1.0 / tau_m - 1.0 / tau_s
    x = s * d
    em = jnp.exp(-s / tau_m)
    # Near tau_s == tau_m a series avoids 0/0 and keeps the derivative in d exact.
    small = jnp.abs(x) < 1e-3
    d_safe = jnp.where(small, jnp.ones_like(d), d)
    series = em * s * (1.0 + x / 2.0 + x * x / 6.0 + x * x * x / 24.0)
    # expm1 has no cancellation but overflows for large x; the plain difference is
    # accurate there (no cancellation once x >= 1).
    x_mid = jnp.minimum(x, 1.0)
    mid = em * jnp.expm1(x_mid) / d_safe
    large = (jnp.exp(-s / tau_s) - em) / d_safe
    return jnp.where(small, series, jnp.where(x < 1.0, mid, large))


def _inverse_phi(P: Array, d: Array) -> Array:
    """The `s` with `expm1(s d) / d == P` (the inverse of the kernel's growth function),
    NaN where there is none."""
    y = P * d
    small = jnp.abs(y) < 1e-3
    d_safe = jnp.where(small, jnp.ones_like(d), d)
    series = P * (1.0 - y / 2.0 + y * y / 3.0 - y * y * y / 4.0)
    y_safe = jnp.where(y > -1.0, y, jnp.zeros_like(y))
    exact = jnp.where(y > -1.0, jnp.log1p(y_safe) / d_safe, jnp.full_like(y, jnp.nan))
    return jnp.where(small, series, exact)


def safeguarded_newton(f, df, lo: Array, hi: Array, n_iter: int) -> Array:
    """The root of an increasing `f` bracketed by `f(lo) < 0 <= f(hi)` (elementwise):
    Newton steps, replaced by bisection whenever they leave the bracket."""

    def body(_, carry):
        x, lo, hi = carry
        fx = f(x)
        lo = jnp.where(fx < 0, x, lo)
        hi = jnp.where(fx >= 0, x, hi)
        dfx = df(x)
        step = x - fx / jnp.where(dfx > 0, dfx, jnp.ones_like(dfx))
        ok = (dfx > 0) & (step > lo) & (step < hi)
        return jnp.where(ok, step, 0.5 * (lo + hi)), lo, hi

    x, _, _ = jax.lax.fori_loop(0, n_iter, body, (0.5 * (lo + hi), lo, hi))
    return x


def first_crossing_unimodal(f, df, s_star: Array, S: Array, n_iter: int) -> Array:
    """The first `s` in `(0, S]` where `f` (with at most one critical point, at
    `s_star`, NaN or out of range when none) reaches 0 from below; `inf` where there is
    none, or where `f(0) >= 0` (no crossing *from below*)."""
    zero = jnp.zeros_like(S)
    f0 = f(zero)
    has_star = (s_star > 0) & (s_star < S)  # False for NaN
    s_c = jnp.where(has_star, s_star, S)
    f_c = f(s_c)
    fS = f(S)
    rising_to_star = (f0 < 0) & has_star & (f_c >= 0)
    rising_to_end = (f0 < 0) & ~rising_to_star & (fS >= 0)
    lo = jnp.where(rising_to_star, zero, jnp.where(has_star, s_c, zero))
    hi = jnp.where(rising_to_star, s_c, S)
    found = rising_to_star | rising_to_end
    # A bracket where nothing is found is replaced by [0, 1]: its iterations are unused.
    lo = jnp.where(found, lo, zero)
    hi = jnp.where(found, hi, jnp.ones_like(S))
    root = safeguarded_newton(f, df, lo, hi, n_iter)
    return jnp.where(found, root, jnp.full_like(S, jnp.inf))


class LinearDynamics(AbstractEventDynamics):
    """LIF / IF / leaky-integrator dynamics with an exponential synaptic current, solved
    in closed form between events. All parameters are arrays of shape `(N,)`."""

    kind: str = eqx.field(static=True)  # "lif", "if" or "li"
    reset_mode: str = eqx.field(static=True)
    n_iter: int = eqx.field(static=True)
    tau: Array
    V_rest: Array
    R: Array
    V_th: Array | None
    V_reset: Array | None
    tau_syn: Array

    @property
    def spiking(self) -> bool:
        return self.kind != "li"

    def _V(self, V0, I0, Iext, s):
        if self.kind == "if":
            return (
                V0
                + self.R * Iext * s / self.tau
                - self.R * I0 * self.tau_syn / self.tau * jnp.expm1(-s / self.tau_syn)
            )
        V_inf = self.V_rest + self.R * Iext
        return (
            V_inf
            + (V0 - V_inf) * jnp.exp(-s / self.tau)
            + self.R * I0 / self.tau * _exp_kernel(s, self.tau, self.tau_syn)
        )

    def _dV(self, V, I, Iext):
        if self.kind == "if":
            return self.R * (I + Iext) / self.tau
        return (-(V - self.V_rest) + self.R * (I + Iext)) / self.tau

    def _critical(self, V0, I0, Iext):
        """The time of the membrane's only extremum after the interval start (NaN when
        it has none)."""
        nan = jnp.full_like(V0, jnp.nan)
        I_safe = jnp.where(I0 != 0, I0, jnp.ones_like(I0))
        if self.kind == "if":
            ratio = -Iext / I_safe
            ok = (I0 != 0) & (ratio > 0) & (ratio < 1)
            r_safe = jnp.where(ok, ratio, jnp.ones_like(ratio))
            return jnp.where(ok, -self.tau_syn * jnp.log(r_safe), nan)
        V_inf = self.V_rest + self.R * Iext
        RI = self.R * I_safe
        P = self.tau_syn * (1.0 - (V0 - V_inf) / jnp.where(RI != 0, RI, jnp.ones_like(RI)))
        d = 1.0 / self.tau - 1.0 / self.tau_syn
        s = _inverse_phi(P, d)
        return jnp.where((I0 != 0) & (RI != 0) & (P > 0), s, nan)

    def propagate(self, t, y, I, Iext, s, hold):
        (V,) = y
        V_new = self._V(V, I, Iext, s)
        if hold is not None:
            V_new = jnp.where(hold, V, V_new)
        return (V_new,), I * jnp.exp(-s / self.tau_syn)

    def propagate_V_many(self, t, y, I, Iext, s, S, hold):
        (V,) = y
        V_new = self._V(V[None], I[None], Iext[None], s[:, None])
        if hold is not None:
            V_new = jnp.where(hold[None], V[None], V_new)
        return V_new

    def field(self, t, y, I, Iext, hold):
        (V,) = y
        dV = self._dV(V, I, Iext)
        if hold is not None:
            dV = jnp.where(hold, jnp.zeros_like(dV), dV)
        return (dV,), -I / self.tau_syn

    def threshold(self, y):
        return jnp.broadcast_to(self.V_th, y[0].shape)

    def crossing(self, t, y, I, Iext, S, eligible, hold):
        (V,) = y
        S = jnp.broadcast_to(S, V.shape)
        f = lambda s: self._V(V, I, Iext, s) - self.V_th
        df = lambda s: self._dV(
            self._V(V, I, Iext, s), I * jnp.exp(-s / self.tau_syn), Iext
        )
        s = first_crossing_unimodal(f, df, self._critical(V, I, Iext), S, self.n_iter)
        return jnp.where(eligible, s, jnp.full_like(s, jnp.inf))

    def reset(self, y, mask):
        (V,) = y
        if self.reset_mode == "zero":
            target = self.V_reset
        else:
            target = V - (self.V_th - self.V_reset)
        return (jnp.where(mask, target, V),)

    def interval_max(self, t, y, I, Iext, S, hold, V_end):
        (V,) = y
        S = jnp.broadcast_to(S, V.shape)
        end = V_end
        # Envelope theorem: the maximum moves with the parameters at a fixed s*.
        s_star = jax.lax.stop_gradient(self._critical(V, I, Iext))
        inside = (s_star > 0) & (s_star < S)
        mid = self._V(V, I, Iext, jnp.where(inside, s_star, jnp.zeros_like(S)))
        top = jnp.maximum(jnp.maximum(V, end), jnp.where(inside, mid, V))
        return top if hold is None else jnp.where(hold, V, top)


class ClosedForm(AbstractEventMethod):
    r"""Event-driven simulation in closed form, for neurons with linear sub-threshold
    dynamics: [`funcdyn.neurons.LIF`][], [`funcdyn.neurons.IF`][] and the non-spiking
    [`funcdyn.neurons.LeakyIntegrator`][], each fed by an exponential synaptic current
    $\tau_s \dot I = -I$ (plus an optional piecewise-constant current).

    Between two events the membrane is the analytic sum of two exponentials and a
    constant (IF: a line, an exponential and a constant), which has at most one
    extremum, found in closed form; the first threshold crossing is then bracketed
    exactly and polished by safeguarded Newton iterations. No time grid is used.

    **Arguments:**

    - `n_iter`: the number of Newton/bisection iterations per crossing (static). The
      default, `None`, is 40 in float64 and 20 in float32, each enough for round-off
      (measured on the Yin-Yang network: 20 iterations in float32 differ from 60 by
      at most one ulp); the result is also refined by the implicit-function step
      that carries the gradient.
    - `parallel`: for a feed-forward layer without an external current or record
      times whose neurons fire at most once (`tau_ref = inf`, the time-to-first-spike
      setting) or never (`LeakyIntegrator`), search the crossings of all
      inter-event intervals at once instead of event by event (default `True`). Both
      give the same spikes and gradients; the parallel search has no sequential loop
      over root searches and is several times faster. `False` always uses the event
      loop.
    """

    n_iter: int | None = eqx.field(static=True, default=None)
    parallel: bool = eqx.field(static=True, default=True)

    def __check_init__(self):
        n = self.n_iter
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
            raise ValueError(f"ClosedForm: `n_iter` must be None or an int >= 1, got {n!r}.")
        if not isinstance(self.parallel, bool):
            raise TypeError(f"ClosedForm: `parallel` must be a bool, got {self.parallel!r}.")

    def iterations(self, dtype) -> int:
        """`n_iter`, or the default for `dtype`."""
        if self.n_iter is not None:
            return self.n_iter
        return 40 if jnp.finfo(dtype).bits > 32 else 20
