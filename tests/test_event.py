"""Event-driven simulation: exact spike times against closed forms, gradients against
central finite differences (float64), the time grid's convergence, and every error path.

Each test compiles one or two event loops; the float64 ones enable x64 only inside the
test (`x64` fixture).
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcdyn as fd
from funcdyn import event as ev


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def _lif(n, **kw):
    kw = dict(tau=10.0, V_rest=0.0, V_reset=0.0, V_th=1.0) | kw
    return fd.neurons.LIF(n, **kw)


def _no_input(n_in=1):
    return ev.SpikeTrain(jnp.full((n_in, 1), jnp.inf))


def _flatten_fd(loss, params, eps):
    """Central differences of `loss` with respect to each entry of the float arrays in
    `params` (a list), as one array per entry."""
    out = []
    for k, p in enumerate(params):
        g = np.zeros(p.shape)
        for idx in np.ndindex(p.shape):
            plus = [q if i != k else q.at[idx].add(eps) for i, q in enumerate(params)]
            minus = [q if i != k else q.at[idx].add(-eps) for i, q in enumerate(params)]
            g[idx] = (float(loss(plus)) - float(loss(minus))) / (2 * eps)
        out.append(g)
    return out


def _rel(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12)


# -- exactness ------------------------------------------------------------------------


def test_lif_step_current_matches_closed_form(x64):
    """A single LIF with a step current: spike k is at t_on + T0 + k T, with
    T0 = tau log(RI / (RI - V_th)) from V = 0 and T = tau log((RI - V_reset) /
    (RI - V_th)) from the reset, to 1e-9."""
    tau, I, V_reset, t_on = 10.0, 1.5, -0.2, 3.0
    layer = ev.Layer(
        _lif(1, tau=tau, V_reset=V_reset), 1, W_in=jnp.zeros((1, 1)), budget=8
    )
    step = ev.PiecewiseConstant(jnp.array([t_on]), jnp.array([[I]]))
    out = eqx.filter_jit(lambda l: l(_no_input(), t0=0.0, t1=100.0, current=step))(layer)
    T0 = tau * math.log(I / (I - 1.0))
    T = tau * math.log((I - V_reset) / (I - 1.0))
    n = int(out.count[0])
    expected = t_on + T0 + T * np.arange(n)
    assert n == int((100.0 - t_on - T0) // T) + 1
    np.testing.assert_allclose(np.asarray(out.times[0, :n]), expected, rtol=0, atol=1e-9)
    assert not bool(out.overflow)


def test_time_grid_lif_converges_to_event_solution_first_order():
    """The time-grid LIF (exponential Euler, spike detected at the end of a step) has a
    first-spike error that shrinks linearly in dt: the measured order is about 1."""
    tau, I = 10.0, 1.5
    exact = tau * math.log(I / (I - 1.0))
    neuron = _lif(1, tau=tau)
    errors = []
    dts = [0.08, 0.04, 0.02, 0.01]
    for dt in dts:
        n = int(round(15.0 / dt))

        def step(s, k, dt=dt):
            s, spk = neuron(s, jnp.full((1,), I), fd.Context(t=k.astype(jnp.float32) * dt, i=k, dt=dt))
            return s, spk[0]

        _, spikes = jax.lax.scan(step, neuron.init_state(), jnp.arange(n))
        k = int(np.argmax(np.asarray(spikes) > 0))
        errors.append(abs((k + 1) * dt - exact))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    # End-of-step detection: error in [0, dt); its average order over the halvings is 1.
    assert 0.6 < float(np.mean(orders)) < 1.4, (errors, orders)
    assert max(errors) < 0.08


def test_closed_form_spike_times_match_a_fine_reference(x64):
    """Two exponential-synapse LIF neurons: the closed-form spike times equal those of
    an independent dense-output integration (scipy's solve_ivp with events)."""
    scipy_integrate = pytest.importorskip("scipy.integrate")
    tau, tau_s, w, t_in = 10.0, 5.0, 6.0, 1.0
    layer = ev.Layer(_lif(1, tau=tau), 1, W_in=jnp.array([[w]]), tau_syn=tau_s, budget=2)
    out = layer(ev.SpikeTrain(jnp.array([[t_in]])), t0=0.0, t1=30.0)

    def f(t, y):
        return [(-y[0] + y[1]) / tau, -y[1] / tau_s]

    crossing = lambda t, y: y[0] - 1.0
    crossing.terminal, crossing.direction = True, 1
    sol = scipy_integrate.solve_ivp(
        f, (t_in, 30.0), [0.0, w], events=crossing, rtol=1e-12, atol=1e-12
    )
    assert int(out.count[0]) >= 1
    np.testing.assert_allclose(float(out.times[0, 0]), sol.t_events[0][0], atol=1e-8)


# -- gradients against finite differences ------------------------------------------------


def _ff_rec_case(W_rec):
    W = jnp.array([[3.0, 1.5, 4.0], [0.8, 2.2, 0.1]])
    times = jnp.array([[1.0, 3.0], [2.0, jnp.inf]])
    return W, W_rec, times


@pytest.mark.parametrize(
    "recurrent", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["ff", "recurrent"]
)
def test_closed_form_gradients_match_finite_differences(x64, recurrent):
    """d(sum of spike times + sum of V_max)/d(W_in, W_rec, tau, V_th, tau_syn, input
    times) equals central differences to 1e-6 (relative), feed-forward and recurrent."""
    W_rec = jnp.array([[0.0, 0.5, 0.0], [0.3, 0.0, 0.2], [0.0, 0.4, 0.0]]) if recurrent else None
    W, W_rec, times = _ff_rec_case(W_rec)

    def build(p):
        W_in, tau, V_th, tau_s, t_in = p[:5]
        neuron = _lif(3, tau=tau, V_th=V_th)
        return ev.Layer(
            neuron, 2, W_in=W_in, W_rec=None if len(p) == 5 else p[5], tau_syn=tau_s, budget=3
        ), t_in

    @jax.jit
    def loss(p):
        layer, t_in = build(p)
        o = layer(ev.SpikeTrain(t_in), t0=0.0, t1=40.0)
        return jnp.sum(jnp.where(jnp.isfinite(o.times), o.times, 0.0)) + jnp.sum(o.V_max)

    params = [W, jnp.array([10.0, 8.0, 12.0]), jnp.array([1.0, 1.1, 0.9]), jnp.array(5.0), times]
    if recurrent:
        params.append(W_rec)
    layer, t_in = build(params)
    out = layer(ev.SpikeTrain(t_in), t0=0.0, t1=40.0)
    assert int(out.count.sum()) >= 4 and not bool(out.overflow)
    grads = jax.jit(jax.grad(loss))(params)
    # The input times' padding (inf) gets no gradient.
    fd_params = params[:4] + ([params[5]] if recurrent else [])
    fd_grads = _flatten_fd(
        lambda q: loss(q[:4] + [times] + q[4:]), fd_params, 1e-6
    )
    exact = grads[:4] + ([grads[5]] if recurrent else [])
    for g, f in zip(exact, fd_grads):
        assert _rel(g, f) < 1e-6
    # Input spike times (finite entries only).
    dt_fd = _flatten_fd(lambda q: loss(params[:4] + [jnp.where(jnp.isfinite(times), q[0], jnp.inf)] + params[5:]),
                        [jnp.where(jnp.isfinite(times), times, 0.0)], 1e-6)[0]
    finite = np.isfinite(np.asarray(times))
    assert _rel(np.asarray(grads[4])[finite], dt_fd[finite]) < 1e-6
    assert np.all(np.asarray(grads[4])[~finite] == 0.0)


def test_ode_path_matches_closed_form_on_lif(x64):
    """The diffrax event path run on the same LIF gives the closed-form spike times."""
    W, _, times = _ff_rec_case(None)
    neuron = _lif(3)
    a = ev.Layer(neuron, 2, W_in=W, tau_syn=5.0, budget=3)
    b = ev.Layer(neuron, 2, W_in=W, tau_syn=5.0, budget=3, method=ev.ODE(rtol=1e-10, atol=1e-10))
    x = ev.SpikeTrain(times)
    oa, ob = a(x, t0=0.0, t1=40.0), b(x, t0=0.0, t1=40.0)
    np.testing.assert_array_equal(np.asarray(oa.count), np.asarray(ob.count))
    assert int(oa.count.sum()) >= 4
    np.testing.assert_allclose(np.asarray(ob.times), np.asarray(oa.times), atol=1e-7)


@pytest.mark.parametrize(
    "make",
    [
        lambda: fd.neurons.QuaIF(2, V_rest=0.0, V_c=0.5, c=1.0, V_th=2.0, V_reset=0.0, tau=5.0),
        lambda: fd.neurons.AdExIF(
            2, V_rest=0.0, V_reset=-0.2, V_th=2.0, V_T=1.0, delta_T=1.0, a=0.1, b=0.3,
            tau=5.0, tau_w=20.0,
        ),
    ],
    ids=["QuaIF", "AdExIF"],
)
@pytest.mark.slow  # about a minute each (diffrax event loops); the default run keeps
# the ODE path's agreement with the closed form (test_ode_path_matches_closed_form_on_lif).
def test_ode_gradients_match_finite_differences(x64, make):
    """QIF and AdEx (diffrax event path, equal steps): gradient of the spike times with
    respect to the input weights and the neuron's time constant vs central
    differences, to 1e-6 relative, with a recurrent connection."""
    neuron = make()
    method = ev.ODE(steps=128)
    times = jnp.array([[1.0, 4.0], [2.0, jnp.inf]])
    W_rec = jnp.array([[0.0, 0.3], [0.2, 0.0]])

    @jax.jit
    def loss(p):
        W_in, tau = p
        layer = ev.Layer(
            eqx.tree_at(lambda n: n.tau, neuron, tau), 2, W_in=W_in, W_rec=W_rec,
            tau_syn=3.0, budget=2, method=method,
        )
        o = layer(ev.SpikeTrain(times), t0=0.0, t1=20.0)
        return jnp.sum(jnp.where(jnp.isfinite(o.times), o.times, 0.0)), o.count

    W = jnp.array([[2.5, 1.0], [1.0, 3.0]])
    params = [W, jnp.array([5.0, 6.0])]
    _, count = loss(params)
    assert int(count.sum()) >= 2, count
    grads = jax.jit(jax.grad(lambda p: loss(p)[0]))(params)
    fd_grads = _flatten_fd(lambda p: loss(p)[0], params, 1e-6)
    for g, f in zip(grads, fd_grads):
        assert _rel(g, f) < 1e-6


# -- budget, batching, losses ------------------------------------------------------------


def test_budget_overflow_is_reported_and_raises_under_check():
    step = ev.PiecewiseConstant(jnp.array([0.0]), jnp.array([[3.0]]))
    neuron = _lif(1)
    layer = ev.Layer(neuron, 1, W_in=jnp.zeros((1, 1)), budget=2)
    out = layer(_no_input(), t0=0.0, t1=50.0, current=step)
    # The neuron fires about every 4 time units: more than the budget of 2.
    assert bool(out.overflow)
    assert int(out.count[0]) > 2 or not bool(out.complete)
    assert np.all(np.isfinite(np.asarray(out.times[0])))
    checked = ev.Layer(neuron, 1, W_in=jnp.zeros((1, 1)), budget=2, check=True)
    with pytest.raises(Exception, match="budget"):
        checked(_no_input(), t0=0.0, t1=50.0, current=step)


def test_vmap_over_a_batch_equals_a_loop():
    layer = ev.Layer(_lif(3), 2, W_in=jnp.array([[3.0, 1.5, 4.0], [0.8, 2.2, 0.1]]), budget=2)
    batch = jnp.array([[[1.0], [2.0]], [[0.5], [jnp.inf]]])
    run = eqx.filter_jit(lambda l, t: jax.vmap(lambda x: l(ev.SpikeTrain(x), t1=30.0))(t))
    out = run(layer, batch)
    for b in range(2):
        single = layer(ev.SpikeTrain(batch[b]), t1=30.0)
        np.testing.assert_allclose(np.asarray(out.times[b]), np.asarray(single.times), rtol=1e-6)


def test_ttfs_loss_with_silent_neurons_is_finite_with_finite_gradient():
    first = jnp.array([[3.0, jnp.inf, 5.0], [jnp.inf, jnp.inf, jnp.inf]])
    labels = jnp.array([1, 0])
    f = lambda t: ev.ttfs_cross_entropy(t, labels, tau=1.0, t_silent=20.0, alpha=0.01).sum()
    value, g = jax.value_and_grad(f)(first)
    assert np.isfinite(float(value)) and np.all(np.isfinite(np.asarray(g)))
    assert np.all(np.asarray(g)[~np.isfinite(np.asarray(first))] == 0.0)
    # Against a hand computation for the first sample: t = (3, 20, 5), label 1.
    t = np.array([3.0, 20.0, 5.0])
    nll = -(-t[1] - np.log(np.sum(np.exp(-t))))
    expected = nll + 0.01 * np.expm1(t[1])
    loss0 = ev.ttfs_cross_entropy(first[:1], labels[:1], tau=1.0, t_silent=20.0, alpha=0.01)
    np.testing.assert_allclose(float(loss0[0]), expected, rtol=1e-5)


def test_max_membrane_readout_is_exact_maximum(x64):
    """A non-spiking LeakyIntegrator readout: V_max equals the analytic peak of the
    double-exponential PSP, w tau_s/(tau - tau_s) R/... at s* = log(tau/tau_s) /
    (1/tau_s - 1/tau), and the max-membrane loss has a finite gradient."""
    tau, tau_s, w = 10.0, 5.0, 2.0
    ro = fd.neurons.LeakyIntegrator(1, tau=tau, V_rest=0.0, R=1.0)
    layer = ev.Layer(ro, 1, W_in=jnp.array([[w]]), tau_syn=tau_s)
    out = layer(ev.SpikeTrain(jnp.array([[1.0]])), t0=0.0, t1=60.0)
    s = math.log(tau / tau_s) / (1 / tau_s - 1 / tau)
    peak = w / tau * (math.exp(-s / tau_s) - math.exp(-s / tau)) / (1 / tau - 1 / tau_s)
    np.testing.assert_allclose(float(out.V_max[0]), peak, rtol=1e-12)
    # Two readouts: the loss's gradient in the weights is (softmax - onehot) * peak/w.
    two = ev.Layer(
        fd.neurons.LeakyIntegrator(2, tau=tau, V_rest=0.0, R=1.0), 1,
        W_in=jnp.array([[w, 1.0]]), tau_syn=tau_s,
    )
    x = ev.SpikeTrain(jnp.array([[1.0]]))

    def loss(W):
        V_max = eqx.tree_at(lambda l: l.W_in, two, W)(x, t1=60.0).V_max
        return ev.max_membrane_cross_entropy(V_max, jnp.array(0))

    g = np.asarray(jax.grad(loss)(two.W_in))
    unit = peak / w
    p = np.exp(np.array([w, 1.0]) * unit) / np.sum(np.exp(np.array([w, 1.0]) * unit))
    np.testing.assert_allclose(g[0], (p - np.array([1.0, 0.0])) * unit, rtol=1e-10)


def test_yin_yang_dataset_is_balanced_and_in_the_disc():
    xy, y = ev.yin_yang(3000, seed=0)
    assert xy.shape == (3000, 2) and y.shape == (3000,)
    assert np.all(np.hypot(xy[:, 0] - 0.5, xy[:, 1] - 0.5) <= 0.5)
    counts = np.bincount(y, minlength=3) / 3000
    assert np.all(np.abs(counts - 1 / 3) < 0.04)
    # The dots: class 2 exactly within r_small of a dot centre.
    d = np.minimum(np.hypot(xy[:, 0] - 0.75, xy[:, 1] - 0.5), np.hypot(xy[:, 0] - 0.25, xy[:, 1] - 0.5))
    np.testing.assert_array_equal(y == 2, d < 0.1)


# -- errors ------------------------------------------------------------------------------


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="sorted"):
        ev.SpikeTrain(jnp.array([[3.0, 1.0]]))
    with pytest.raises(ValueError, match="NaN"):
        ev.SpikeTrain(jnp.array([[jnp.nan]]))
    with pytest.raises(ValueError, match="n_inputs"):
        ev.SpikeTrain(jnp.zeros((2, 2, 2)))
    layer = ev.Layer(_lif(2), 1, W_in=jnp.ones((1, 2)))
    with pytest.raises(ValueError, match="`t1` must be after `t0`"):
        layer(_no_input(), t0=5.0, t1=1.0)
    with pytest.raises(ValueError, match="expected 1 input"):
        layer(_no_input(3), t1=1.0)
    with pytest.raises(TypeError, match="SpikeTrain"):
        layer(jnp.zeros((1, 1)), t1=1.0)
    with pytest.raises(Exception, match="before `t0`"):
        layer(ev.SpikeTrain(jnp.array([[0.5]])), t0=1.0, t1=3.0)
    with pytest.raises(ValueError, match="`record` times must lie"):
        layer(_no_input(), t0=0.0, t1=3.0, record=jnp.array([4.0]))
    with pytest.raises(ValueError, match="Network: `t1` must be after `t0`"):
        ev.Network([layer], t0=2.0, t1=2.0)
    with pytest.raises(ValueError, match="sorted"):
        ev.PiecewiseConstant(jnp.array([2.0, 1.0]), jnp.ones(2))


def test_traced_bad_spike_times_raise():
    f = jax.jit(lambda t: ev.SpikeTrain(t).times)
    with pytest.raises(Exception, match="NaN"):
        f(jnp.array([[jnp.nan]])).block_until_ready()
    with pytest.raises(Exception, match="sorted"):
        f(jnp.array([[2.0, 1.0]])).block_until_ready()


def test_bad_layers_raise_clear_errors():
    with pytest.raises(ValueError, match="budget"):
        ev.Layer(_lif(2), 1, W_in=jnp.ones((1, 2)), budget=0)
    with pytest.raises(ValueError, match="tau_syn"):
        ev.Layer(_lif(2), 1, W_in=jnp.ones((1, 2)), tau_syn=-1.0)
    with pytest.raises(TypeError, match="nonlinear"):
        ev.Layer(fd.neurons.QuaIF(2), 1, W_in=jnp.ones((1, 2)), method=ev.ClosedForm())
    with pytest.raises(TypeError, match="no reset"):
        ev.Layer(fd.neurons.HH(2), 1, W_in=jnp.ones((1, 2)))
    with pytest.raises(ValueError, match="one-dimensional"):
        ev.Layer(_lif((2, 2)), 1, W_in=jnp.ones((1, 4)))

    class NoThreshold(eqx.Module):
        size: tuple = (2,)

        def vector_field(self, t, V, I):
            return -V + I

    with pytest.raises(TypeError, match="no threshold"):
        ev.Layer(NoThreshold(), 1, W_in=jnp.ones((1, 2)))
    with pytest.raises(ValueError, match="n_in"):
        ev.Network(
            [ev.Layer(_lif(2), 1, W_in=jnp.ones((1, 2))), ev.Layer(_lif(1), 3, W_in=jnp.ones((3, 1)))],
            t1=1.0,
        )
    with pytest.raises(ValueError, match="steps"):
        ev.ODE(steps=0)
    with pytest.raises(ValueError, match="n_iter"):
        ev.ClosedForm(n_iter=0)
    with pytest.raises(ValueError, match="tau"):
        ev.ttfs_cross_entropy(jnp.zeros((1, 3)), jnp.array([0]), tau=0.0, t_silent=1.0)
    with pytest.raises(ValueError, match="does not match"):
        ev.ttfs_cross_entropy(jnp.zeros((2, 3)), jnp.array([0]), tau=1.0, t_silent=1.0)
