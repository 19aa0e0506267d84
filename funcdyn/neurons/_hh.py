"""The conductance-based Hodgkin-Huxley neuron."""

from typing import ClassVar

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from .._core._context import Context
from .._checks import bcast
from .._core._modes import Mode, resolve_mode
from ..typing import ParamSpec
from ..surrogate import InverseSquare, Surrogate
from ._base import AbstractNeuron
from ._integrate import integrate


def _single_precision(x: Array) -> bool:
    """Whether `x` has at most float32's precision: the series below are truncated for
    it (in float64 they would be far from rounding, so `expm1` is used there)."""
    return jnp.finfo(x.dtype).bits <= 32


def _vtrap(x: Array, k: float, exp_neg: Array | None = None) -> Array:
    """`x / (1 - exp(-x / k))`, continuous (= k) at `x = 0`; `exp_neg` is `exp(-x / k)`
    when the caller has it already (float32 only).

    In float32 this takes one `exp`, not `expm1` (about 2.5 times the cost of `exp` on
    XLA:CPU): for `|z| = |x / k| < 0.4` the series `k (1 + z/2 + z^2/12 - z^4/720)`
    (next term `z^6/30240`, below 2e-7 relative), elsewhere the direct formula, whose
    rounding `exp(-z) / |1 - exp(-z)|` is a few ulps there. Measured against float64
    over V in [-150, 150] mV, its largest error (11 ulps, from rounding `z`) is that of
    `z / -expm1(-z)`.
    """
    z = x * (1.0 / k)
    if not _single_precision(z):
        small = jnp.abs(z) < 1e-4
        z_safe = jnp.where(small, jnp.ones_like(z), z)
        return k * jnp.where(small, 1.0 + 0.5 * z, z_safe / -jnp.expm1(-z_safe))
    if exp_neg is None:
        exp_neg = jnp.exp(-z)
    z2 = z * z
    small = z2 < 0.16
    series = 1.0 + 0.5 * z + z2 * (1.0 / 12.0 - z2 * (1.0 / 720.0))
    # One division whose operands are selected (a division by 1 is exact): XLA then
    # keeps the selection inside the division's loop instead of copying it into every
    # consumer of the rate. The direct quotient is never formed at z = 0, so neither
    # the value nor the gradient sees its 0 / 0.
    num = jnp.where(small, series, z)
    den = jnp.where(small, 1.0, 1.0 - exp_neg)
    return k * (num / den)


def _decay_fraction(z: Array) -> Array:
    """`(1 - exp(-z)) / z` for `z >= 0`, equal to 1 at `z = 0`: the fraction of the
    distance to its steady state that a variable relaxing at rate `z / dt` covers in
    `dt`, over `z`.

    In float32, with one `exp`: the series `1 - z/2 + z^2/6 - z^3/24` below `z = 0.1`
    (next term `z^4/120`, below 1e-6 relative, where the direct form would lose digits
    to cancellation), the direct form above it.
    """
    small = z < (0.1 if _single_precision(z) else 1e-4)
    z_safe = jnp.where(small, jnp.ones_like(z), z)
    if not _single_precision(z):
        return jnp.where(small, 1.0 - 0.5 * z, -jnp.expm1(-z_safe) / z_safe)
    series = 1.0 - z * (0.5 - z * (1.0 / 6.0 - z * (1.0 / 24.0)))
    # Selected operands, one division (by 1 on the series side: exact), as in `_vtrap`.
    return jnp.where(small, series, 1.0 - jnp.exp(-z_safe)) / jnp.where(small, 1.0, z_safe)


def hh_rates(V: Array) -> tuple[Array, Array, Array, Array, Array, Array]:
    """The opening and closing rates (1/ms) `(alpha_m, beta_m, alpha_h, beta_h, alpha_n,
    beta_n)` of the squid-axon channels at potential `V` (mV, rest at -65 mV).

    Continuous at the removable singularities (`V = -40` and `-55` mV). In float32 the
    rates share three exponentials and each is within 20 ulps of its float64 value over
    [-150, 150] mV; in float64 each has its own `exp` (`expm1` near the singularities)."""
    if not _single_precision(V):
        alpha_m = 0.1 * _vtrap(V + 40.0, 10.0)
        beta_m = 4.0 * jnp.exp(-(V + 65.0) / 18.0)
        alpha_h = 0.07 * jnp.exp(-(V + 65.0) / 20.0)
        beta_h = jax.nn.sigmoid((V + 35.0) / 10.0)
        alpha_n = 0.01 * _vtrap(V + 55.0, 10.0)
        beta_n = 0.125 * jnp.exp(-(V + 65.0) / 80.0)
        return alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n
    # In float32 the six exponentials are three: exp(-(V + 40) / 10) and
    # exp(-(V + 35) / 10) are exp(-(V + 55) / 10) times a constant (e^1.5, e^2), and
    # exp(-(V + 65) / 20) is exp(-(V + 65) / 80) to the 4th. The exponentials are most
    # of a step's cost. Each shared one has the smallest argument of its group over the
    # physiological range, so rounding its argument costs no more than before: the
    # products add about 1 ulp (the accuracy test bounds them).
    e55 = jnp.exp(-(V + 55.0) * 0.1)
    e65 = jnp.exp(-(V + 65.0) * (1.0 / 80.0))
    e65_2 = e65 * e65
    alpha_m = 0.1 * _vtrap(V + 40.0, 10.0, e55 * _EXP_1_5)
    beta_m = 4.0 * jnp.exp(-(V + 65.0) * (1.0 / 18.0))
    alpha_h = 0.07 * (e65_2 * e65_2)
    beta_h = 1.0 / (1.0 + e55 * _EXP_2)
    alpha_n = 0.01 * _vtrap(V + 55.0, 10.0, e55)
    beta_n = 0.125 * e65
    return alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n


_EXP_1_5 = float(np.exp(1.5))  # exp(-(V + 40) / 10) = e^1.5 exp(-(V + 55) / 10)
_EXP_2 = float(np.exp(2.0))  # exp(-(V + 35) / 10) = e^2 exp(-(V + 55) / 10)


class HHState(eqx.Module):
    """The state of an [`funcdyn.neurons.HH`][] population: potential `V`, gating
    variables `m`, `h`, `n`, and the last `spike`."""

    V: Array
    m: Array
    h: Array
    n: Array
    spike: Array


class HH(AbstractNeuron):
    r"""Conductance-based Hodgkin-Huxley (1952) neurons with sodium, potassium and leak
    currents.

    $$C \frac{dV}{dt} = -\bar g_\mathrm{Na} m^3 h (V - E_\mathrm{Na})
      - \bar g_\mathrm{K} n^4 (V - E_\mathrm{K}) - g_L (V - E_L) + I(t)$$

    $$\frac{dx}{dt} = \alpha_x(V)(1 - x) - \beta_x(V)\,x, \qquad x \in \{m, h, n\}$$

    with the classic rates ([`funcdyn.neurons.hh_rates`][], mV and ms, rest near -65 mV).

    **Step semantics:** *integrate* `(V, m, h, n)` over `dt` with `I` held constant
    (default: exponential Euler with each variable linearised about the current point,
    exact for each gate and for `V` with the others frozen over the step; or one step of
    `solver`). There is no reset and no refractory period: the dynamics produce the
    spike shape. A *spike* is an upward crossing of `V_th`: `spike = spike_fn(V_new -
    V_th)` where `V_old < V_th`, 0 elsewhere. The output is the spike array.

    For a whole trajectory with adaptive steps use [`funcdyn.simulate`][]
    (`diffrax.diffeqsolve`, a PID controller by default).

    **Arguments:** `size`; per-neuron `E_Na` (50 mV), `g_Na` (120 mS/cm²), `E_K` (-77),
    `g_K` (36), `E_L` (-54.387), `g_L` (0.3), `C` (1 µF/cm²), `V_th` (20 mV, spike
    detection); `V_initializer` (default -65 mV; the gates start at their steady state
    for the initial `V`); `spike_fn`; `solver`; `mode`, `name`.

    ```python
    hh = funcdyn.neurons.HH(1)
    _, spikes, _ = funcdyn.run(hh, jnp.full((5000, 1), 10.0), dt=0.01)
    sol = hh.simulate(10.0, 0.0, 50.0, saveat=diffrax.SaveAt(ts=jnp.linspace(0, 50, 501)))
    ```
    """

    E_Na: Array
    g_Na: Array
    E_K: Array
    g_K: Array
    E_L: Array
    g_L: Array
    C: Array
    V_th: Array
    spike_fn: Surrogate
    solver: diffrax.AbstractSolver | None = eqx.field(static=True)

    variables: ClassVar[tuple[str, ...]] = ("V", "m", "h", "n")

    def __init__(
        self,
        size: int | tuple[int, ...],
        *,
        E_Na: ParamSpec = 50.0,
        g_Na: ParamSpec = 120.0,
        E_K: ParamSpec = -77.0,
        g_K: ParamSpec = 36.0,
        E_L: ParamSpec = -54.387,
        g_L: ParamSpec = 0.3,
        C: ParamSpec = 1.0,
        V_th: ParamSpec = 20.0,
        spike_fn: Surrogate = InverseSquare(),
        V_initializer: ParamSpec = -65.0,
        train_state: bool = False,
        solver: diffrax.AbstractSolver | None = None,
        mode: Mode | None = None,
        name: str | None = None,
        key: PRNGKeyArray | None = None,
    ):
        self._set_size(size)
        self.E_Na = self._parameter(E_Na, "E_Na", key)
        self.g_Na = self._parameter(g_Na, "g_Na", key, nonnegative=True)
        self.E_K = self._parameter(E_K, "E_K", key)
        self.g_K = self._parameter(g_K, "g_K", key, nonnegative=True)
        self.E_L = self._parameter(E_L, "E_L", key)
        self.g_L = self._parameter(g_L, "g_L", key, nonnegative=True)
        self.C = self._parameter(C, "C", key, positive=True)
        self.V_th = self._parameter(V_th, "V_th", key)
        if not callable(spike_fn):
            raise TypeError(f"HH: `spike_fn` must be a callable such as "
                            f"funcdyn.surrogate.Sigmoid(), got {spike_fn!r}.")
        self.spike_fn = spike_fn
        self.solver = self._check_solver(solver)
        self.mode = resolve_mode(mode)
        self.name = name
        self._set_initial_potential(V_initializer, train_state, key)

    def default_V(self) -> Array:
        return jnp.asarray(-65.0, self.E_L.dtype)

    def vector_field(self, t: Array, y: tuple[Array, Array, Array, Array], I: ArrayLike):
        """`(dV/dt, dm/dt, dh/dt, dn/dt)` for `y = (V, m, h, n)`; `I` shaped like `V` or a
        scalar."""
        V, m, h, n = y
        s = V.shape
        am, bm, ah, bh, an, bn = hh_rates(V)
        I_Na = bcast(self.g_Na, s) * m * m * m * h * (V - bcast(self.E_Na, s))
        n2 = n * n
        I_K = bcast(self.g_K, s) * n2 * n2 * (V - bcast(self.E_K, s))
        I_L = bcast(self.g_L, s) * (V - bcast(self.E_L, s))
        dV = (I - I_Na - I_K - I_L) / bcast(self.C, s)
        return dV, am * (1.0 - m) - bm * m, ah * (1.0 - h) - bh * h, an * (1.0 - n) - bn * n

    def self_derivative(self, t: Array, y: tuple[Array, Array, Array, Array], I: ArrayLike):
        """Each rate's derivative with respect to its own variable: the total conductance
        over `C` (negated) for `V`, $-(\\alpha_x + \\beta_x)$ for each gate."""
        V, m, h, n = y
        s = V.shape
        am, bm, ah, bh, an, bn = hh_rates(V)
        n2 = n * n
        g = bcast(self.g_Na, s) * m * m * m * h + bcast(self.g_K, s) * n2 * n2 + bcast(self.g_L, s)
        return -g / bcast(self.C, s), -(am + bm), -(ah + bh), -(an + bn)

    def update(self, y: tuple[Array, Array, Array, Array], I: Array, ctx: Context):
        r"""`y = (V, m, h, n)` integrated over one step of `ctx.dt` with `I` held
        constant: one step of `solver`, or (`solver=None`, the default) exponential
        Euler in closed form.

        Each variable is linear in itself with the others frozen over the step, so it
        relaxes exactly: a gate towards $x_\infty = \alpha_x / (\alpha_x + \beta_x)$
        with rate $\alpha_x + \beta_x$, and `V` towards the potential where the
        frozen conductances $G = \bar g_\mathrm{Na} m^3 h + \bar g_\mathrm{K} n^4 +
        g_L$ balance `I`, with rate $G / C$:

        $$x' = x_\infty + (x - x_\infty)\,e^{-(\alpha_x + \beta_x)\Delta t}, \qquad
          V' = V + \Delta t \frac{dV}{dt}\,\frac{1 - e^{-z}}{z}, \quad z = \frac{G
          \Delta t}{C}.$$

        This is [`funcdyn.neurons.exp_euler_step`][] on `vector_field` and
        `self_derivative`, written with the steady states so that the rates are
        evaluated once and each variable costs one `exp` (the generic form needs an
        `expm1` and guards per variable, about twice the cost of the whole step here).
        Results agree to float rounding.
        """
        if self.solver is not None:
            return integrate(self.solver, self.vector_field, ctx.t, ctx.dt, y, I)
        dt = ctx.dt
        V, m, h, n = y
        s = V.shape
        am, bm, ah, bh, an, bn = hh_rates(V)

        def relax(x, alpha, beta):
            # alpha + beta > 0 for every V: the gates' rates never vanish together.
            rate = alpha + beta
            x_inf = alpha / rate
            return x_inf + (x - x_inf) * jnp.exp(-dt * rate)

        n2 = n * n
        g_Na = bcast(self.g_Na, s) * m * m * m * h
        g_K = bcast(self.g_K, s) * n2 * n2
        g_L = bcast(self.g_L, s)
        dt_C = bcast(dt / self.C, s)
        G = g_Na + g_K + g_L
        dV_dt = (I + g_Na * bcast(self.E_Na, s) + g_K * bcast(self.E_K, s)
                 + g_L * bcast(self.E_L, s) - G * V) * dt_C
        growth = _decay_fraction(G * dt_C)
        return V + dV_dt * growth, relax(m, am, bm), relax(h, ah, bh), relax(n, an, bn)

    def init_state(
        self, batch_size: int | None = None, *, key: PRNGKeyArray | None = None
    ) -> HHState:
        """`V` from `V_initializer` (default -65 mV) and each gate at its steady state
        $x_\\infty(V) = \\alpha_x / (\\alpha_x + \\beta_x)$."""
        V = self.initial_V(batch_size, key)
        am, bm, ah, bh, an, bn = hh_rates(V)
        return HHState(
            V=V,
            m=am / (am + bm),
            h=ah / (ah + bh),
            n=an / (an + bn),
            spike=jnp.zeros(V.shape, V.dtype),
        )

    def __call__(self, state: HHState, x: Array | None, ctx: Context) -> tuple[HHState, Array]:
        self.check_state(state)
        y = (self.check_ranges(state.V), state.m, state.h, state.n)
        I = self.check_input(x, state.V)
        V, m, h, n = self.update(y, I, ctx)
        V_th = bcast(self.V_th, V.shape)
        spike = self.spike_fn(V - V_th)
        # An upward crossing only. A product, not `where`, so that a NaN potential
        # (a NaN spike) stays NaN.
        spike = spike * (state.V < V_th).astype(spike.dtype)
        return HHState(V=V, m=m, h=h, n=n, spike=spike), spike

    def simulate(self, I_ext, t0: float, t1: float, *, state: HHState | None = None,
                 **options) -> diffrax.Solution:
        """The whole trajectory with adaptive steps: `funcdyn.simulate(self, I_ext, t0,
        t1, state=state, **options)` (see [`funcdyn.simulate`][]). `sol.ys` is the tuple
        `(V, m, h, n)`, each with a leading time axis."""
        from .._simulate import simulate

        return simulate(self, I_ext, t0, t1, state=state, **options)
