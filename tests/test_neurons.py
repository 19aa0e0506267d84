import math

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcdyn as fd

N = fd.neurons


def _run(model, xs, dt, **kw):
    return fd.run(model, xs, dt=dt, **kw)


# -- LIF numerics ---------------------------------------------------------------------


def test_lif_membrane_trace_matches_closed_form():
    # Subthreshold constant current: exponential Euler is exact, so only rounding remains.
    tau, R, I, V_rest, dt, T = 10.0, 2.0, 3.0, -1.0, 0.1, 500
    lif = N.LIF(4, tau=tau, V_rest=V_rest, V_reset=-5.0, V_th=100.0, R=R)
    _, _, rec = _run(lif, jnp.full((T, 4), I), dt, monitors={"V": lambda s: s.V})
    t = dt * np.arange(1, T + 1)
    expected = V_rest + R * I * (1 - np.exp(-t / tau))
    err = np.max(np.abs(np.asarray(rec["V"])[:, 0] - expected))
    assert err < 2e-5, err  # float32 rounding over 500 steps
    # LeakyIntegrator: the same closed form, and its output is V.
    li = N.LeakyIntegrator(4, tau=tau, V_rest=V_rest, R=R)
    _, V, _ = _run(li, jnp.full((T, 4), I), dt)
    assert np.max(np.abs(np.asarray(V)[:, 0] - expected)) < 2e-5


@pytest.mark.parametrize("tau_ref", [0.0, 2.0])
def test_lif_firing_rate_matches_closed_form(tau_ref):
    # Rate 1/(tau_ref + tau ln((RI + V_rest - V_reset)/(RI + V_rest - V_th))). On the dt grid
    # the spike comes at the first step past the continuous crossing and the refractory
    # hold is round(tau_ref/dt) steps, so each interval is longer by less than one dt.
    tau, R, V_rest, V_reset, V_th, dt = 10.0, 1.0, 0.0, -0.5, 1.0, 0.1
    currents = np.array([1.2, 1.5, 2.0, 3.0, 5.0])
    lif = N.LIF(5, tau=tau, V_rest=V_rest, V_reset=V_reset, V_th=V_th, R=R, tau_ref=tau_ref)
    T = 8000
    _, spikes, _ = _run(lif, jnp.broadcast_to(jnp.asarray(currents, jnp.float32), (T, 5)), dt)
    spikes = np.asarray(spikes)
    for j, I in enumerate(currents):
        times = np.nonzero(spikes[:, j])[0] * dt
        isi = np.diff(times)
        period = tau_ref + tau * math.log((R * I + V_rest - V_reset) / (R * I + V_rest - V_th))
        assert len(isi) > 10
        assert np.all(isi >= period - 1e-3) and np.all(isi <= period + dt + 1e-3), (isi, period)
        rate, expected = 1 / isi.mean(), 1 / period
        assert abs(rate - expected) <= expected * dt / period + 1e-6


def test_lif_subtract_reset_and_detach():
    lif = N.LIF(1, tau=10.0, V_rest=0.0, V_reset=0.0, V_th=1.0, reset="subtract")
    state = N.LIFState(V=jnp.array([0.9]), spike=jnp.zeros(1), refractory=None)
    state, s = lif(state, jnp.array([30.0]), fd.Context(dt=1.0))
    V_int = 30.0 + (0.9 - 30.0) * math.exp(-0.1)
    assert float(s[0]) == 1.0
    np.testing.assert_allclose(state.V, [V_int - 1.0], rtol=1e-6)
    zero = N.LIF(1, tau=10.0, V_rest=0.0, V_reset=0.0, V_th=1.0)
    state, _ = zero(zero.init_state(), jnp.array([30.0]), fd.Context(dt=1.0))
    np.testing.assert_allclose(state.V, [0.0])

    # detach_reset cuts the reset's path: dV/dV_th after one spiking step differs.
    def dV(detach):
        def f(V_th):
            m = N.LIF(1, tau=10.0, V_rest=0.0, V_reset=0.0, V_th=1.0, detach_reset=detach)
            m = eqx.tree_at(lambda m: m.V_th, m, V_th)
            st, _ = m(m.init_state(), jnp.array([30.0]), fd.Context(dt=1.0))
            return st.V[0]

        return jax.grad(f)(jnp.array(1.0))

    assert float(dV(True)) == 0.0
    assert float(dV(False)) != 0.0


def test_lif_refractory_holds_for_round_tau_ref_over_dt_steps():
    lif = N.LIF(1, tau=1.0, V_rest=0.0, V_reset=0.0, V_th=1.0, tau_ref=1.0)
    _, spikes, rec = _run(lif, jnp.full((40, 1), 100.0), 0.1, monitors=lambda s: s.V)
    steps = np.nonzero(np.asarray(spikes)[:, 0])[0]
    np.testing.assert_array_equal(np.diff(steps), 11)  # 10 held steps, then one to cross
    held = np.asarray(rec)[steps[0] + 1 : steps[0] + 11, 0]
    np.testing.assert_array_equal(held, 0.0)


def test_lif_per_neuron_and_trainable_parameters():
    tau = jnp.array([5.0, 10.0, 20.0])
    with fd.training_environment():
        lif = N.LIF(3, tau=tau, V_th=jnp.array([1.0, 2.0, 3.0]), V_reset=0.0)
    params, _ = eqx.partition(lif, fd.trainable(lif))
    leaves = jax.tree_util.tree_leaves(params)
    assert any(leaf is lif.tau for leaf in leaves) and any(leaf is lif.V_th for leaf in leaves)
    state = lif.init_state(2)
    assert state.V.shape == (2, 3)
    state, s = lif(state, jnp.ones((2, 3)), fd.Context(dt=1.0))
    np.testing.assert_allclose(state.V[0], 1.0 * (1 - np.exp(-1.0 / np.asarray(tau))), rtol=1e-6)


def test_solver_argument_matches_exact_for_small_dt():
    lif_exact = N.LIF(2, tau=10.0, V_th=100.0)
    lif_tsit = N.LIF(2, tau=10.0, V_th=100.0, solver=diffrax.Tsit5())
    xs = jnp.full((50, 2), 5.0)
    _, _, a = _run(lif_exact, xs, 0.5, monitors=lambda s: s.V)
    _, _, b = _run(lif_tsit, xs, 0.5, monitors=lambda s: s.V)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_input_group_passes_through():
    ig = N.InputGroup((2, 3), mode=fd.batching_mode)
    x = jnp.arange(12.0).reshape(2, 2, 3)
    st, y = ig(ig.init_state(2), x, fd.Context())
    assert st is None
    np.testing.assert_array_equal(y, x)


# -- nonlinear models: convergence orders and HH spike times --------------------------


def _reference_final(model, I, T):
    """dV/dt integrated to T by diffrax Tsit5 with rtol = atol = 1e-12 (float64)."""
    state = model.init_state()
    names = getattr(model, "variables", ("V", "m", "h", "n"))
    y0 = tuple(getattr(state, v) for v in names)
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(model.vector_field),
        diffrax.Tsit5(),
        0.0,
        T,
        0.01,
        y0,
        args=I,
        stepsize_controller=diffrax.PIDController(rtol=1e-12, atol=1e-12),
        max_steps=100_000,
    )
    return float(sol.ys[0][-1, 0])


def _slope(make, solver, I, T, dts, ref):
    errs = []
    for dt in dts:
        final, spikes, _ = _run(make(solver), jnp.full((int(round(T / dt)), 1), I), dt)
        assert float(spikes.sum()) == 0.0  # subthreshold: no reset in the way
        errs.append(abs(float(final.V[0]) - ref))
    return np.polyfit(np.log(dts), np.log(errs), 1)[0], errs


# (model, input, solver, expected order). Exponential Euler is order 2 on one variable
# (exponential Rosenbrock-Euler) and order 1 with several (the others are frozen).
CONVERGENCE = [
    ("QuaIF", None, 2.0),
    ("QuaIF", diffrax.Euler(), 1.0),
    ("QuaIF", diffrax.Heun(), 2.0),
    ("AdExIF", None, 1.0),
    ("AdExIF", diffrax.Heun(), 2.0),
    ("HH", diffrax.Heun(), 2.0),
    ("HH", diffrax.Bosh3(), 3.0),
]
_SLOW_CONVERGENCE = {("AdExIF", "Heun"), ("HH", "Heun"), ("HH", "Bosh3")}
_SUBTHRESHOLD = {
    "QuaIF": (lambda s: N.QuaIF(1, V_initializer=-52.0, solver=s), 2.0),
    "AdExIF": (lambda s: N.AdExIF(1, V_initializer=-60.0, solver=s), 5.0),
    "HH": (lambda s: N.HH(1, solver=s), 2.0),
}


@pytest.mark.parametrize(
    "name, solver, order",
    [
        pytest.param(
            n,
            s,
            o,
            id=f"{n}-{type(s).__name__}",
            marks=pytest.mark.slow if (n, type(s).__name__) in _SLOW_CONVERGENCE else (),
        )
        for n, s, o in CONVERGENCE
    ],
)
def test_convergence_order(name, solver, order):
    # Log-log slope of the final-V error against a Tsit5 reference, over dt = 0.2 ... 0.05
    # ms on an 8 ms subthreshold run in float64. Measured: QuaIF 2.00 / 0.99 / 2.00,
    # AdExIF 0.99 / 2.00, HH Heun 2.01, HH Bosh3 3.3 (pre-asymptotic).
    make, I = _SUBTHRESHOLD[name]
    with jax.enable_x64(True):
        ref = _reference_final(make(None), jnp.full((1,), I), 8.0)
        slope, errs = _slope(make, solver, I, 8.0, [0.2, 0.1, 0.05], ref)
    assert abs(slope - order) < 0.15 + 0.2 * (order > 2), (slope, errs)


def _crossings(ts, V, th):
    up = np.nonzero((V[:-1] < th) & (V[1:] >= th))[0]
    return ts[up] + (th - V[up]) / (V[up + 1] - V[up]) * (ts[up + 1] - ts[up])


def _hh_spike_times(T):
    """Reference spike times of HH at I = 10: Tsit5, rtol = atol = 1e-8, sampled every
    2 us with linear interpolation of the crossing of V_th = 20 mV."""
    hh = N.HH(1)
    ts = np.arange(0.0, T, 0.002)
    sol = hh.simulate(
        10.0, 0.0, T, rtol=1e-8, atol=1e-8, saveat=diffrax.SaveAt(ts=jnp.asarray(ts))
    )
    assert sol.result == diffrax.RESULTS.successful
    return _crossings(ts, np.asarray(sol.ys[0])[:, 0], 20.0)


@pytest.mark.parametrize("T", [20.0, pytest.param(50.0, marks=pytest.mark.slow)])
def test_hh_spike_times_match_diffrax_reference(T):
    # Measured at T = 50 (4 spikes): max spike-time error at dt = 0.01 ms is 0.26 ms for
    # exponential Euler, 0.023 for Euler, 0.0097 for Heun and Tsit5 (on the step grid);
    # interpolating the crossing between steps, 1.1e-3 (Heun) and 6.9e-5 ms (Tsit5).
    with jax.enable_x64(True):
        ref = _hh_spike_times(T)
        assert len(ref) >= 2 and abs(ref[0] - 1.967) < 0.01
        dt = 0.01
        steps = int(round(T / dt))
        bounds = {None: 0.3 * T / 50 + dt, diffrax.Tsit5(): 0.011}
        if T > 20:
            bounds.update({diffrax.Euler(): 0.03, diffrax.Heun(): 0.011})
        for solver, bound in bounds.items():
            _, spikes, V = _run(
                N.HH(1, solver=solver), jnp.full((steps, 1), 10.0), dt, monitors=lambda s: s.V
            )
            k = np.nonzero(np.asarray(spikes)[:, 0])[0]
            assert len(k) == len(ref), (solver, k, ref)
            t_step = (k + 1) * dt  # a spike is reported at the end of its step
            assert np.max(np.abs(t_step - ref)) < bound, (solver, t_step, ref)
            if isinstance(solver, diffrax.Tsit5):
                t_grid = dt * np.arange(steps + 1)
                V_all = np.concatenate([[-65.0], np.asarray(V)[:, 0]])
                assert np.max(np.abs(_crossings(t_grid, V_all, 20.0) - ref)) < 2e-4
        # Exponential Euler's spike times converge at first order: halving dt halves
        # the error.
        dt = 0.02
        _, spikes, _ = _run(N.HH(1), jnp.full((int(round(T / dt)), 1), 10.0), dt)
        k = np.nonzero(np.asarray(spikes)[:, 0])[0]
        err_coarse = np.max(np.abs((k + 1) * dt - ref))
        _, spikes, _ = _run(N.HH(1), jnp.full((steps, 1), 10.0), 0.01)
        err_fine = np.max(np.abs((np.nonzero(np.asarray(spikes)[:, 0])[0] + 1) * 0.01 - ref))
        assert 1.6 < err_coarse / err_fine < 2.4, (err_coarse, err_fine)


def test_hh_simulate_with_time_dependent_current_and_rest():
    hh = N.HH(1)
    # A pulse from 5 to 6 ms fires exactly one spike, after the pulse starts; before it,
    # the resting state is a fixed point (to the rounding of E_L).
    ts = jnp.linspace(0.0, 20.0, 2001)
    pid = diffrax.PIDController(rtol=1e-5, atol=1e-5, jump_ts=jnp.array([5.0, 6.0]))
    sol = hh.simulate(
        lambda t: jnp.where((t > 5.0) & (t < 6.0), 40.0, 0.0),
        0.0,
        20.0,
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=pid,
    )
    V = np.asarray(sol.ys[0])[:, 0]
    times = _crossings(np.asarray(ts), V, 20.0)
    assert len(times) == 1 and 5.0 < times[0] < 8.0
    assert np.max(np.abs(V[:500] + 65.0)) < 0.05


def _hh_states(n, seed=0):
    """Random HH states and currents, with V on and next to the removable singularities
    of the rates (-40 and -55 mV)."""
    rng = np.random.default_rng(seed)
    V = np.concatenate([rng.uniform(-150.0, 150.0, n), [-40.0, -55.0],
                        -40.0 + rng.uniform(-1e-3, 1e-3, 200), -55.0 + rng.uniform(-1e-3, 1e-3, 200)])
    k = len(V)
    return V, rng.uniform(0, 1, k), rng.uniform(0, 1, k), rng.uniform(0, 1, k), rng.uniform(0, 30, k)


def _hh_step(hh, V, m, h, n, I, dt, dtype):
    y = [jnp.asarray(a, dtype) for a in (V, m, h, n)]
    state = N.HHState(V=y[0], m=y[1], h=y[2], n=y[3], spike=jnp.zeros_like(y[0]))
    ctx = fd.Context.for_step(jnp.asarray(0, jnp.int32), dt=dt, t0=0.0, fit=False, key=None)
    new, _ = jax.jit(lambda s, x: hh(s, x, ctx))(state, jnp.asarray(I, dtype))
    return [np.asarray(a, np.float64) for a in (new.V, new.m, new.h, new.n)]


def _hh_generic_step_float64(V, m, h, n, I, dt):
    """The generic exponential-Euler step (`exp_euler_step` on the vector field and the
    closed-form self-derivatives), in float64."""
    with jax.enable_x64(True):
        hh = N.HH(len(V), E_Na=jnp.float64(50.0), g_Na=jnp.float64(120.0),
                  E_K=jnp.float64(-77.0), g_K=jnp.float64(36.0), E_L=jnp.float64(-54.387),
                  g_L=jnp.float64(0.3), C=jnp.float64(1.0), V_th=jnp.float64(20.0))
        y = tuple(jnp.asarray(a, jnp.float64) for a in (V, m, h, n))
        out = N.exp_euler_step(hh.vector_field, 0.0, dt, y, jnp.asarray(I, jnp.float64),
                               hh.self_derivative)
        return hh, [np.asarray(a) for a in out]


@pytest.mark.parametrize("dt", [0.01, 0.1])
def test_hh_default_step_is_the_generic_exponential_euler_step(dt):
    # HH's closed-form step (steady states, one exp per variable) is the generic
    # exponential-Euler step to float rounding: in float64 to ~1e-13; in float32 it is
    # within an ulp of how close the generic step run in float32 comes to the float64
    # step (ulps of max(|V|, 64 mV) for V, of 1 for the gates, which lie in [0, 1]).
    # Measured at dt = 0.01: V 3.8 (generic 3.9), m 1.3 (2.3), h 1.0 (0.5), n 1.1 (0.5).
    V, m, h, n, I = _hh_states(20_000)
    hh64, ref = _hh_generic_step_float64(V, m, h, n, I, dt)
    with jax.enable_x64(True):
        out64 = _hh_step(hh64, V, m, h, n, I, dt, jnp.float64)
    for a, b in zip(out64, ref):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    hh = N.HH(len(V))
    out32 = _hh_step(hh, V, m, h, n, I, dt, jnp.float32)
    y32 = tuple(jnp.asarray(a, jnp.float32) for a in (V, m, h, n))
    generic32 = jax.jit(lambda y, x: N.exp_euler_step(hh.vector_field, 0.0, dt, y, x,
                                                      hh.self_derivative))(
        y32, jnp.asarray(I, jnp.float32))
    generic32 = [np.asarray(a, np.float64) for a in generic32]
    assert np.all(np.isfinite(np.stack(out32)))
    ulp_V = np.spacing(np.maximum(np.abs(ref[0]), 64.0).astype(np.float32)).astype(np.float64)
    ulp_1 = float(np.spacing(np.float32(1.0)))
    err = lambda out: [np.max(np.abs(out[0] - ref[0]) / ulp_V)] + [  # noqa: E731
        np.max(np.abs(a - b)) / ulp_1 for a, b in zip(out[1:], ref[1:])]
    for e, e_generic in zip(err(out32), err(generic32)):
        assert e < 1.25 * e_generic + 1.0, (err(out32), err(generic32))
    assert max(err(out32)) < 6


def test_hh_rates_float32_accuracy_and_gradient_at_the_singularities():
    # alpha_m and alpha_n (x / (1 - exp(-x / 10)) with its removable singularity) in
    # float32 are as accurate as with expm1: within 12 ulps of float64 (from rounding
    # x / 10), continuous at the singular points, with finite gradients there.
    V = np.concatenate([np.linspace(-150.0, 150.0, 300_001), np.linspace(-40.5, -39.5, 100_001),
                        np.linspace(-55.5, -54.5, 100_001)])
    with jax.enable_x64(True):
        ref = [np.asarray(r) for r in N.hh_rates(jnp.asarray(V.astype(np.float32), jnp.float64))]
    got = [np.asarray(r, np.float64) for r in jax.jit(N.hh_rates)(jnp.asarray(V, jnp.float32))]
    for k in (0, 4):  # alpha_m, alpha_n
        rel = np.abs(got[k] - ref[k]) / np.abs(ref[k])
        assert np.max(rel) < 12 * 2.0**-24, (k, np.max(rel) / 2.0**-24)
    # The float32 rates share three exponentials (alpha_m, alpha_n, beta_h one; alpha_h,
    # beta_n another): each rate stays within 20 ulps of float64 over the whole range
    # (measured: 10.6, 17.2, 17.6, 12.0, 11.6, 5.0; mostly the rounding of V + c).
    for k in range(6):
        rel = np.abs(got[k] - ref[k]) / np.abs(ref[k])
        assert np.max(rel) < 20 * 2.0**-24, (k, np.max(rel) / 2.0**-24)
    rates = N.hh_rates(jnp.array([-40.0, -55.0]))
    np.testing.assert_allclose([rates[0][0], rates[4][1]], [1.0, 0.1], rtol=1e-7)
    grad = jax.grad(lambda v: N.hh_rates(v)[0] + N.hh_rates(v)[4])
    for v in (-40.0, -55.0, -40.0 + 1e-3, -55.0 - 1e-3):
        g = float(grad(jnp.float32(v)))
        assert np.isfinite(g) and g > 0, (v, g)


def test_hh_default_step_without_conductances_is_euler():
    # With every conductance 0, V integrates the current: V' = V + dt I / C exactly
    # (no division by the vanishing conductance).
    hh = N.HH(3, g_Na=0.0, g_K=0.0, g_L=0.0, C=2.0)
    V, m, h, n, I = (np.array([-65.0, 0.0, 30.0]), np.full(3, 0.1), np.full(3, 0.5),
                     np.full(3, 0.3), np.array([1.0, -4.0, 10.0]))
    out = _hh_step(hh, V, m, h, n, I, 0.1, jnp.float32)
    np.testing.assert_allclose(out[0], V + 0.1 * I / 2.0, rtol=1e-6)


def test_exp_euler_helper_is_exact_for_linear_fields():
    f = lambda t, y, a: (-(y[0] - a) / 4.0, -2.0 * y[1])
    y = (jnp.array([1.0, -1.0]), jnp.array([0.5, 2.0]))
    y1 = N.exp_euler_step(f, 0.0, 0.3, y, jnp.array(3.0))
    np.testing.assert_allclose(
        y1[0], 3.0 + (np.array([1.0, -1.0]) - 3.0) * np.exp(-0.3 / 4), rtol=1e-6
    )
    np.testing.assert_allclose(y1[1], np.array([0.5, 2.0]) * np.exp(-0.6), rtol=1e-6)
    y2 = N.solver_step(diffrax.Euler(), f, 0.0, 0.3, y, jnp.array(3.0))
    np.testing.assert_allclose(y2[1], np.array([0.5, 2.0]) * 0.4, rtol=1e-6)


# -- model behaviours ---------------------------------------------------------------------


def test_alif_threshold_adapts_and_slows_firing():
    xs = jnp.full((3000, 2), 1.5)
    alif = N.ALIF(2, tau=20.0, tau_a=200.0, beta=jnp.array([0.0, 1.8]))
    _, spikes, a = _run(alif, xs, 1.0, monitors=lambda s: s.a)
    counts = np.asarray(spikes).sum(0)
    assert counts[0] > 1.1 * counts[1] > 0  # adaptation lowers the rate
    # a jumps by 1 - exp(-dt/tau_a) at each spike and decays in between.
    k = int(np.nonzero(np.asarray(spikes)[:, 1])[0][0])
    np.testing.assert_allclose(a[k, 1], 1 - math.exp(-1 / 200.0), rtol=1e-5)
    np.testing.assert_allclose(a[k + 1, 1], a[k, 1] * math.exp(-1 / 200.0), rtol=1e-5)


def test_adex_adaptation_and_izhikevich_regular_spiking():
    ad = N.AdExIF(1, a=0.0, b=5.0, tau_w=100.0)
    _, spikes, w = _run(ad, jnp.full((4000, 1), 30.0), 0.05, monitors=lambda s: s.w)
    k = np.nonzero(np.asarray(spikes)[:, 0])[0]
    isi = np.diff(k)
    assert len(k) > 3 and isi[-1] > isi[0]  # spike-frequency adaptation
    np.testing.assert_allclose(w[k[0], 0], 5.0, rtol=1e-5)  # w jumps by b
    izh = N.Izhikevich(1)
    _, spikes, rec = _run(izh, jnp.full((10000, 1), 10.0), 0.1, monitors=lambda s: s.V)
    k = np.nonzero(np.asarray(spikes)[:, 0])[0]
    assert len(k) > 5
    np.testing.assert_allclose(np.asarray(rec)[k, 0], -65.0, atol=1e-4)  # reset to c
    assert np.diff(k)[-1] >= np.diff(k)[0]  # regular spiking adapts


def test_gif_tonic_spiking_and_threshold_jump():
    gif = N.GIF(1, A1=0.5, R1=0.0)
    _, spikes, th = _run(gif, jnp.full((10000, 1), 1.5), 0.1, monitors=lambda s: s.V_th)
    k = np.nonzero(np.asarray(spikes)[:, 0])[0]
    assert len(k) > 3
    assert np.all(np.asarray(th)[k, 0] >= -60.0)  # Θ <- max(Θ_reset, Θ)


def test_recurrent_lif_adds_recurrent_current():
    W = jnp.array([[0.0, 5.0], [0.0, 0.0]])
    rlif = N.RecurrentLIF(2, W_rec_initializer=W, tau=10.0, V_rest=0.0, V_reset=0.0, V_th=1.0)
    state = N.LIFState(V=jnp.zeros(2), spike=jnp.array([1.0, 0.0]), refractory=None)
    state, _ = rlif(state, jnp.zeros(2), fd.Context(dt=1.0))
    np.testing.assert_allclose(state.V, [0.0, 5.0 * (1 - math.exp(-0.1))], rtol=1e-6)
    with fd.training_environment():
        rlif = N.RecurrentLIF(4, key=jax.random.key(1))
    assert fd.trainable(rlif).W_rec is True


def test_if_integrates_linearly():
    neuron = N.IF(1, tau=2.0, V_th=10.0, R=3.0)
    _, _, V = _run(neuron, jnp.full((10, 1), 0.5), 0.1, monitors=lambda s: s.V)
    np.testing.assert_allclose(np.asarray(V)[:, 0], 0.075 * np.arange(1, 11), rtol=1e-5)


def test_tuple_size_and_scalar_input():
    # tau = 10, V_rest = 0, R = 1: one exact step of a constant input 5 from V = 0 gives
    # 5 (1 - e^-0.1) everywhere (below V_th = 1, no spike); no input then decays it.
    lif = N.LIF((2, 3), V_th=1.0, V_reset=0.0, mode=fd.batching_mode)
    state = lif.init_state(4)
    assert state.V.shape == (4, 2, 3)
    state, s = lif(state, 5.0, fd.Context(dt=1.0))
    V1 = 5.0 * (1 - math.exp(-0.1))
    np.testing.assert_allclose(state.V, np.full((4, 2, 3), V1), rtol=1e-6)
    np.testing.assert_array_equal(s, np.zeros((4, 2, 3)))
    state, s = lif(state, None, fd.Context(dt=1.0))
    np.testing.assert_allclose(state.V, np.full((4, 2, 3), V1 * math.exp(-0.1)), rtol=1e-6)
    # A per-column parameter broadcasts along the last axis of a (2, 2) population:
    # each column behaves as a one-neuron HH with that column's leak conductance.
    hh = N.HH((2, 2), g_L=jnp.array([0.3, 0.2]))
    st, s = hh(hh.init_state(), jnp.ones((2, 2)), fd.Context(dt=0.01))
    assert s.shape == (2, 2)
    for col, g_L in enumerate((0.3, 0.2)):
        one = N.HH(1, g_L=g_L)
        ref, _ = one(one.init_state(), jnp.ones(1), fd.Context(dt=0.01))
        np.testing.assert_allclose(st.V[:, col], np.full(2, float(ref.V[0])), rtol=1e-6)
    assert float(st.V[0, 0]) != float(st.V[0, 1])


def test_random_initial_potential(getkey):
    lif = N.LIF(5, V_initializer=fd.init.Uniform(-1.0, 1.0))
    a, b = lif.init_state(key=getkey()), lif.init_state(key=getkey())
    assert a.V.shape == (5,) and not np.allclose(a.V, b.V)


# -- contract -------------------------------------------------------------------------

NB = fd.nonbatching_mode
TR = fd.training_mode

# (constructor, input scale): inputs chosen so that a few steps of the contract test
# spike, so the surrogate path is exercised and gradients flow.
MODELS = {
    "InputGroup": (lambda mode: N.InputGroup(3, mode=mode), 1.0),
    "LIF": (lambda mode: N.LIF(3, V_rest=0.0, V_reset=0.0, V_th=1.0, tau_ref=1.0, mode=mode), 2.0),
    "LIF_subtract_euler": (
        lambda mode: N.LIF(
            3,
            V_th=1.0,
            V_reset=0.0,
            reset="subtract",
            solver=diffrax.Euler(),
            detach_reset=True,
            mode=mode,
        ),
        3.0,
    ),
    "LeakyIntegrator": (lambda mode: N.LeakyIntegrator(3, tau=5.0, mode=mode), 1.0),
    "IF": (lambda mode: N.IF(3, mode=mode), 0.5),
    "RecurrentLIF": (
        lambda mode: N.RecurrentLIF(3, V_th=1.0, V_reset=0.0, mode=mode, key=jax.random.key(0)),
        3.0,
    ),
    "ALIF": (lambda mode: N.ALIF(3, tau=2.0, tau_ref=1.0, mode=mode), 2.0),
    "ExpIF": (lambda mode: N.ExpIF(3, V_initializer=-40.0, mode=mode), 20.0),
    "AdExIF": (lambda mode: N.AdExIF(3, V_initializer=-40.0, mode=mode), 20.0),
    "QuaIF": (lambda mode: N.QuaIF(3, V_initializer=-40.0, mode=mode), 20.0),
    "Izhikevich": (lambda mode: N.Izhikevich(3, V_initializer=25.0, mode=mode), 10.0),
    "GIF": (lambda mode: N.GIF(3, V_initializer=-51.0, mode=mode), 2.0),
    "HH": (lambda mode: N.HH(3, V_initializer=15.0, mode=mode), 10.0),
}


# Every model in training mode, and the non-batching mode of the core four, run by
# default; the other non-batching cases (same code path, no batch axis) are marked slow.
_FAST_NONBATCHING = {"InputGroup", "LIF", "LeakyIntegrator", "HH"}
CONTRACT_CASES = [pytest.param(n, TR, id=f"training-{n}") for n in MODELS] + [
    pytest.param(
        n, NB, id=f"nonbatching-{n}", marks=() if n in _FAST_NONBATCHING else pytest.mark.slow
    )
    for n in MODELS
]


@pytest.mark.parametrize("name, mode", CONTRACT_CASES)
def test_contract(name, mode):
    make, scale = MODELS[name]
    model = make(mode)
    if mode.is_batching:
        x = scale * jnp.linspace(0.5, 1.5, 6).reshape(2, 3)
        fd.testing.check_contract(model, x, dt=0.5, batch_size=2, steps=3)
    else:
        fd.testing.check_contract(model, scale * jnp.array([0.5, 1.0, 1.5]), dt=0.5, steps=3)


# -- errors ---------------------------------------------------------------------------


def test_errors():
    with pytest.raises(ValueError, match=r"LIF: `size` must be a positive int"):
        N.LIF(0)
    with pytest.raises(ValueError, match=r"LIF: `size` must be a positive int"):
        N.LIF((2, -1))
    with pytest.raises(ValueError, match=r"InputGroup: `size` must be a positive int"):
        N.InputGroup(2.5)
    with pytest.raises(ValueError, match=r"LIF: `tau` must be > 0"):
        N.LIF(3, tau=-1.0)
    with pytest.raises(ValueError, match=r"LIF: `tau` must be > 0"):
        N.LIF(3, tau=jnp.array([1.0, 0.0, 2.0]))
    with pytest.raises(ValueError, match=r"LeakyIntegrator: `tau` must be > 0"):
        N.LeakyIntegrator(3, tau=0.0)
    with pytest.raises(ValueError, match=r"LIF: `tau_ref` must be >= 0"):
        N.LIF(3, tau_ref=-1.0)
    with pytest.raises(ValueError, match=r"LIF: `V_reset` must not exceed `V_th`"):
        N.LIF(3, V_reset=2.0, V_th=1.0)
    with pytest.raises(ValueError, match=r"LIF: `reset` must be 'zero' or 'subtract'"):
        N.LIF(3, reset="hard")
    with pytest.raises(TypeError, match=r"LIF: `solver` must be None"):
        N.LIF(3, solver="euler")
    with pytest.raises(TypeError, match=r"LIF: `spike_fn` must be a callable"):
        N.LIF(3, spike_fn=1.0)
    with pytest.raises(ValueError, match=r"`V_th` has shape \(2,\), which does not broadcast"):
        N.LIF(3, V_th=jnp.ones(2))
    lif = N.LIF(3)
    with pytest.raises(
        ValueError, match=r"LIF in NonBatchingMode expects an input current of shape \(3,\)"
    ):
        lif(lif.init_state(), jnp.ones(4), fd.Context())
    with pytest.raises(ValueError, match=r"init_state\(\) or init_state\(None\)"):
        lif.init_state(3)
    lif_b = N.LIF(3, mode=fd.batching_mode)
    with pytest.raises(ValueError, match=r"expects an input current of shape \(batch, 3\)"):
        lif_b(lif_b.init_state(2), jnp.ones((3, 3)), fd.Context())
    ig = N.InputGroup(3)
    with pytest.raises(
        ValueError, match=r"InputGroup in NonBatchingMode expects input of shape \(3,\)"
    ):
        ig(None, jnp.ones((2, 3)), fd.Context())


def test_errors_of_the_other_models():
    with pytest.raises(ValueError, match=r"ALIF: `tau_a` must be > 0"):
        N.ALIF(3, tau_a=0.0)
    with pytest.raises(ValueError, match=r"ALIF: `beta` must be >= 0"):
        N.ALIF(3, beta=-1.0)
    with pytest.raises(ValueError, match=r"ALIF: `V_reset` must not exceed `V_th`"):
        N.ALIF(3, V_reset=2.0)
    with pytest.raises(ValueError, match=r"ExpIF: `delta_T` must be > 0"):
        N.ExpIF(3, delta_T=0.0)
    with pytest.raises(ValueError, match=r"ExpIF: `V_reset` must not exceed `V_th`"):
        N.ExpIF(3, V_reset=0.0, V_th=-30.0)
    with pytest.raises(ValueError, match=r"AdExIF: `tau_w` must be > 0"):
        N.AdExIF(3, tau_w=-5.0)
    with pytest.raises(ValueError, match=r"AdExIF: `reset` must be 'zero' or 'subtract'"):
        N.AdExIF(3, reset="soft")
    with pytest.raises(ValueError, match=r"QuaIF: `tau` must be > 0"):
        N.QuaIF(3, tau=-10.0)
    with pytest.raises(ValueError, match=r"Izhikevich: `c` must not exceed `V_th`"):
        N.Izhikevich(3, c=40.0)
    with pytest.raises(ValueError, match=r"GIF: `V_reset` must not exceed `V_th_reset`"):
        N.GIF(3, V_th_reset=-80.0, V_th_initializer=-50.0)
    with pytest.raises(ValueError, match=r"GIF: `k1` must be > 0"):
        N.GIF(3, k1=0.0)
    with pytest.raises(ValueError, match=r"HH: `C` must be > 0"):
        N.HH(3, C=0.0)
    with pytest.raises(ValueError, match=r"HH: `g_Na` must be >= 0"):
        N.HH(3, g_Na=-1.0)
    with pytest.raises(TypeError, match=r"HH: `solver` must be None"):
        N.HH(3, solver=diffrax.Euler)
    with pytest.raises(ValueError, match=r"IF: `size` must be a positive int"):
        N.IF(())
    with pytest.raises(ValueError, match=r"RecurrentLIF: `size` must be an int"):
        N.RecurrentLIF((2, 2), key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"`W_rec_initializer` uses the random initialiser"):
        N.RecurrentLIF(4)
    with pytest.raises(ValueError, match=r"`W_rec_initializer` must have shape \(4, 4\)"):
        N.RecurrentLIF(4, W_rec_initializer=jnp.ones((3, 4)))
    hh = N.HH(2, mode=fd.training_mode)
    with pytest.raises(
        ValueError, match=r"HH in TrainingMode expects an input current of shape \(batch, 2\)"
    ):
        hh(hh.init_state(3), jnp.ones((2, 2)), fd.Context())
    with pytest.raises(ValueError, match=r"positive int, e.g. init_state\(32\)"):
        hh.init_state()
