"""RTRL (`ForwardTrainer(method="rtrl")`): the forward-mode gradient equals the BPTT
gradient of the same objective, in float64, for a recurrent LIF network with surrogate
spikes and for a rate RNN; the streaming and the sequence paths agree; too large a
network is refused with the estimated memory."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcdyn as fd
from funcdyn import train


def _rel(a, b):
    return float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b)))


def _stream_grads(trainer, model, x, y, per_step=False):
    """The mean per-step gradient gathered by the streaming API over a sequence."""
    carry = trainer.init(model, x.shape[0])
    for t in range(x.shape[1]):
        target = y[:, t] if per_step else y
        model, carry, _, _ = trainer.step(model, carry, x[:, t], target)
    return jax.tree.map(lambda a: a / x.shape[1], carry.acc)


def _bptt_grads(trainer, model, spec, x, y):
    params, rest = train.partition_trainable(model, spec)
    loss = trainer.bptt_loss()
    return jax.grad(lambda p: loss(eqx.combine(p, rest), (x, y), None)[0])(params)


def _lif_network(key):
    k1, k2, k3 = jax.random.split(key, 3)
    with fd.training_environment():
        model = (
            fd.layers.Dense(3, 5, key=k1)
            >> fd.neurons.RecurrentLIF(5, tau=5.0, V_th=0.3, V_reset=0.0,
                                       spike_fn=fd.surrogate.InverseSquare(alpha=5.0),
                                       W_rec_initializer=fd.init.KaimingNormal(scale=1.0),
                                       key=k2)
            >> fd.layers.Dense(5, 2, key=k3)
            >> fd.neurons.LeakyIntegrator(2, tau=4.0)
        )
    spec = jax.tree.map(lambda _: False, model)
    spec = eqx.tree_at(
        lambda m: (m.layers[0].W, m.layers[0].b, m.layers[1].W_rec, m.layers[2].W), spec,
        replace=(True,) * 4,
    )
    return model, spec


def test_rtrl_equals_bptt_recurrent_lif():
    with jax.enable_x64(True):
        key = jax.random.key(0)
        model, spec = _lif_network(key)
        x = jax.random.uniform(jax.random.key(1), (2, 12, 3), jnp.float64, 0.0, 2.0)
        y = jnp.array([0, 1])
        trainer = train.ForwardTrainer(model, fd.losses.cross_entropy, optax.sgd(0.1),
                                       method="rtrl", filter_spec=spec)
        # The surrogate path matters only if the neurons spike.
        _, _, rec = fd.run(model, x, dt=1.0, time_major=False,
                           monitors=lambda s: s[1].spike)
        assert 3 <= float(rec.sum()) < rec.size
        g_rtrl = _stream_grads(trainer, model, x, y)
        g_bptt = _bptt_grads(trainer, model, spec, x, y)
        leaves_r, leaves_b = jax.tree.leaves(g_rtrl), jax.tree.leaves(g_bptt)
        assert len(leaves_r) == len(leaves_b) == 4
        for a, b in zip(leaves_r, leaves_b):
            assert a.dtype == jnp.float64
            assert float(jnp.max(jnp.abs(b))) > 1e-4
            assert _rel(a, b) < 1e-5


def test_rtrl_equals_bptt_rate_rnn():
    with jax.enable_x64(True):
        k1, k2, k3, k4 = jax.random.split(jax.random.key(2), 4)
        with fd.training_environment():
            model = fd.layers.RNNCell(2, 4, key=k1) >> fd.layers.Dense(4, 2, key=k2)
        x = jax.random.normal(k3, (3, 10, 2), jnp.float64)
        y = jax.random.normal(k4, (3, 10, 2), jnp.float64)
        trainer = train.ForwardTrainer(model, fd.losses.mean_squared_error, optax.sgd(0.1),
                                       method="rtrl", targets="step")
        g_rtrl = _stream_grads(trainer, model, x, y, per_step=True)
        g_bptt = _bptt_grads(trainer, model, None, x, y)
        for a, b in zip(jax.tree.leaves(g_rtrl), jax.tree.leaves(g_bptt), strict=True):
            assert _rel(a, b) < 1e-5


@pytest.mark.standard_promotion
def test_sequence_path_equals_stream_with_online_updates():
    """`train_batch` (one compiled scan, updates every k steps) and the streaming API
    give the same model."""
    k1, k2, k3 = jax.random.split(jax.random.key(3), 3)
    with fd.training_environment():
        model = fd.layers.RNNCell(2, 3, key=k1) >> fd.layers.Dense(3, 1, key=k2)
    x = jax.random.normal(k3, (2, 9, 2))
    y = jnp.sin(jnp.arange(9.0))[None, :, None] * jnp.ones((2, 1, 1))
    opt = optax.adam(1e-2)
    trainer = train.ForwardTrainer(model, fd.losses.mean_squared_error, opt,
                                   method="rtrl", targets="step", k=4)
    params, _ = train.partition_trainable(model)
    batch_model, _, loss, _ = trainer.train_batch(model, opt.init(params), (x, y))
    carry = trainer.init(model, 2)
    m = model
    losses = []
    for t in range(9):
        m, carry, _, l = trainer.step(m, carry, x[:, t], y[:, t])
        losses.append(l)
    assert int(carry.updates) == 2  # after steps 4 and 8
    # The same stream in two compiled chunks (5 + 4 steps): the same model and losses.
    chunked = trainer.init(model, 2)
    mc, chunked, ys1, l1 = trainer.run_stream(model, chunked, x[:, :5], y[:, :5])
    mc, chunked, _, l2 = trainer.run_stream(mc, chunked, x[:, 5:], y[:, 5:])
    assert ys1.shape == (2, 5, 1) and l2.shape == (4,)
    np.testing.assert_allclose(jnp.concatenate([l1, l2]), jnp.stack(losses), rtol=1e-6)
    for a, b in zip(jax.tree.leaves(eqx.filter(mc, eqx.is_array)),
                    jax.tree.leaves(eqx.filter(m, eqx.is_array))):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    m, carry = trainer.flush(m, carry)  # the incomplete last window, as train_batch does
    assert int(carry.updates) == 3
    for a, b in zip(jax.tree.leaves(eqx.filter(batch_model, eqx.is_array)),
                    jax.tree.leaves(eqx.filter(m, eqx.is_array))):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loss, np.mean(losses), rtol=1e-6)
    # The parameters did change.
    assert _rel(batch_model.layers[1].W, model.layers[1].W) > 1e-3


def test_rtrl_refuses_a_network_too_large():
    with fd.training_environment():
        model = fd.layers.RNNCell(8, 64, key=jax.random.key(0)) >> fd.layers.Dense(
            64, 2, key=jax.random.key(1))
    trainer = train.ForwardTrainer(model, fd.losses.mean_squared_error, optax.sgd(0.1),
                                   method="rtrl", max_memory=2**20)
    # S = 64 * batch, P = 8*64 + 64*64 + 64 + 64*2 + 2.
    P = 8 * 64 + 64 * 64 + 64 + 64 * 2 + 2
    expected = 4 * (2 * 64 * 16 * P + P * P)
    assert trainer.memory_estimate(16) == expected
    with pytest.raises(ValueError, match=r"needs influence matrices of 1024 state values x "
                                         rf"{P} parameters.*MiB"):
        trainer.init(model, 16)
    with pytest.raises(ValueError, match="method='eprop'"):
        trainer.fit((np.zeros((16, 5, 8), np.float32), np.zeros((16, 5, 2), np.float32)),
                    num_epoch=1, batch_size=16, key=jax.random.key(0))
