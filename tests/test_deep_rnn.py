"""The seed tutorial's DeepRNN: four stacked LSTM cells with dropout and a dense readout,
built as a hand-written network, run with funcdyn.run and trained with a plain optax loop.

BrainPy's tutorial fed the output of `l2` into `l2` again instead of into `l3`; here the
cells are wired l1 -> l2 -> l3 -> l4.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcdyn as fd
from funcdyn.layers import Dense, Dropout, LSTMCell, LSTMState


class DeepRNN(fd.DynamicalSystem):
    """LSTM(num_in -> r1) -> dropout -> LSTM(r1 -> r2) -> dropout -> LSTM(r2 -> r3)
    -> dropout -> LSTM(r3 -> r4) -> dropout -> Dense(r4 -> num_out)."""

    l1: LSTMCell
    d1: Dropout
    l2: LSTMCell
    d2: Dropout
    l3: LSTMCell
    d3: Dropout
    l4: LSTMCell
    d4: Dropout
    out: Dense

    def __init__(self, num_in, num_recs, num_out, p=0.2, *, mode=None, key):
        mode = fd.training_mode if mode is None else mode
        keys = jax.random.split(key, 5)
        sizes = (num_in,) + tuple(num_recs)
        # BrainPy's Dropout(prob) keeps with probability `prob`; funcdyn's p drops.
        self.l1 = LSTMCell(sizes[0], sizes[1], mode=mode, key=keys[0])
        self.d1 = Dropout(p, mode=mode)
        self.l2 = LSTMCell(sizes[1], sizes[2], mode=mode, key=keys[1])
        self.d2 = Dropout(p, mode=mode)
        self.l3 = LSTMCell(sizes[2], sizes[3], mode=mode, key=keys[2])
        self.d3 = Dropout(p, mode=mode)
        self.l4 = LSTMCell(sizes[3], sizes[4], mode=mode, key=keys[3])
        self.d4 = Dropout(p, mode=mode)
        self.out = Dense(sizes[4], num_out, mode=mode, key=keys[4])
        self.mode = mode

    def __call__(self, state, x, ctx):
        new = dict(state)
        for cell, drop in (("l1", "d1"), ("l2", "d2"), ("l3", "d3"), ("l4", "d4")):
            new[cell], x = getattr(self, cell)(state[cell], x, ctx.child(cell))
            _, x = getattr(self, drop)(None, x, ctx.child(drop))
        _, y = self.out(None, x, ctx.child("out"))
        return new, y


def test_deep_rnn_full_size_builds_and_runs():
    model = DeepRNN(100, [200, 200, 200, 100], 10, key=jax.random.key(0))
    state = model.init_state(2)
    assert {k for k, v in state.items() if v is not None} == {"l1", "l2", "l3", "l4"}
    assert [state[k].h.shape for k in ("l1", "l2", "l3", "l4")] == [
        (2, 200), (2, 200), (2, 200), (2, 100)]
    assert model.l3.num_in == 200 and model.l4.num_in == 200 and model.out.num_in == 100
    xs = jax.random.normal(jax.random.key(1), (3, 2, 100))
    final, ys, _ = fd.run(model, xs, dt=1.0)
    assert ys.shape == (3, 2, 10)
    assert isinstance(final["l4"], LSTMState) and final["l4"].c.shape == (2, 100)
    params = eqx.filter(model, fd.trainable(model))
    n_params = sum(a.size for a in jax.tree_util.tree_leaves(params))
    assert n_params == 4 * 200 * 301 + 2 * 4 * 200 * 401 + 4 * 100 * 301 + 101 * 10


def test_deep_rnn_is_wired_in_order():
    """Each cell feeds the next: zeroing l3's input weights cuts l1 and l2 off the output."""
    model = DeepRNN(3, [4, 4, 4, 4], 2, key=jax.random.key(0))
    cut = eqx.tree_at(lambda m: m.l3.Wi, model, jnp.zeros_like(model.l3.Wi))
    xs = jax.random.normal(jax.random.key(1), (5, 2, 3))
    _, ys_a, _ = fd.run(cut, xs, dt=1.0)
    _, ys_b, _ = fd.run(cut, 2 * xs, dt=1.0)
    np.testing.assert_allclose(ys_a, ys_b, rtol=1e-6, atol=1e-6)  # the input no longer matters
    _, ys_c, _ = fd.run(model, 2 * xs, dt=1.0)
    assert not jnp.allclose(ys_c, ys_b)
    # Dropout acts only when fitting (with a key).
    _, ys_fit, _ = fd.run(model, 2 * xs, dt=1.0, fit=True, key=jax.random.key(2))
    assert not jnp.allclose(ys_fit, ys_c)


def _delayed_copy_task(key, T=12, batch=32, num_in=6, num_out=4, delay=2):
    """Targets are the first `num_out` inputs `delay` steps ago: learnable only with
    memory."""
    xs = jax.random.normal(key, (T, batch, num_in))
    ys = jnp.concatenate([jnp.zeros((delay, batch, num_out)), xs[:-delay, :, :num_out]])
    return xs, ys


@pytest.mark.standard_promotion
def test_deep_rnn_trains_with_optax():
    model = DeepRNN(6, [24, 24, 24, 24], 4, p=0.1, key=jax.random.key(0))
    xs, targets = _delayed_copy_task(jax.random.key(1))
    params, static = eqx.partition(model, fd.trainable(model))
    optimizer = optax.adam(1e-2)
    opt_state = optimizer.init(params)

    def loss_fn(params, fit, key):
        _, ys, _ = fd.run(eqx.combine(params, static), xs, dt=1.0, fit=fit, key=key)
        return jnp.mean((ys - targets) ** 2)

    @eqx.filter_jit
    def step(params, opt_state, key):
        loss, grads = eqx.filter_value_and_grad(loss_fn)(params, True, key)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return eqx.apply_updates(params, updates), opt_state, loss

    evaluate = eqx.filter_jit(lambda p: loss_fn(p, False, None))
    before = float(evaluate(params))
    for key in jax.random.split(jax.random.key(2), 60):
        params, opt_state, loss = step(params, opt_state, key)
        assert np.isfinite(float(loss))
    after = float(evaluate(params))
    print(f"DeepRNN delayed-copy MSE: {before:.4f} -> {after:.4f}")
    assert after < 0.6 * before, (before, after)
