"""funcdyn.losses against hand computations."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from funcdyn import losses


def _log_softmax(z):
    z = np.asarray(z, np.float64)
    m = z.max(-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(-1, keepdims=True))


LOGITS = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0], [1.0, 1.0, 0.0]], np.float32)
LABELS = np.array([0, 2, 1], np.int32)


def test_cross_entropy_integer_and_one_hot_labels():
    expected = -np.mean(_log_softmax(LOGITS)[np.arange(3), LABELS])
    np.testing.assert_allclose(losses.cross_entropy(LOGITS, LABELS), expected, rtol=1e-6)
    one_hot = np.eye(3, dtype=np.float32)[LABELS]
    np.testing.assert_allclose(losses.cross_entropy(LOGITS, one_hot), expected, rtol=1e-6)
    # Soft targets: -sum p log q.
    p = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [1.0, 0.0, 0.0]], np.float32)
    expected_soft = -np.mean((p * _log_softmax(LOGITS)).sum(-1))
    np.testing.assert_allclose(losses.cross_entropy(LOGITS, p), expected_soft, rtol=1e-6)


def test_cross_entropy_gradient_is_softmax_minus_one_hot():
    grad = jax.grad(losses.cross_entropy)(jnp.asarray(LOGITS), LABELS)
    expected = (np.exp(_log_softmax(LOGITS)) - np.eye(3)[LABELS]) / 3
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-7)


def _sequence():
    # (batch=2, T=3, C=2)
    return np.array(
        [[[0.0, 1.0], [3.0, -1.0], [1.0, 2.0]], [[-2.0, 0.0], [0.5, 0.5], [4.0, 1.0]]],
        np.float32,
    )


def test_time_reductions_both_layouts():
    ys = _sequence()
    np.testing.assert_array_equal(losses.max_over_time(ys), [[3.0, 2.0], [4.0, 1.0]])
    np.testing.assert_allclose(
        losses.mean_over_time(ys), [[4 / 3, 2 / 3], [2.5 / 3, 1.5 / 3]], rtol=1e-6
    )
    np.testing.assert_array_equal(losses.last_step(ys), [[1.0, 2.0], [4.0, 1.0]])
    tm = np.swapaxes(ys, 0, 1)
    for fn in (losses.max_over_time, losses.mean_over_time, losses.last_step):
        np.testing.assert_array_equal(fn(tm, time_axis=0), fn(ys))


def test_cross_entropy_and_accuracy_over_time():
    ys = _sequence()
    labels = np.array([1, 0], np.int32)
    for reduce, ce, acc in [
        (lambda a: a.max(1), losses.cross_entropy_max_over_time, losses.accuracy_max_over_time),
        (lambda a: a.mean(1), losses.cross_entropy_mean_over_time, losses.accuracy_mean_over_time),
        (lambda a: a[:, -1], losses.cross_entropy_last_step, losses.accuracy_last_step),
    ]:
        z = reduce(ys)
        expected = -np.mean(_log_softmax(z)[np.arange(2), labels])
        np.testing.assert_allclose(ce(ys, labels), expected, rtol=1e-6)
        time_major = ce(np.swapaxes(ys, 0, 1), labels, time_axis=0)
        np.testing.assert_allclose(time_major, expected, rtol=1e-6)
        np.testing.assert_allclose(acc(ys, labels), np.mean(z.argmax(-1) == labels))
    # max over time: [[3, 2], [4, 1]] -> classes [0, 0]; labels [1, 0] -> 0.5
    assert float(losses.accuracy_max_over_time(ys, labels)) == 0.5


def test_accuracy_hand_values():
    assert float(losses.accuracy(LOGITS, LABELS)) == pytest.approx(2 / 3)
    one_hot = np.eye(3, dtype=np.float32)[LABELS]
    assert float(losses.accuracy(LOGITS, one_hot)) == pytest.approx(2 / 3)


def test_mean_squared_error():
    a = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    b = np.array([[0.0, 2.0], [5.0, 1.0]], np.float32)
    assert float(losses.mean_squared_error(a, b)) == pytest.approx((1 + 0 + 4 + 9) / 4)


def test_firing_rate_and_regularisers():
    # (batch=2, T=4, n=3)
    spikes = np.zeros((2, 4, 3), np.float32)
    spikes[0, :, 0] = 1  # rate 1
    spikes[0, :2, 1] = 1  # rate 0.5
    spikes[1, 0, 2] = 1  # rate 0.25
    rates = np.array([[1.0, 0.5, 0.0], [0.0, 0.0, 0.25]])
    np.testing.assert_allclose(losses.firing_rate(spikes), rates)
    np.testing.assert_allclose(losses.firing_rate(spikes, dt=0.5), rates / 0.5)
    np.testing.assert_allclose(
        losses.firing_rate(np.swapaxes(spikes, 0, 1), time_axis=0), rates
    )
    assert float(losses.rate_l1(spikes)) == pytest.approx(rates.mean())
    assert float(losses.rate_l2(spikes)) == pytest.approx((rates**2).mean())
    expected = ((rates - 0.25) ** 2).mean()
    assert float(losses.rate_l2(spikes, target=0.25)) == pytest.approx(expected)
    upper = np.maximum(rates - 0.25, 0)
    lower = np.maximum(0.25 - rates, 0)
    assert float(losses.rate_l1(spikes, target=0.25, side="upper")) == pytest.approx(upper.mean())
    lower_l2 = losses.rate_l2(spikes, target=0.25, side="lower")
    assert float(lower_l2) == pytest.approx((lower**2).mean())
    pop = rates.mean(-1)  # [0.5, 0.08333]
    assert float(losses.rate_l1(spikes, per="population", target=0.1)) == pytest.approx(
        np.abs(pop - 0.1).mean()
    )
    assert float(losses.rate_l2(spikes, per="population")) == pytest.approx((pop**2).mean())


def test_losses_are_jittable_and_differentiable():
    spikes = jax.random.uniform(jax.random.key(0), (2, 5, 4))
    g = jax.jit(jax.grad(lambda s: losses.rate_l2(s, target=0.1)))(spikes)
    # L = mean_bn (r_bn - 0.1)^2 with r_bn = mean_t s_btn, so
    # dL/ds_btn = 2 (r_bn - 0.1) / (B n T), the same for every t.
    r = np.asarray(spikes, np.float64).mean(1)
    expected = np.broadcast_to((2 * (r - 0.1) / (2 * 4 * 5))[:, None, :], spikes.shape)
    np.testing.assert_allclose(g, expected, rtol=1e-5, atol=1e-8)
    # Against a central difference of the loss at one element (float32: h = 1e-2, the
    # loss is quadratic so the difference is exact up to rounding).
    loss = lambda s: float(losses.rate_l2(s, target=0.1))
    h = 1e-2
    e = jnp.zeros_like(spikes).at[1, 3, 2].set(h)
    fd = (loss(spikes + e) - loss(spikes - e)) / (2 * h)
    assert fd == pytest.approx(float(g[1, 3, 2]), rel=1e-3)
    # The jitted cross-entropy gradient equals the eager one (softmax - one-hot).
    ce = jax.jit(jax.grad(losses.cross_entropy))(jnp.asarray(LOGITS), LABELS)
    expected = (np.exp(_log_softmax(LOGITS)) - np.eye(3)[LABELS]) / 3
    np.testing.assert_allclose(ce, expected, rtol=1e-5, atol=1e-7)


def test_mean_rate_and_its_alias():
    spikes = np.zeros((2, 4, 3), np.float32)
    spikes[0, :, 0] = 1
    spikes[1, :3, 2] = 1
    rates = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.75]])
    np.testing.assert_allclose(losses.mean_rate(spikes), rates)
    np.testing.assert_allclose(losses.mean_rate(spikes, dt=np.float32(0.25)), rates / 0.25)
    np.testing.assert_array_equal(
        losses.firing_rate(spikes, dt=0.5), losses.mean_rate(spikes, dt=0.5)
    )
    assert "Alias of" in losses.firing_rate.__doc__ and "mean_rate" in losses.firing_rate.__doc__
    # A per-neuron target array is accepted.
    target = np.array([0.5, 0.0, 0.5], np.float32)
    assert float(losses.rate_l1(spikes, target=target)) == pytest.approx(
        np.abs(rates - target).mean()
    )
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match=r"rate_l1: `target` must be finite"):
            losses.rate_l1(spikes, target=bad)
        with pytest.raises(ValueError, match=r"mean_rate: `dt` must be > 0"):
            losses.mean_rate(spikes, dt=bad)
    with pytest.raises(ValueError, match=r"rate_l2: every element of `target` must be finite"):
        losses.rate_l2(spikes, target=np.array([0.1, np.nan, 0.1]))
    with pytest.raises(TypeError, match=r"rate_l2: `dt` must be a real number"):
        losses.rate_l2(spikes, dt="1")


LABEL_LOSSES = [
    ("cross_entropy", losses.cross_entropy, LOGITS),
    ("accuracy", losses.accuracy, LOGITS),
    ("cross_entropy", losses.cross_entropy_max_over_time, np.stack([LOGITS] * 2, 1)),
    ("cross_entropy", losses.cross_entropy_mean_over_time, np.stack([LOGITS] * 2, 1)),
    ("cross_entropy", losses.cross_entropy_last_step, np.stack([LOGITS] * 2, 1)),
    ("accuracy", losses.accuracy_max_over_time, np.stack([LOGITS] * 2, 1)),
    ("accuracy", losses.accuracy_mean_over_time, np.stack([LOGITS] * 2, 1)),
    ("accuracy", losses.accuracy_last_step, np.stack([LOGITS] * 2, 1)),
]


@pytest.mark.parametrize("who, fn, logits", LABEL_LOSSES)
def test_labels_outside_the_classes_raise_eagerly_and_under_jit(who, fn, logits):
    jitted = jax.jit(fn)
    good = jitted(logits, LABELS)
    np.testing.assert_allclose(good, fn(logits, LABELS), rtol=1e-6)
    for bad in (np.array([0, 3, 1], np.int32), np.array([0, -1, 1], np.int32),
                np.array([7, 7, 7], np.int32)):
        with pytest.raises(ValueError, match=rf"{who}: integer labels must be class indices in "
                           r"\[0, 3\) for 3 classes"):
            fn(logits, bad)
        # Compiled: the eqx.error_if check fails at run time, with the same message.
        with pytest.raises(Exception, match=rf"{who}: integer labels must be class indices in "
                           r"\[0, 3\)"):
            jax.block_until_ready(jitted(logits, bad))
        with pytest.raises(Exception, match=rf"{who}: integer labels must be class"):
            jax.block_until_ready(eqx.filter_jit(fn)(logits, bad))
    # The gradient of a compiled loss with valid labels is unaffected by the check.
    if who == "cross_entropy":
        g = jax.jit(jax.grad(fn))(jnp.asarray(logits), LABELS)
        assert bool(jnp.all(jnp.isfinite(g))) and float(jnp.abs(g).sum()) > 0


def test_host_side_check_labels():
    from funcdyn.losses._labels import check_labels

    check_labels(LABELS, 3)
    check_labels(np.eye(3, dtype=np.float32), 3)
    check_labels(jnp.asarray(LABELS), 3, where="fit: train_data")
    with pytest.raises(ValueError, match=r"fit: train_data: integer labels must be class "
                       r"indices in \[0, 3\) for 3 classes; found 2 outside, the first 3 "
                       r"at index \(1, 0\)"):
        check_labels(np.array([[0, 1], [3, -2]]), 3, where="fit: train_data")
    with pytest.raises(ValueError, match=r"labels: float .* need 4 entries"):
        check_labels(np.eye(3, dtype=np.float32), 4)
    with pytest.raises(ValueError, match=r"non-finite value at index \(0, 1\)"):
        check_labels(np.array([[1.0, np.nan]], np.float32), 2)
    with pytest.raises(TypeError, match=r"labels must be integer class indices"):
        check_labels(np.array([True, False]), 2)
    with pytest.raises(TypeError, match=r"`num_classes` must be an int"):
        check_labels(LABELS, 3.0)
    with pytest.raises(ValueError, match=r"`num_classes` must be >= 1"):
        check_labels(LABELS, 0)
    # Traced labels are left to the compiled check.
    jax.jit(lambda y: check_labels(y, 3) or y)(LABELS)


def test_errors():
    ys = _sequence()
    with pytest.raises(ValueError, match="must have shape"):
        losses.cross_entropy_max_over_time(ys, np.array([1, 0, 1], np.int32))
    with pytest.raises(ValueError, match="time_axis"):
        # time-major outputs reduced over the batch axis: the labels no longer fit.
        losses.cross_entropy_max_over_time(np.zeros((5, 2, 3), np.float32), np.zeros(2, np.int32))
    with pytest.raises(ValueError, match="no axis 3"):
        losses.max_over_time(ys, time_axis=3)
    with pytest.raises(TypeError, match="time_axis"):
        losses.mean_over_time(ys, time_axis=1.0)
    with pytest.raises(TypeError, match="integer class indices"):
        losses.cross_entropy(LOGITS, LABELS.astype(bool))
    with pytest.raises(ValueError, match="a class axis"):
        losses.accuracy(np.float32(1.0), np.int32(0))
    with pytest.raises(ValueError, match="differ"):
        losses.mean_squared_error(np.zeros((2, 3)), np.zeros((3,)))
    with pytest.raises(ValueError, match="`per`"):
        losses.rate_l1(ys, per="layer")
    with pytest.raises(ValueError, match="`side`"):
        losses.rate_l2(ys, side="above")
    with pytest.raises(ValueError, match="`dt`"):
        losses.firing_rate(ys, dt=0.0)
    with pytest.raises(ValueError, match="neuron axis"):
        losses.rate_l1(np.zeros((4,), np.float32), time_axis=0)
