"""funcdyn.encoding (encoders, input helpers) and funcdyn.measure."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcdyn as fd
from funcdyn import encoding as E
from funcdyn.testing import check_contract

KEY = jax.random.key(0)


@pytest.mark.parametrize(
    "make, x, kw",
    [
        (lambda m: E.PoissonEncoder(mode=m), jnp.linspace(0.1, 0.9, 5), dict(key=KEY)),
        (lambda m: E.PoissonEncoder(0.0, 10.0, mode=m), jnp.linspace(1.0, 9.0, 5), dict(key=KEY)),
        (lambda m: E.LatencyEncoder(tau=3.0, mode=m), jnp.linspace(0.0, 1.0, 5), dict(grad=False)),
        (lambda m: E.DiffEncoder(5, threshold=0.05, off_spike=True, mode=m),
         jnp.linspace(0.0, 1.0, 5), dict(grad=False)),
    ],
)
def test_contract(make, x, kw):
    check_contract(make(fd.nonbatching_mode), x, dt=1.0, **kw)


def test_contract_batching():
    x = jnp.tile(jnp.linspace(0.1, 0.9, 5), (2, 1))
    check_contract(E.DiffEncoder(5, mode=fd.batching_mode), x, dt=1.0, batch_size=2, grad=False)


def test_poisson_rates_and_straight_through_gradient():
    p = jnp.array([0.0, 0.1, 0.5, 0.9, 1.0])
    xs = jnp.broadcast_to(p, (4000, 5))
    _, spikes, _ = fd.run(E.PoissonEncoder(), xs, dt=1.0, key=KEY)
    assert set(np.unique(np.asarray(spikes)).tolist()) <= {0.0, 1.0}
    np.testing.assert_allclose(jnp.mean(spikes, axis=0), p, atol=0.03)
    # Steps draw different numbers; the same key reproduces them.
    _, again, _ = fd.run(E.PoissonEncoder(), xs, dt=1.0, key=KEY)
    np.testing.assert_array_equal(spikes, again)
    assert not np.array_equal(spikes[0], spikes[1]) or not np.array_equal(spikes[1], spikes[2])
    enc = E.PoissonEncoder(min_val=0.0, max_val=4.0)
    g = jax.grad(lambda x: jnp.sum(enc(None, x, fd.Context(key=KEY))[1]))(jnp.array([1.0, 2.0]))
    np.testing.assert_allclose(g, [0.25, 0.25])
    # Out-of-range inputs are clipped to probabilities 0 and 1.
    _, s = enc(None, jnp.array([-3.0, 9.0]), fd.Context(key=KEY))
    np.testing.assert_array_equal(s, [0.0, 1.0])


def test_latency_spike_times():
    x = jnp.array([1.0, 0.5, 0.25, 0.0])
    enc = E.LatencyEncoder(tau=10.0, threshold=0.1)
    np.testing.assert_allclose(enc.spike_time(x)[:3], [0.0, 5.0, 7.5])
    assert np.isinf(enc.spike_time(x)[3])
    _, spikes, _ = fd.run(enc, jnp.broadcast_to(x, (20, 4)), dt=0.5)
    first = np.argmax(np.asarray(spikes), axis=0)
    np.testing.assert_array_equal(first[:3], [0, 10, 15])
    np.testing.assert_array_equal(jnp.sum(spikes, axis=0), [1, 1, 1, 0])  # one spike each
    log = E.LatencyEncoder(tau=2.0, method="log", threshold=0.2, min_val=0.0, max_val=2.0,
                           first_spike_time=1.0)
    v = np.array([1.0, 0.5])
    np.testing.assert_allclose(log.spike_time(jnp.array([2.0, 1.0])),
                               1.0 + 2.0 * np.log(v / (v - 0.2)), rtol=1e-6)
    assert np.isinf(log.spike_time(jnp.array([0.3]))[0])


def test_diff_encoder():
    signal = jnp.array([0.0, 0.5, 0.55, 1.2, 0.4, 0.4])[:, None]
    _, on, _ = fd.run(E.DiffEncoder(1, threshold=0.3), signal, dt=1.0)
    np.testing.assert_array_equal(on[:, 0], [0, 1, 0, 1, 0, 0])
    _, both, _ = fd.run(E.DiffEncoder(1, threshold=0.3, off_spike=True), signal, dt=1.0)
    np.testing.assert_array_equal(both[:, 0], [0, 1, 0, 1, -1, 0])


def test_input_helpers():
    I = fd.section_input([0.0, jnp.array([1.0, 2.0]), 3.0], [1.0, 0.5, 0.2], dt=0.1)
    assert I.shape == (17, 2)
    np.testing.assert_array_equal(I[:10], 0.0)
    np.testing.assert_array_equal(I[10:15], np.tile([1.0, 2.0], (5, 1)))
    np.testing.assert_array_equal(I[15:], 3.0)
    I, duration = fd.constant_input([(0.0, 10.0), (5.0, 20.0)], dt=1.0)
    assert duration == 30.0 and I.shape == (30,) and float(I[10]) == 5.0
    ramp = fd.ramp_input(0.0, 1.0, 10.0, dt=1.0, t_start=2.0, t_end=7.0)
    np.testing.assert_allclose(ramp, [0, 0, 0, 0.25, 0.5, 0.75, 1.0, 0, 0, 0])
    pulses = fd.spike_input([1.0, 5.0], [2.0, 1.0], [3.0, 4.0], 8.0, dt=1.0)
    np.testing.assert_array_equal(pulses, [0, 3, 3, 0, 0, 4, 0, 0])
    assert fd.spike_input([1.0], 0.5, 1.0, 4.0, dt=1.0).tolist() == [0, 1, 0, 0]
    assert fd.section_input is E.section_input


def test_firing_rate_and_raster_plot():
    spikes = np.zeros((100, 4))
    spikes[::10, 0] = 1.0  # 100 Hz with dt = 1 ms
    spikes[::20, 1] = 1.0  # 50 Hz
    rate = fd.firing_rate(spikes, width=20.0, dt=1.0)
    assert rate.shape == (100,)
    np.testing.assert_allclose(np.mean(np.asarray(rate)[20:80]), 150.0 / 4, rtol=0.05)
    window = np.ones(21) * 1000.0 / 21
    np.testing.assert_allclose(rate, np.convolve(spikes.mean(1), window, mode="same"), rtol=1e-5)
    np.testing.assert_allclose(fd.firing_rate(spikes[:, 0], 1.0, dt=1.0), spikes[:, 0] * 1000.0)

    import matplotlib

    matplotlib.use("Agg")
    ax = fd.raster_plot(np.arange(100.0), spikes, title="t")
    xs, ys = ax.lines[0].get_data()
    assert len(xs) == int(spikes.sum()) and set(np.asarray(ys).tolist()) == {0, 1}
    assert ax.get_title() == "t"


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: E.PoissonEncoder(min_val=1.0), "both"),
        (lambda: E.PoissonEncoder(2.0, 1.0), "greater"),
        (lambda: E.PoissonEncoder("a", 1.0), "min_val"),
        (lambda: E.LatencyEncoder(tau=0.0), "tau"),
        (lambda: E.LatencyEncoder(method="exp"), "method"),
        (lambda: E.LatencyEncoder(threshold=1.0), "threshold"),
        (lambda: E.LatencyEncoder(method="log", threshold=0.0), "threshold > 0"),
        (lambda: E.LatencyEncoder(first_spike_time="0"), "first_spike_time"),
        (lambda: E.DiffEncoder(0), "num"),
        (lambda: E.DiffEncoder(2, threshold=0.0), "threshold"),
        (lambda: E.DiffEncoder(2, off_spike=1), "off_spike"),
        (lambda: fd.section_input([1.0], [1.0, 2.0], dt=0.1), "equal"),
        (lambda: fd.section_input([1.0], [-1.0], dt=0.1), "duration"),
        (lambda: fd.section_input([1.0], [1.0], dt=0.0), "dt"),
        (lambda: fd.constant_input([1.0, 2.0], dt=0.1), "pairs"),
        (lambda: fd.ramp_input(0.0, 1.0, 5.0, dt=1.0, t_start=4.0, t_end=2.0), "t_start"),
        (lambda: fd.spike_input([1.0, 2.0], [1.0], 1.0, 5.0, dt=1.0), "one entry"),
        (lambda: fd.firing_rate(np.zeros((2, 2, 2)), 1.0, dt=1.0), r"\(T, N\)"),
        (lambda: fd.firing_rate(np.zeros((2, 2)), 0.0, dt=1.0), "width"),
        (lambda: fd.firing_rate(np.zeros((2, 2)), 1.0, dt=0.0), "dt"),
        (lambda: fd.raster_plot(np.arange(3.0), np.zeros((4, 2))), "ts"),
    ],
)
def test_errors(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_call_errors():
    with pytest.raises(ValueError, match="key=None"):
        E.PoissonEncoder()(None, jnp.ones(3), fd.Context())
    with pytest.raises(ValueError, match="expects input of shape"):
        E.DiffEncoder(3)(jnp.zeros(3), jnp.ones(4), fd.Context())
