"""The seed tutorial's custom models ("Customizing your models"), written the funcdyn way."""

import equinox as eqx
import funcdyn as fd
import jax
import jax.numpy as jnp
import numpy as np
import pytest


class RecurrentLayer(fd.DynamicalSystem):
    """h <- tanh(x @ win + h @ wrec); trainable win and wrec; state h."""

    win: jax.Array
    wrec: jax.Array
    num_out: int = eqx.field(static=True)

    def __init__(self, num_in, num_out, *, mode=None, key):
        k1, k2 = jax.random.split(key)
        self.win = fd.init.parameter(fd.init.XavierNormal(), (num_in, num_out), name="win", key=k1)
        self.wrec = fd.init.parameter(fd.init.Orthogonal(), (num_out, num_out), name="wrec", key=k2)
        self.num_out = num_out
        self.mode = fd._core._modes.resolve_mode(mode)

    def init_state(self, batch_size=None, *, key=None):
        self.check_batch_size(batch_size)
        shape = (self.num_out,) if batch_size is None else (batch_size, self.num_out)
        return jnp.zeros(shape)

    def __call__(self, h, x, ctx):
        h = jnp.tanh(x @ self.win + h @ self.wrec)
        return h, h


class KeepDropout(fd.DynamicalSystem):
    """The tutorial's dropout layer that reads the training flag (here: `ctx.fit`)."""

    p: float = eqx.field(static=True)

    def __call__(self, state, x, ctx):
        if ctx.fit:
            keep = jax.random.bernoulli(ctx.require_key("KeepDropout"), 1 - self.p, x.shape)
            return state, jnp.where(keep, x / (1 - self.p), 0.0)
        return state, x


def test_recurrent_layer_loop_matches_numpy():
    layer = RecurrentLayer(3, 4, key=jax.random.key(0))
    xs = jax.random.normal(jax.random.key(1), (6, 3))
    _, ys, _ = fd.run(layer, xs, dt=1.0)
    h = np.zeros(4)
    win, wrec = np.asarray(layer.win), np.asarray(layer.wrec)
    for t in range(6):
        h = np.tanh(np.asarray(xs[t]) @ win + h @ wrec)
        np.testing.assert_allclose(ys[t], h, rtol=1e-5, atol=1e-6)


def test_recurrent_layer_contract_and_gradient_matches_finite_differences():
    layer = RecurrentLayer(3, 4, mode=fd.training_mode, key=jax.random.key(0))
    fd.testing.check_contract(layer, jnp.ones((2, 3)), batch_size=2)
    xs = jax.random.normal(jax.random.key(1), (8, 2, 3))

    def loss(win):
        m = eqx.tree_at(lambda m: m.win, layer, win)
        _, ys, _ = fd.run(m, xs, dt=1.0)
        return jnp.sum(ys[-1] ** 2)

    g = jax.grad(loss)(layer.win)
    eps = 1e-3
    direction = jax.random.normal(jax.random.key(2), layer.win.shape)
    fd_estimate = (loss(layer.win + eps * direction) - loss(layer.win - eps * direction)) / (2 * eps)
    assert float(jnp.sum(g * direction)) == pytest.approx(float(fd_estimate), rel=2e-2)


def test_dropout_layer_reads_fit():
    seq = RecurrentLayer(3, 50, key=jax.random.key(0)) >> KeepDropout(p=0.5)
    xs = jnp.ones((4, 3))
    _, ys_eval, _ = fd.run(seq, xs, dt=1.0, fit=False)
    _, ys_fit, _ = fd.run(seq, xs, dt=1.0, fit=True, key=jax.random.key(1))
    zeros = np.asarray(ys_fit) == 0
    assert 0.3 < zeros.mean() < 0.7
    np.testing.assert_allclose(np.asarray(ys_fit)[~zeros], 2 * np.asarray(ys_eval)[~zeros], rtol=1e-5)
    with pytest.raises(ValueError, match="KeepDropout draws random numbers"):
        fd.run(seq, xs, dt=1.0, fit=True)
