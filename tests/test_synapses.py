"""funcdyn.synapses and funcdyn.synouts: the step contract, closed-form responses,
delays, sparse versus dense connectivity, gradients and errors."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import funcdyn as fd
from funcdyn import conn as C, synapses as S, synouts as O
from funcdyn.testing import check_contract

KEY = jax.random.key(0)
NUM_PRE, NUM_POST = 6, 4
V_POST = jnp.linspace(-70.0, -50.0, NUM_POST)


def _cases():
    sparse = C.FixedProb(0.5, seed=1)
    return [
        ("Delta", lambda m: S.Delta(6, 4, g_max=0.5, mode=m, key=KEY), False),
        ("Exponential", lambda m: S.Exponential(
            6, 4, g_max=fd.init.KaimingNormal(), mode=m, key=KEY), False),
        ("Exponential-sparse-COBA-delay", lambda m: S.Exponential(
            6, 4, conn=sparse, g_max=fd.init.Normal(1.0, 0.1), tau=5.0, output=O.COBA(E=0.0),
            delay_steps=2, mode=m, key=KEY), True),
        ("DualExponential", lambda m: S.DualExponential(
            6, 4, tau_rise=1.0, tau_decay=3.0, mode=m, key=KEY), False),
        ("Alpha-One2One", lambda m: S.Alpha(
            6, 6, conn=C.One2One(), g_max=jnp.linspace(0.5, 1.0, 6), mode=m), False),
        ("NMDA", lambda m: S.NMDA(6, 4, conn=sparse, mode=m, key=KEY), True),
        ("AMPA", lambda m: S.AMPA(6, 4, mode=m), True),
        ("GABAa", lambda m: S.GABAa(
            6, 4, conn=C.FixedProb(0.5, seed=2, dense=True), mode=m), True),
        ("STP", lambda m: S.STP(6, 4, tau_f=20.0, tau_d=10.0, mode=m), False),
        ("STD", lambda m: S.STD(6, 4, output=O.MgBlock(), mode=m), True),
    ]


def _input(needs_V, batch=None):
    spikes = (jax.random.uniform(jax.random.key(5), (NUM_PRE,)) < 0.5).astype(jnp.float32)
    spikes = spikes.at[0].set(1.0)
    V = V_POST
    if batch is not None:
        spikes = jnp.broadcast_to(spikes, (batch, NUM_PRE))
        V = jnp.broadcast_to(V, (batch, NUM_POST))
    return (spikes, V) if needs_V else spikes


# Alpha, GABAa and STD share their step code with DualExponential, AMPA and STP: their
# contract checks run with the slow tests (`-m slow`), to keep the default run short.
_SIBLINGS = ("Alpha-One2One", "GABAa", "STD")


@pytest.mark.parametrize(
    "name, make, needs_V",
    [c if c[0] not in _SIBLINGS else pytest.param(*c, marks=pytest.mark.slow) for c in _cases()],
    ids=lambda c: c if isinstance(c, str) else "",
)
def test_contract_nonbatching(name, make, needs_V):
    syn = make(fd.nonbatching_mode)
    x = _input(needs_V)
    if name.startswith("Alpha"):
        x = jnp.ones((6,))
    check_contract(syn, x, dt=0.5)


@pytest.mark.parametrize(
    "name, make, needs_V",
    [c for c in _cases() if c[0] == "Exponential"]
    + [pytest.param(*c, marks=pytest.mark.slow) for c in _cases()
       if c[0] in ("Exponential-sparse-COBA-delay", "NMDA", "STP")],
    ids=lambda c: c if isinstance(c, str) else "",
)
def test_contract_training_mode(name, make, needs_V):
    syn = make(fd.training_mode)
    check_contract(syn, _input(needs_V, batch=3), dt=0.5, batch_size=3)
    assert fd.trainable(syn).g_max is True


def _drive(syn, spikes, V=None, dt=0.1):
    """Runs `syn` over the spike trains `spikes` (T, num_pre); returns (states, currents)."""
    xs = spikes if V is None else (spikes, jnp.broadcast_to(V, (spikes.shape[0], syn.num_post)))
    _, currents, states = fd.run(syn, xs, dt=dt, monitors=lambda s: s)
    return states, currents


def _one_spike(T=60, at=5, num=1):
    return jnp.zeros((T, num)).at[at, 0].set(1.0)


def test_exponential_response_is_exact():
    dt, tau, w = 0.1, 2.0, 0.7
    syn = S.Exponential(1, 1, g_max=w, tau=tau)
    states, I = _drive(syn, _one_spike(), dt=dt)
    m = np.arange(60)
    expected = np.where(m >= 5, w * np.exp(-(m - 5) * dt / tau), 0.0)
    np.testing.assert_allclose(states.g[:, 0], expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(I[:, 0], expected, rtol=1e-5, atol=1e-7)  # CUBA: I = g


@pytest.mark.parametrize("tau_rise, tau_decay", [(0.5, 3.0), (2.0, 2.0), (3.0, 0.8)])
def test_dual_exponential_and_alpha_match_closed_forms(tau_rise, tau_decay):
    dt, w = 0.1, 1.3
    syn = S.DualExponential(1, 1, g_max=w, tau_rise=tau_rise, tau_decay=tau_decay)
    states, _ = _drive(syn, _one_spike(T=200), dt=dt)
    t = (np.arange(200) - 5) * dt
    if tau_rise == tau_decay:
        expected = w * t * np.exp(-t / tau_decay)
        alpha_states, _ = _drive(S.Alpha(1, 1, g_max=w, tau=tau_rise), _one_spike(T=200), dt=dt)
        np.testing.assert_allclose(alpha_states.g, states.g, rtol=1e-6)
    else:
        c = tau_rise * tau_decay / (tau_decay - tau_rise)
        expected = w * c * (np.exp(-t / tau_decay) - np.exp(-t / tau_rise))
    expected = np.where(t >= 0, expected, 0.0)
    np.testing.assert_allclose(states.g[:, 0], expected, rtol=1e-4, atol=1e-6)


def test_delta_is_one_step_pulse_and_sums_weights():
    W = jnp.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    syn = S.Delta(3, 2, g_max=W)
    _, I = syn(syn.init_state(), jnp.array([1.0, 0.0, 1.0]), fd.Context(dt=0.1))
    np.testing.assert_allclose(I, [6.0, 8.0])
    _, I = syn(syn.init_state(), jnp.zeros(3), fd.Context(dt=0.1))
    np.testing.assert_allclose(I, [0.0, 0.0])


def test_kinetic_ampa_matches_closed_form():
    dt = 0.05
    syn = S.AMPA(1, 1, g_max=1.0, output=O.CUBA())
    states, I = _drive(syn, _one_spike(T=100, at=0), dt=dt)
    alpha, beta, T, dur = 0.98, 0.18, 0.5, 0.5
    k = alpha * T + beta
    g_inf = alpha * T / k
    on_steps = int(round(dur / dt))
    t = np.arange(1, 100) * dt  # g after step m covers m steps; pulse on in steps 1..10
    g_on = g_inf * (1 - np.exp(-k * np.minimum(t, on_steps * dt)))
    g_off = g_on * np.exp(-beta * (t - on_steps * dt))
    expected = np.where(t <= on_steps * dt + 1e-9, g_on, g_off)
    np.testing.assert_allclose(states.g[1:, 0], expected, rtol=1e-4)
    np.testing.assert_allclose(I[:, 0], states.g[:, 0], rtol=1e-6)
    assert states.g[0, 0] == 0.0


def test_nmda_converges_to_the_ode_solution():
    tau_d, tau_r, a = 100.0, 2.0, 0.5
    t_end = 30.0

    def reference(t):
        def f(_, y):
            g, x = y
            return [-g / tau_d + a * x * (1 - g), -x / tau_r]

        sol = solve_ivp(f, (0, t_end), [0.0, 1.0], rtol=1e-10, atol=1e-12, dense_output=True)
        return sol.sol(t)[0]

    errors = []
    for dt in (0.1, 0.05):
        steps = int(round(t_end / dt))
        syn = S.NMDA(1, 1, g_max=1.0, output=O.CUBA())
        states, _ = _drive(syn, _one_spike(T=steps + 1, at=0), dt=dt)
        t = np.arange(1, steps + 1) * dt
        errors.append(np.max(np.abs(np.asarray(states.g[1:, 0]) - reference(t))))
    assert errors[0] < 2e-2  # exponential Euler with x held over the step: first order
    assert 1.6 < errors[0] / errors[1] < 2.4  # first order in dt


def _tm_reference(spike_steps, dt, U, tau_f, tau_d, facilitation=True):
    """Released fractions of the Tsodyks-Markram model at each spike (event recursion)."""
    u, x, last, out = 0.0, 1.0, None, []
    for step in spike_steps:
        if last is not None:
            gap = (step - last) * dt
            u = u * np.exp(-gap / tau_f) if facilitation else U
            x = 1 - (1 - x) * np.exp(-gap / tau_d)
        u = u + U * (1 - u) if facilitation else U
        r = u * x
        x -= r
        out.append(r)
        last = step
    return np.array(out)


@pytest.mark.parametrize("kind", ["STP", "STD"])
def test_short_term_plasticity_matches_the_event_recursion(kind):
    dt, U, tau_f, tau_d = 0.5, 0.2, 50.0, 30.0
    spike_steps = [2, 12, 22, 32, 102]
    spikes = jnp.zeros((110, 1)).at[jnp.array(spike_steps), 0].set(1.0)
    if kind == "STP":
        syn = S.STP(1, 1, g_max=1.0, U=U, tau_f=tau_f, tau_d=tau_d, tau=1.0)
    else:
        syn = S.STD(1, 1, g_max=1.0, U=U, tau_d=tau_d, tau=1.0)
    states, _ = _drive(syn, spikes, dt=dt)
    at = jnp.array(spike_steps)
    jumps = np.asarray(states.g[at, 0] - states.g[at - 1, 0] * np.exp(-dt / 1.0))
    expected = _tm_reference(spike_steps, dt, U, tau_f, tau_d, facilitation=kind == "STP")
    np.testing.assert_allclose(jumps, expected, rtol=1e-4)
    if kind == "STP":
        assert expected[1] > expected[0]  # facilitation wins at first with these constants


@pytest.mark.parametrize("make", [
    lambda d: S.Exponential(3, 2, g_max=jnp.arange(6.0).reshape(3, 2), tau=3.0, delay_steps=d),
    lambda d: S.STP(3, 2, conn=C.FixedProb(0.7, seed=0, dense=True), tau_f=5.0, delay_steps=d),
    lambda d: S.NMDA(3, 2, output=O.CUBA(), delay_steps=d),
])
def test_delay_shifts_the_response_by_exactly_delay_steps(make):
    D, T = 3, 25
    spikes = (jax.random.uniform(jax.random.key(2), (T, 3)) < 0.3).astype(jnp.float32)
    _, undelayed = _drive(make(0), spikes)
    _, delayed = _drive(make(D), spikes)
    np.testing.assert_allclose(delayed[D:], undelayed[: T - D], rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(delayed[:D], 0.0)


def test_gradients_flow_through_the_delay_buffer():
    syn = S.Exponential(2, 1, g_max=1.0, tau=5.0, delay_steps=4)

    def output_at(spikes, step):
        _, I, _ = fd.run(syn, spikes, dt=1.0)
        return I[step, 0]

    spikes = jnp.zeros((10, 2))
    g = jax.grad(output_at)(spikes, 6)
    assert g[2, 0] == pytest.approx(1.0) and g[2, 1] == pytest.approx(1.0)
    assert g[1, 0] == pytest.approx(np.exp(-1 / 5.0), rel=1e-5)
    np.testing.assert_array_equal(g[3:], 0.0)  # inputs newer than the delay do not count yet


def test_sparse_and_dense_synapses_agree_including_gradients():
    num_pre, num_post, T = 40, 30, 30
    make = lambda dense: S.Exponential(  # noqa: E731
        num_pre, num_post, conn=C.FixedProb(0.2, seed=3, dense=dense), tau=4.0,
        g_max=0.5, output=O.COBA(E=0.0), mode=fd.training_mode)
    sparse, dense = make(False), make(True)
    np.testing.assert_array_equal(np.asarray(sparse.weights()), np.asarray(dense.weights()))
    spikes = (jax.random.uniform(jax.random.key(1), (T, 2, num_pre)) < 0.1).astype(jnp.float32)
    V = jnp.full((T, 2, num_post), -60.0)

    def loss(syn, spikes):
        _, I, _ = fd.run(syn, (spikes, V), dt=0.5)
        return jnp.sum(jnp.sin(0.1 * I))

    grad = eqx.filter_jit(eqx.filter_grad(lambda pair: loss(*pair)))
    (gs, gxs), (gd, gxd) = grad((sparse, spikes)), grad((dense, spikes))
    np.testing.assert_allclose(gxs, gxd, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(gs.g_max, gd.g_max, rtol=1e-4)
    np.testing.assert_allclose(gs.tau, gd.tau, rtol=1e-4)
    np.testing.assert_allclose(loss(sparse, spikes), loss(dense, spikes), rtol=1e-5)


def test_per_connection_sparse_weights_train():
    syn = S.Exponential(20, 10, conn=C.FixedProb(0.3, seed=0), g_max=fd.init.Normal(),
                        mode=fd.training_mode, key=KEY)
    assert syn.g_max.shape == (syn.conn.num_connections,)
    spikes = (jax.random.uniform(KEY, (8, 2, 20)) < 0.3).astype(jnp.float32)
    g = eqx.filter_jit(eqx.filter_grad(lambda s: jnp.sum(fd.run(s, spikes, dt=1.0)[1] ** 2)))(syn)
    assert g.g_max.shape == syn.g_max.shape and bool(jnp.any(g.g_max != 0))
    params, _ = eqx.partition(syn, fd.trainable(syn))
    assert params.conn.indices is None  # the structure never trains


def test_outputs():
    g = jnp.array([1.0, 2.0])
    V = jnp.array([-60.0, -20.0])
    np.testing.assert_allclose(O.CUBA()(g, None), g)
    np.testing.assert_allclose(O.COBA(E=-80.0)(g, V), [-20.0, -120.0])
    np.testing.assert_allclose(O.COBA(E=jnp.array([0.0, -80.0]))(g, V), [60.0, -120.0])
    mg = O.MgBlock(E=0.0)
    B = 1.0 / (1.0 + 1.2 / 3.57 * np.exp(-0.062 * np.asarray(V)))
    np.testing.assert_allclose(mg(g, V), np.asarray(g) * (0.0 - np.asarray(V)) * B, rtol=1e-6)
    assert O.COBA.needs_V and O.MgBlock.needs_V and not O.CUBA.needs_V


def test_cuba_synapse_sits_in_a_sequential_chain():
    # Every input neuron spikes at every step (input 1 = a spike per step), so each
    # postsynaptic neuron receives g_max * 5 per step through the all-to-all synapse.
    # The chain must equal the same three models stepped by hand.
    pre, syn = fd.neurons.InputGroup(5), S.Exponential(5, 3, g_max=2.0, tau=2.0)
    post = fd.neurons.LIF(3, V_th=1.0, V_reset=0.0)
    net = pre >> syn >> post
    _, spikes, _ = fd.run(net, jnp.ones((20, 5)), dt=1.0)
    assert spikes.shape == (20, 3)
    states = [pre.init_state(), syn.init_state(), post.init_state()]
    expected = []
    for i in range(20):
        ctx = fd.Context(dt=1.0, t=float(i), i=i)
        states[0], z = pre(states[0], jnp.ones(5), ctx)
        states[1], current = syn(states[1], z, ctx)
        states[2], out = post(states[2], current, ctx)
        expected.append(out)
    np.testing.assert_array_equal(np.asarray(spikes), np.stack(expected))
    # The three postsynaptic neurons see the same input, so they fire together, often.
    assert np.all(np.asarray(spikes) == np.asarray(spikes)[:, :1])
    assert 5 <= int(jnp.sum(spikes[:, 0])) <= 20


def test_weight_shapes():
    assert S.Exponential(3, 4).g_max.shape == ()
    assert S.Exponential(3, 4, g_max=jnp.ones(4)).g_max.shape == (4,)  # per postsynaptic
    assert S.Exponential(3, 4, g_max=fd.init.Normal(), key=KEY).g_max.shape == (3, 4)
    assert S.Exponential(3, 3, conn=C.One2One(), g_max=jnp.ones(3)).g_max.shape == (3,)
    syn = S.Exponential(3, 4, g_max=jnp.ones(4))
    np.testing.assert_allclose(syn.weights(), np.ones((3, 4)))
    prebuilt = C.FixedProb(0.5, seed=0).build(3, 4)
    assert S.Delta(3, 4, conn=prebuilt).conn is prebuilt


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: S.Exponential(0, 3), "num_pre"),
        (lambda: S.Exponential(3, 2.5), "num_post"),
        (lambda: S.Exponential(3, 3, tau=-1.0), "tau"),
        (lambda: S.Exponential(3, 3, tau=jnp.array([1.0, 0.0, 1.0])), "tau"),
        (lambda: S.DualExponential(3, 3, tau_rise=0.0), "tau_rise"),
        (lambda: S.NMDA(3, 3, a=-0.5), "`a`"),
        (lambda: S.AMPA(3, 3, T_duration=0.0), "T_duration"),
        (lambda: S.STP(3, 3, U=1.5), r"\(0, 1\]"),
        (lambda: S.STD(3, 3, tau_d=-2.0), "tau_d"),
        (lambda: S.Exponential(3, 3, delay_steps=-1), "delay_steps"),
        (lambda: S.Exponential(3, 3, delay_steps=1.5), "delay_steps"),
        (lambda: S.Exponential(3, 3, conn="all"), "conn"),
        (lambda: S.Exponential(3, 3, output="COBA"), "output"),
        (lambda: S.Exponential(3, 4, conn=C.One2One()), "One2One"),
        (lambda: S.Exponential(3, 4, conn=C.FixedProb(0.1)), "seed"),
        (lambda: S.Exponential(3, 4, conn=C.FixedProb(0.5, seed=0).build(4, 4)), "built for"),
        (lambda: S.Exponential(3, 4, g_max=jnp.ones((4, 3))), "g_max"),
        (lambda: S.Exponential(3, 4, g_max=fd.init.Normal()), "key"),
        (lambda: O.COBA(E="zero"), "`E`"),
        (lambda: O.MgBlock(beta=0.0), "beta"),
    ],
)
def test_construction_errors(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_call_errors():
    ctx = fd.Context(dt=0.1)
    coba = S.Exponential(3, 2, output=O.COBA())
    with pytest.raises(ValueError, match=r"\(pre_spikes, V_post\)"):
        coba(coba.init_state(), jnp.ones(3), ctx)
    with pytest.raises(ValueError, match="V_post must have shape"):
        coba(coba.init_state(), (jnp.ones(3), jnp.ones(3)), ctx)
    with pytest.raises(ValueError, match="got 3 items"):
        coba(coba.init_state(), (jnp.ones(3), jnp.ones(2), jnp.ones(2)), ctx)
    with pytest.raises(ValueError, match=r"expects presynaptic spikes of shape \(3,\)"):
        coba(coba.init_state(), (jnp.ones(4), jnp.ones(2)), ctx)
    batched = S.Exponential(3, 2, mode=fd.batching_mode)
    with pytest.raises(ValueError, match=r"\(batch, 3\)"):
        batched(batched.init_state(2), jnp.ones(3), ctx)
    with pytest.raises(ValueError, match="positive int"):
        batched.init_state()
    # Boolean spikes are accepted.
    syn = S.Exponential(3, 2)
    _, I = syn(syn.init_state(), jnp.array([True, False, True]), ctx)
    np.testing.assert_allclose(I, [2.0, 2.0])


def test_coba_example_quick_mode(tmp_path):
    import pathlib
    import re
    import subprocess
    import sys

    script = pathlib.Path(__file__).parent.parent / "examples" / "coba_ei.py"
    result = subprocess.run(
        [sys.executable, str(script), "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    match = re.search(r"mean firing rate: ([0-9.]+) Hz", result.stdout)
    assert match, result.stdout
    # Vogels & Abbott's asynchronous irregular state: tens of Hz (the first 100 ms
    # include the synchronous onset).
    assert 5.0 < float(match.group(1)) < 60.0, result.stdout
    assert (tmp_path / "coba_raster.png").stat().st_size > 1000
