"""The parallel solver for feed-forward layers whose neurons fire at most once
(`ClosedForm(parallel=True)`, the default) against the event loop (`parallel=False`):
same spikes, maxima and gradients; and when each one is used."""

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


def _network(method, *, readout, key, n_hidden=20, reset="zero", neuron="lif"):
    k1, k2 = jax.random.split(key)
    kw = dict(V_rest=0.0, V_reset=0.0, V_th=1.0, tau_ref=float("inf"), reset=reset)
    if neuron == "lif":
        hidden_neuron = fd.neurons.LIF(n_hidden, tau=10.0, **kw)
    else:
        hidden_neuron = fd.neurons.IF(n_hidden, tau=10.0, **kw)
    hidden = ev.Layer(
        hidden_neuron, 5, W_in=fd.init.Normal(scale=2.0, mean=1.5), tau_syn=5.0,
        key=k1, method=method,
    )
    if readout:
        out_neuron = fd.neurons.LeakyIntegrator(3, tau=10.0)
    else:
        out_neuron = fd.neurons.LIF(3, tau=jnp.array([10.0, 8.0, 12.0]), **kw)
    out = ev.Layer(
        out_neuron, n_hidden, W_in=fd.init.Normal(scale=0.3, mean=0.1), tau_syn=4.0,
        key=k2, method=method,
    )
    return ev.Network([hidden, out], t0=0.0, t1=40.0)


def _inputs(n, seed=0):
    xy, labels = ev.yin_yang(n, seed=seed)
    v = np.concatenate([xy, 1.0 - xy], axis=1)
    t = np.concatenate([2.0 + 10.0 * v, np.full((n, 1), 2.0)], axis=1)
    return jnp.asarray(t), jnp.asarray(labels)


def _run(net, times):
    return jax.vmap(lambda t: net(ev.SpikeTrain(t[:, None])))(times)


def _loss(net, times):
    hidden, out = _run(net, times)
    first = jnp.where(jnp.isfinite(out.first), out.first, 0.0)
    h_first = jnp.where(jnp.isfinite(hidden.first), hidden.first, 0.0)
    return jnp.sum(first) + 0.1 * jnp.sum(h_first) + jnp.sum(out.V_max)


@pytest.mark.parametrize(
    "readout, reset, neuron",
    [
        # About 15-25 s each (compiling the event loop's reverse-mode gradient): with -m
        # slow. The default run checks the same gradient along random directions below.
        pytest.param(False, "zero", "lif", marks=pytest.mark.slow),
        pytest.param(False, "subtract", "if", marks=pytest.mark.slow),
        pytest.param(True, "zero", "lif", marks=pytest.mark.slow),
    ],
    ids=["lif", "if-subtract", "leaky-readout"],
)
def test_parallel_equals_event_loop_with_gradients(x64, readout, reset, neuron):
    times, _ = _inputs(16)
    nets = {
        p: _network(ev.ClosedForm(parallel=p), readout=readout, key=jax.random.key(3),
                    reset=reset, neuron=neuron)
        for p in (True, False)
    }
    outs = {p: eqx.filter_jit(_run)(net, times) for p, net in nets.items()}
    for layer in (0, 1):
        a, b = outs[True][layer], outs[False][layer]
        np.testing.assert_array_equal(np.asarray(a.count), np.asarray(b.count))
        np.testing.assert_array_equal(np.isfinite(a.times), np.isfinite(b.times))
        fin = np.isfinite(np.asarray(b.times))
        np.testing.assert_allclose(np.asarray(a.times)[fin], np.asarray(b.times)[fin],
                                   rtol=0, atol=1e-11)
        np.testing.assert_allclose(np.asarray(a.V_max), np.asarray(b.V_max), rtol=0, atol=1e-11)
        assert bool(a.complete.all())
    # The case must exercise both outcomes: spiking and silent neurons.
    n_fired = int(outs[True][0].count.sum())
    assert 0 < n_fired < outs[True][0].count.size
    # Gradients with respect to every weight, time constant and threshold, and the input
    # spike times.
    def grads(net):
        params, static = eqx.partition(net, eqx.is_inexact_array)
        return jax.grad(lambda p, t: _loss(eqx.combine(p, static), t), argnums=(0, 1))(
            params, times
        )
    g = {p: eqx.filter_jit(grads)(net) for p, net in nets.items()}
    leaves_a = jax.tree.leaves(g[True])
    leaves_b = jax.tree.leaves(g[False])
    assert len(leaves_a) == len(leaves_b) >= 8
    for a, b in zip(leaves_a, leaves_b):
        a, b = np.asarray(a), np.asarray(b)
        assert np.all(np.isfinite(a))
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12 * max(1.0, np.abs(b).max()))
    assert any(np.abs(np.asarray(x)).max() > 0 for x in leaves_a)


def test_parallel_gradient_equals_event_loop_along_random_directions(x64):
    """The parallel solver's reverse-mode gradient (what training uses), projected on
    random directions in every weight, time constant, threshold and input time, equals
    the event loop's forward-mode derivative along them (1e-9 relative): the full
    leaf-by-leaf comparison above, at a fraction of its compile time."""
    times, _ = _inputs(16)
    nets = {
        p: _network(ev.ClosedForm(parallel=p), readout=False, key=jax.random.key(3))
        for p in (True, False)
    }
    params, static = eqx.partition(nets[True], eqx.is_inexact_array)
    # The same arrays (same key); the methods differ, so the tree structures do too.
    loop_params, loop_static = eqx.partition(nets[False], eqx.is_inexact_array)
    g_params, g_times = eqx.filter_jit(
        jax.grad(lambda p, t: _loss(eqx.combine(p, static), t), argnums=(0, 1))
    )(params, times)
    assert len(jax.tree.leaves(g_params)) >= 8
    loop_jvp = eqx.filter_jit(
        lambda p, t, vp, vt: jax.jvp(
            lambda p, t: _loss(eqx.combine(p, loop_static), t), (p, t), (vp, vt)
        )[1]
    )
    rng = np.random.default_rng(0)
    for _ in range(3):
        v_params = jax.tree.map(lambda a: jnp.asarray(rng.normal(size=a.shape)), loop_params)
        v_times = jnp.asarray(rng.normal(size=times.shape))
        loop_derivative = loop_jvp(loop_params, times, v_params, v_times)
        projected = sum(
            jnp.vdot(g, v) for g, v in zip(jax.tree.leaves(g_params), jax.tree.leaves(v_params))
        ) + jnp.vdot(g_times, v_times)
        assert np.isfinite(float(projected)) and abs(float(projected)) > 0
        np.testing.assert_allclose(float(projected), float(loop_derivative), rtol=1e-9)


def test_parallel_gradient_matches_finite_differences(x64):
    """The spike-once solver's gradient with respect to the input weights equals central
    differences (1e-6 relative) where the set of spikes does not change."""
    times, _ = _inputs(6, seed=4)
    net = _network(None, readout=False, key=jax.random.key(5), n_hidden=8)
    W = net.layers[1].W_in

    def loss(W):
        m = eqx.tree_at(lambda n: n.layers[1].W_in, net, W)
        return _loss(m, times)

    loss = jax.jit(loss)
    g = np.asarray(jax.grad(loss)(W))
    eps = 1e-6
    fd_g = np.zeros(W.shape)
    for idx in np.ndindex(W.shape):
        fd_g[idx] = (float(loss(W.at[idx].add(eps))) - float(loss(W.at[idx].add(-eps)))) / (2 * eps)
    assert np.max(np.abs(g - fd_g)) / np.max(np.abs(fd_g)) < 1e-6


def test_which_layers_take_the_parallel_solver():
    lif = lambda **kw: fd.neurons.LIF(2, tau=10.0, V_rest=0.0, V_reset=0.0, V_th=1.0, **kw)
    W = jnp.ones((1, 2))
    assert ev.Layer(lif(tau_ref=float("inf")), 1, W_in=W).spike_once
    assert ev.Layer(fd.neurons.LeakyIntegrator(2), 1, W_in=W).spike_once
    assert not ev.Layer(lif(), 1, W_in=W).spike_once
    assert not ev.Layer(lif(tau_ref=2.0), 1, W_in=W).spike_once
    # A finite refractory period fires more than once: the event loop, whose result
    # is then not the spike-once result.
    spikes = ev.Layer(lif(tau_ref=1.0), 1, W_in=jnp.full((1, 2), 30.0), budget=4)(
        ev.SpikeTrain(jnp.array([[1.0]])), t1=40.0
    )
    assert int(spikes.count.max()) > 1


def test_spike_once_layer_whose_refractory_period_became_finite_raises():
    lif = fd.neurons.LIF(2, tau=10.0, V_rest=0.0, V_reset=0.0, V_th=1.0, tau_ref=float("inf"))
    layer = ev.Layer(lif, 1, W_in=jnp.full((1, 2), 30.0))
    changed = eqx.tree_at(lambda l: l.neuron.tau_ref, layer, jnp.full((2,), 2.0))
    run = eqx.filter_jit(lambda l: l(ev.SpikeTrain(jnp.array([[1.0]])), t1=40.0).times)
    assert np.isfinite(np.asarray(run(layer))).all()
    with pytest.raises(Exception, match="tau_ref"):
        jax.block_until_ready(run(changed))


def test_closed_form_parallel_must_be_a_bool():
    with pytest.raises(TypeError, match="parallel"):
        ev.ClosedForm(parallel="yes")
