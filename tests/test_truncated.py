"""Truncated BPTT: windows of k steps, state carried without gradients."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcdyn
from funcdyn import losses, train
from funcdyn._core._modes import resolve_mode


class TanhRNN(funcdyn.DynamicalSystem):
    """h' = tanh(x W_in + h W_rec), y = h W_out."""

    W_in: jax.Array
    W_rec: jax.Array
    W_out: jax.Array
    num_hidden: int = eqx.field(static=True)

    def __init__(self, n_in, n_hidden, n_out, *, key, mode=None, name=None):
        k1, k2, k3 = jax.random.split(key, 3)
        self.W_in = jax.random.normal(k1, (n_in, n_hidden)) / np.sqrt(n_in)
        self.W_rec = jax.random.normal(k2, (n_hidden, n_hidden)) * 0.5 / np.sqrt(n_hidden)
        self.W_out = jax.random.normal(k3, (n_hidden, n_out)) / np.sqrt(n_hidden)
        self.num_hidden = n_hidden
        self.mode = resolve_mode(mode)
        self.name = name

    def init_state(self, batch_size=None, *, key=None):
        self.check_batch_size(batch_size)
        return jnp.zeros((batch_size, self.num_hidden))

    def __call__(self, h, x, ctx):
        h = jnp.tanh(x @ self.W_in + h @ self.W_rec)
        return h, h @ self.W_out


def integrate_task(key, n=32, T=24):
    """Target: a leaky running sum of the input."""
    X = np.asarray(jax.random.normal(key, (n, T, 1)), np.float32)
    Y = np.zeros((n, T, 1), np.float32)
    acc = np.zeros((n, 1), np.float32)
    for t in range(T):
        acc = 0.8 * acc + 0.3 * X[:, t]
        Y[:, t] = acc
    return X, Y


LOSS = train.sequence_loss(losses.mean_squared_error, dt=1.0)


def model_(key):
    return TanhRNN(1, 8, 1, key=key, mode=funcdyn.training_mode)


def test_single_window_equals_full_bptt():
    X, Y = integrate_task(jax.random.key(0), n=4, T=5)
    model = model_(jax.random.key(1))
    init_t, step_t = train.make_truncated_step(LOSS, optax.sgd(0.1), window=5)
    init_f, step_f = train.make_step(LOSS, optax.sgd(0.1), has_aux=True)
    mt, _, lt, _ = step_t(model, init_t(model), (X, Y), None)
    mf, _, lf, _ = step_f(model, init_f(model), (X, Y), None)
    assert float(lt) == pytest.approx(float(lf), rel=1e-6)
    np.testing.assert_allclose(mt.W_rec, mf.W_rec, rtol=1e-5, atol=1e-7)


def test_windows_follow_the_definition():
    """Two windows with SGD, computed by hand: update on window 1, then window 2 from the
    window-1 final state (computed with the old weights) as a constant."""
    X, Y = integrate_task(jax.random.key(0), n=4, T=6)
    model = model_(jax.random.key(1))
    lr = 0.5
    init, step = train.make_truncated_step(LOSS, optax.sgd(lr), window=3)
    got, _, loss, _ = step(model, init(model), (X, Y), None)

    def window_loss(m, state, x, y, i0):
        _, ys, _ = funcdyn.run(m, x, dt=1.0, state=state, time_major=False, i0=i0, fit=True)
        return losses.mean_squared_error(ys, y)

    s0 = model.init_state(4)
    grad = eqx.filter_jit(jax.value_and_grad(window_loss))
    l1, g1 = grad(model, s0, X[:, :3], Y[:, :3], 0)
    s1, _, _ = funcdyn.run(model, X[:, :3], dt=1.0, state=s0, time_major=False)
    m1 = jax.tree_util.tree_map(lambda p, g: p - lr * g, model, g1)
    l2, g2 = grad(m1, s1, X[:, 3:], Y[:, 3:], 3)
    m2 = jax.tree_util.tree_map(lambda p, g: p - lr * g, m1, g2)
    np.testing.assert_allclose(got.W_rec, m2.W_rec, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got.W_out, m2.W_out, rtol=1e-5, atol=1e-6)
    assert float(loss) == pytest.approx((float(l1) + float(l2)) / 2, rel=1e-5)


def test_tail_window_and_zero_learning_rate():
    X, Y = integrate_task(jax.random.key(0), n=4, T=5)  # windows 2 + 2 + 1
    model = model_(jax.random.key(1))
    init, step = train.make_truncated_step(LOSS, optax.sgd(0.0), window=2)
    new, _, loss, _ = step(model, init(model), (X, Y), None)
    np.testing.assert_array_equal(new.W_rec, model.W_rec)
    # With no updates the windowed loss is the full-run loss (MSE: length-weighted mean).
    full, _ = train.TruncatedLoss(LOSS, 2)(model, (X, Y), None)
    whole, _ = LOSS(model, (X, Y), None)
    assert float(loss) == pytest.approx(float(full), rel=1e-5)
    assert float(full) == pytest.approx(float(whole), rel=1e-5)


def test_truncated_bptt_fit_learns():
    X, Y = integrate_task(jax.random.key(0), n=64, T=16)
    trainer = train.TruncatedBPTT(model_(jax.random.key(1)), LOSS, optax.adam(1e-2), window=4)
    _, history = trainer.fit((X, Y), num_epoch=6, batch_size=16, key=jax.random.key(2),
                             test_data=(X[:16], Y[:16]), progress=False)
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    assert history["test_loss"][-1] < history["test_loss"][0]


def test_errors():
    model = model_(jax.random.key(1))
    with pytest.raises(ValueError, match="`window`"):
        train.make_truncated_step(LOSS, optax.sgd(0.1), window=0)
    with pytest.raises(TypeError, match="sequence_loss"):
        train.make_truncated_step(lambda m, b, k: 0.0, optax.sgd(0.1), window=2)
    with pytest.raises(TypeError, match="sequence_loss"):
        train.TruncatedBPTT(model, lambda m, b, k: 0.0, optax.sgd(0.1), window=2)
    init, step = train.make_truncated_step(LOSS, optax.sgd(0.1), window=2)
    X = np.zeros((4, 6, 1), np.float32)
    with pytest.raises(ValueError, match="needs the time axis"):
        step(model, init(model), (X, np.zeros((4, 1), np.float32)), None)
