"""Fault injection for layers, connectivity, encoders, input helpers and measurement:
numpy scalars, NaN / infinite parameters, strings for flags, degenerate batches, sections
that would vanish, NaN inputs."""


import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcdyn as fd
from funcdyn import conn as C
from funcdyn import encoding as E
from funcdyn import layers as L
from funcdyn._checks import (
    check_bool,
    check_finite,
    check_param,
    check_positive,
    check_probability,
    check_range,
    check_real,
)

TM = fd.training_mode
NAN, INF = float("nan"), float("inf")


# -- the shared helpers -------------------------------------------------------------------


def test_shared_checks_accept_numpy_scalars_and_name_owner_argument_value():
    for v in (0.3, np.float32(0.3), np.float64(0.3), np.asarray(0.3), 1, np.int64(1)):
        out = check_probability(v, "p", "Owner")
        assert type(out) is float and out == float(v)
    assert check_positive(np.float16(2.0), "x", "Owner") == 2.0
    assert check_positive(0, "x", "Owner", allow_zero=True) == 0.0
    assert check_bool(np.bool_(True), "flag", "Owner") is True
    with pytest.raises(ValueError, match=r"^Owner: `p` must be in \[0, 1\], got nan\. Pass a"):
        check_probability(NAN, "p", "Owner")
    with pytest.raises(ValueError, match=r"Owner: `x` must be > 0, got -1\.0"):
        check_positive(-1.0, "x", "Owner")
    with pytest.raises(ValueError, match=r"Owner: `x` must be finite, got inf"):
        check_finite(INF, "x", "Owner")
    with pytest.raises(ValueError, match=r"Owner: `x` must be in \[0, 1\), got 1"):
        check_range(1, "x", "Owner", low=0, high=1, high_open=True)
    for bad in ("0.3", True, None, [0.3], np.ones(2)):
        with pytest.raises(TypeError, match=r"Owner: `x` must be a real number"):
            check_real(bad, "x", "Owner")
    for bad in ("no", "False", 0, 1, None, np.float32(1.0)):
        with pytest.raises(TypeError, match=r"Owner: `flag` must be a bool \(True or False\)"):
            check_bool(bad, "flag", "Owner")
    arr = np.array([1.0, 2.0])
    assert check_param(arr, "a", "Owner", low=0.0, low_open=True) is arr
    msg = r"every element of `a` must be > 0, got .* at index \(1,\)"
    with pytest.raises(ValueError, match=msg):
        check_param(np.array([1.0, 0.0]), "a", "Owner", low=0.0, low_open=True)
    with pytest.raises(TypeError, match=r"Owner: `a` must be a real number or an array"):
        check_param("1", "a", "Owner")


# -- numpy scalars where a float is fine --------------------------------------------------


def test_dropout_takes_numpy_scalars():
    for p in (np.float32(0.3), np.float64(0.3), np.asarray(0.3)):
        drop = L.Dropout(p)
        assert type(drop.p) is float and drop.p == float(p)
        x = jnp.ones((2000,))
        _, y = drop(None, x, fd.Context(fit=True, key=jax.random.key(0)))
        # Kept units are scaled by 1 / (1 - p); the dropped fraction is about p.
        kept = np.asarray(y) != 0
        np.testing.assert_allclose(np.asarray(y)[kept], 1.0 / (1.0 - float(p)), rtol=1e-6)
        assert abs((1 - kept.mean()) - float(p)) < 0.04
    with jax.enable_x64(True):
        _, y = L.Dropout(np.float32(0.5))(
            None, jnp.ones(4, jnp.float64), fd.Context(fit=True, key=jax.random.key(1))
        )
        assert y.dtype == jnp.float64


def test_connectors_take_numpy_scalars_and_equal_their_float_versions():
    p32 = np.float32(0.3)
    a = C.FixedProb(p32, seed=np.int64(3))
    b = C.FixedProb(float(p32), seed=3)
    assert a == b and hash(a) == hash(b) and type(a.prob) is float
    np.testing.assert_array_equal(a.mask(20, 30), b.mask(20, 30))
    assert abs(a.mask(200, 200).mean() - 0.3) < 0.01
    assert C.FixedPreNum(np.int64(2), seed=0).mask(5, 4).sum(0).tolist() == [2] * 4
    assert C.FixedPostNum(np.float32(0.5), seed=0).mask(4, 6).sum(1).tolist() == [3] * 4
    assert C.FixedTotalNum(np.int32(7), seed=0).mask(4, 4).sum() == 7
    g = C.GaussianProb(np.float32(1.0), shape=(np.int64(2), 3), seed=0)
    assert g.mask(6, 6).shape == (6, 6)
    sw = C.SmallWorld(np.int64(2), np.float64(0.0), seed=0).mask(6, 6)
    ring = np.zeros((6, 6), bool)
    for i in range(6):
        ring[i, (i + 1) % 6] = ring[i, (i - 1) % 6] = True
    np.testing.assert_array_equal(sw, ring)  # no rewiring: the ring lattice
    assert C.ScaleFreeBA(np.int64(1), seed=0).mask(5, 5).sum() == 2 * 4


def test_norms_reservoir_encoders_and_inputs_take_numpy_scalars():
    bn = L.BatchNorm1d(3, epsilon=np.float32(1e-3), momentum=np.float64(0.9), mode=TM)
    assert (type(bn.epsilon), type(bn.momentum)) == (float, float)
    assert type(L.LayerNorm(3, epsilon=np.float32(1e-3)).epsilon) is float
    res = L.Reservoir(2, 8, in_connectivity=np.float32(0.5), rec_connectivity=np.float64(0.5),
                      input_scaling=np.float32(2.0), key=jax.random.key(0))
    assert res.in_connectivity == 0.5 and res.input_scaling == 2.0
    lat = E.LatencyEncoder(tau=np.float32(2.0), threshold=np.float64(0.1),
                           first_spike_time=np.int64(1))
    np.testing.assert_allclose(lat.spike_time(jnp.array([1.0, 0.5, 0.05])),
                               [1.0, 1.0 + 2.0 * 0.5, np.inf])
    diff = E.DiffEncoder(np.int64(2), threshold=np.float32(0.5), off_spike=np.bool_(True))
    _, s = diff(diff.init_state(None), jnp.array([1.0, -1.0]), fd.Context())
    np.testing.assert_array_equal(s, [1.0, -1.0])
    I = fd.section_input([1.0, 2.0], [np.float32(0.5), 1.0], dt=np.float32(0.25))
    np.testing.assert_array_equal(I, [1.0, 1.0, 2.0, 2.0, 2.0, 2.0])
    rate = fd.firing_rate(jnp.ones((10, 2)), np.float32(1.0), dt=np.float64(1.0))
    np.testing.assert_allclose(rate, 1000.0)


# -- NaN / infinite parameters ------------------------------------------------------------


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: L.Dropout(NAN), r"Dropout: `p` is the drop probability and must be in"),
        (lambda: L.BatchNorm2d(3, epsilon=NAN), r"BatchNorm2d: `epsilon` must be > 0, got nan"),
        (lambda: L.BatchNorm1d(3, epsilon=INF), r"BatchNorm1d: `epsilon` must be > 0, got inf"),
        (lambda: L.BatchNorm3d(3, momentum=NAN), r"BatchNorm3d: `momentum` must be in \[0, 1\)"),
        (lambda: L.LayerNorm(3, epsilon=NAN), r"LayerNorm: `epsilon` must be > 0"),
        (lambda: L.Reservoir(2, 4, in_connectivity=NAN, key=jax.random.key(0)),
         r"Reservoir: `in_connectivity` must be a float in \(0, 1\]"),
        (lambda: L.Reservoir(2, 4, noise_in=INF, key=jax.random.key(0)),
         r"Reservoir: `noise_in` must be a float >= 0 \(finite\), got inf"),
        (lambda: L.Reservoir(2, 4, spectral_radius=NAN, key=jax.random.key(0)),
         r"Reservoir: `spectral_radius` must be a float >= 0"),
        (lambda: L.Reservoir(2, 4, leaky_rate=NAN, key=jax.random.key(0)),
         r"Reservoir: `leaky_rate` must lie in \(0, 1\]"),
        (lambda: C.FixedProb(NAN), r"FixedProb: `prob` must be a probability in \[0, 1\], got"),
        (lambda: C.FixedProb(np.float32(NAN)), r"FixedProb: `prob` must be a probability"),
        (lambda: C.SmallWorld(2, NAN), r"SmallWorld: `prob` must be a probability"),
        (lambda: C.FixedPostNum(NAN), r"FixedPostNum: a float `num` is a fraction"),
        (lambda: C.FixedPreNum(np.float64(NAN)), r"FixedPreNum: a float `num` is a fraction"),
        (lambda: C.GaussianProb(NAN), r"GaussianProb: `sigma` must be a positive float"),
        (lambda: C.GaussianProb(INF), r"GaussianProb: `sigma` must be a positive float"),
        (lambda: E.LatencyEncoder(tau=NAN), r"LatencyEncoder: `tau` must be > 0, got nan"),
        (lambda: E.LatencyEncoder(threshold=NAN), r"LatencyEncoder: `threshold` must be in"),
        (lambda: E.LatencyEncoder(first_spike_time=INF),
         r"LatencyEncoder: `first_spike_time` must be finite"),
        (lambda: E.DiffEncoder(2, threshold=NAN), r"DiffEncoder: `threshold` must be > 0"),
        (lambda: E.PoissonEncoder(min_val=NAN, max_val=1.0),
         r"PoissonEncoder: `min_val` must be finite"),
        (lambda: E.PoissonEncoder(min_val=0.0, max_val=INF),
         r"PoissonEncoder: `max_val` must be finite"),
        (lambda: fd.section_input([1.0], [NAN], dt=0.1), r"section_input: each duration must"),
        (lambda: fd.section_input([NAN], [1.0], dt=0.1), r"section_input: value 0 holds a NaN"),
        (lambda: fd.section_input([1.0], [1.0], dt=NAN), r"section_input: `dt` must be > 0"),
        (lambda: fd.constant_input([(1.0, 1.0)], dt=INF), r"section_input: `dt` must be > 0"),
        (lambda: fd.firing_rate(jnp.ones((4, 2)), NAN, dt=1.0), r"firing_rate: `width` must be"),
        (lambda: fd.losses.mean_rate(jnp.ones((1, 4, 2)), dt=NAN), r"mean_rate: `dt` must be"),
    ],
)
def test_nan_and_infinite_parameters_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# -- strings (and other non-bools) for bool flags -----------------------------------------


@pytest.mark.parametrize("bad", ["no", "False", 0, None])
@pytest.mark.parametrize(
    "make, match",
    [
        (lambda v: C.FixedProb(0.1, include_self=v), r"FixedProb: `include_self` must be a bool"),
        (lambda v: C.All2All(include_self=v), r"All2All: `include_self` must be a bool"),
        (lambda v: C.GaussianProb(1.0, periodic_boundary=v),
         r"GaussianProb: `periodic_boundary` must be a bool"),
        (lambda v: C.SmallWorld(2, 0.1, directed=v), r"SmallWorld: `directed` must be a bool"),
        (lambda v: C.ScaleFreeBA(1, directed=v), r"ScaleFreeBA: `directed` must be a bool"),
        (lambda v: C.FixedTotalNum(3, allow_multi_conn=v), r"FixedTotalNum: `allow_multi_conn`"),
        (lambda v: E.DiffEncoder(2, off_spike=v), r"DiffEncoder: `off_spike` must be a bool"),
        (lambda v: L.ConvLSTMCell((4, 4), 1, 2, 3, train_state=v, key=jax.random.key(0)),
         r"ConvLSTMCell: `train_state` must be a bool"),
        (lambda v: fd.raster_plot(np.arange(3.0), np.zeros((3, 2)), show=v),
         r"raster_plot: `show` must be a bool"),
    ],
)
def test_strings_for_bool_flags_are_type_errors(make, match, bad):
    with pytest.raises(TypeError, match=match):
        make(bad)


def test_dense_flag_of_connectors():
    with pytest.raises(TypeError, match=r"FixedProb: `dense` must be None, True or False"):
        C.FixedProb(0.1, dense="no")


# -- BatchNorm with one value per channel -------------------------------------------------


@pytest.mark.parametrize(
    "cls, shape",
    [(L.BatchNorm1d, (1, 3)), (L.BatchNorm1d, (1, 1, 3)), (L.BatchNorm2d, (1, 1, 1, 3)),
     (L.BatchNorm3d, (1, 1, 1, 1, 3))],
)
def test_batchnorm_training_with_one_value_per_channel_raises_at_trace_time(cls, shape):
    bn = cls(3, mode=TM)
    x = jnp.arange(3.0).reshape(shape)
    state = bn.init_state(1)
    ctx = fd.Context(fit=True)
    match = rf"{cls.__name__}: batch statistics \(ctx.fit=True\) need more than one value per "
    with pytest.raises(ValueError, match=match):
        bn(state, x, ctx)
    with pytest.raises(ValueError, match=match):
        jax.jit(lambda s, x: bn(s, x, ctx))(state, x)
    # Evaluation with the running statistics (mean 0, var 1) is fine with a batch of 1.
    _, y = bn(state, x, fd.Context(fit=False))
    np.testing.assert_allclose(y, x / np.sqrt(1.0 + 1e-5), rtol=1e-6)


def test_batchnorm_batch_of_one_with_several_values_per_channel_normalises():
    # One image, 4x4 pixels: 16 values per channel give real batch statistics.
    bn = L.BatchNorm2d(2, mode=TM)
    x = jax.random.normal(jax.random.key(0), (1, 4, 4, 2)) * 3.0 + 1.0
    _, y = jax.jit(lambda s, x: bn(s, x, fd.Context(fit=True)))(bn.init_state(1), x)
    xn = np.asarray(x, np.float64)
    ref = (xn - xn.mean((0, 1, 2))) / np.sqrt(xn.var((0, 1, 2)) + 1e-5)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    # Two examples of one feature: +-1 exactly.
    bn1 = L.BatchNorm1d(1, epsilon=1e-12, mode=TM)
    _, y = bn1(bn1.init_state(2), jnp.array([[3.0], [5.0]]), fd.Context(fit=True))
    np.testing.assert_allclose(y[:, 0], [-1.0, 1.0], rtol=1e-6)


# -- input sections shorter than half a step ----------------------------------------------


def test_sections_shorter_than_half_a_step_are_refused():
    with pytest.raises(ValueError, match=r"section_input: section 1 lasts 0\.04 ms, less than "
                       r"half a step \(dt=0\.1\)"):
        fd.section_input([1.0, 2.0, 3.0], [1.0, 0.04, 1.0], dt=0.1)
    with pytest.raises(ValueError, match=r"section 0 lasts 0\.2 ms, less than half a step"):
        fd.constant_input([(5.0, 0.2), (0.0, 10.0)], dt=0.5)
    # A zero-length section is an explicit "nothing", not a rounding: it is allowed.
    np.testing.assert_array_equal(fd.section_input([1.0, 2.0], [0.0, 0.3], dt=0.1), [2.0] * 3)


def test_constant_input_reports_the_duration_it_returns():
    I, duration = fd.constant_input([(0.0, 10.0), (5.0, 90.0)], dt=0.1)
    assert I.shape == (1000,) and duration == 100.0
    np.testing.assert_array_equal(I[99:101], [0.0, 5.0])
    # 0.26 ms at dt=0.1 rounds to 3 steps: the reported duration is 0.3, not 0.26.
    I, duration = fd.constant_input([(1.0, 0.26), (2.0, 0.1)], dt=0.1)
    np.testing.assert_array_equal(I, [1.0, 1.0, 1.0, 2.0])
    assert duration == pytest.approx(0.4, abs=1e-12)
    assert duration == pytest.approx(I.shape[0] * 0.1, abs=1e-12)
    # Exactly half a step rounds to the even neighbour (0 or 1 step): 0.05 / 0.1 = 0.5 ->
    # round-half-even gives 0, so it is refused rather than silently dropped.
    with pytest.raises(ValueError, match="less than half a step"):
        fd.section_input([1.0], [0.05], dt=0.1)


# -- NaN inputs propagate through encoders and are never plotted as spikes ----------------


def test_nan_inputs_propagate_through_encoders():
    x = jnp.array([0.0, NAN, 1.0])
    ctx = fd.Context(t=0.0, dt=1.0, key=jax.random.key(0))
    _, s = E.PoissonEncoder()(None, x, ctx)
    assert s[0] == 0.0 and s[2] == 1.0 and jnp.isnan(s[1])
    lat = E.LatencyEncoder(tau=2.0)
    t = lat.spike_time(x)
    assert t[0] == np.inf and t[2] == 0.0 and jnp.isnan(t[1])
    _, s = lat(None, x, ctx)
    assert s[2] == 1.0 and s[0] == 0.0 and jnp.isnan(s[1])
    diff = E.DiffEncoder(3, threshold=0.5)
    _, s = diff(diff.init_state(None), x, ctx)
    assert s[0] == 0.0 and s[2] == 1.0 and jnp.isnan(s[1])
    with pytest.raises(ValueError, match=r"raster_plot: `spikes` holds a non-finite value \(at "
                       r"step 1, neuron 0\)"):
        fd.raster_plot(np.arange(2.0), np.array([[0.0, 1.0], [NAN, 0.0]]))
