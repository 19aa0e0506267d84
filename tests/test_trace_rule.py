"""The presynaptic-trace rule (`ForwardTrainer(method="trace")`) for feed-forward spiking
networks: exact (equal to BPTT and RTRL) for one LIF hidden layer with a detached
subtractive reset and an instantaneous readout; one trace per presynaptic neuron; misuse
refused."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcdyn as fd
from funcdyn import train


def _ff(reset="subtract", key=jax.random.key(0), tau=5.0):
    k1, k2 = jax.random.split(key)
    with fd.training_environment():
        return (
            fd.layers.Dense(3, 6, key=k1)
            >> fd.neurons.LIF(6, tau=tau, V_th=0.3, V_reset=0.0, reset=reset,
                              detach_reset=True, spike_fn=fd.surrogate.InverseSquare(alpha=5.0),
                              mode=fd.batching_mode)
            >> fd.layers.Dense(6, 2, key=k2)
        )


def test_trace_rule_is_exact_for_one_lif_layer():
    with jax.enable_x64(True):
        model = _ff()
        x = jax.random.uniform(jax.random.key(1), (2, 15, 3), jnp.float64, 0.0, 2.0)
        y = jnp.array([0, 1])
        trainer = train.ForwardTrainer(model, fd.losses.cross_entropy, optax.sgd(1.0),
                                       method="trace")
        assert trainer._cfg.rule.decays == pytest.approx((np.exp(-1 / 5.0), 0.0))
        params, rest = train.partition_trainable(model)
        new, _, _, _ = trainer.train_batch(model, optax.sgd(1.0).init(params), (x, y))
        got = jax.tree.map(lambda a, b: a - b, params, train.partition_trainable(new)[0])
        loss = trainer.bptt_loss()
        ref = jax.grad(lambda p: loss(eqx.combine(p, rest), (x, y), None)[0])(params)
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(ref), strict=True):
            assert float(jnp.max(jnp.abs(b))) > 1e-4
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
        # One trace per presynaptic neuron of each Dense layer (and one for its bias).
        assert trainer.memory_estimate(2) == 8 * (2 * 3 + 1 + 2 * 6 + 1)


def test_trace_rule_with_a_zero_reset_is_an_approximation():
    """With `reset="zero"` the membrane forgets at a spike, which a presynaptic trace
    cannot know: the hidden gradient differs from BPTT's but keeps its direction."""
    with jax.enable_x64(True):
        model = _ff(reset="zero")
        x = jax.random.uniform(jax.random.key(1), (2, 15, 3), jnp.float64, 0.0, 2.0)
        y = jnp.array([0, 1])
        trainer = train.ForwardTrainer(model, fd.losses.cross_entropy, optax.sgd(1.0),
                                       method="trace")
        params, rest = train.partition_trainable(model)
        new, _, _, _ = trainer.train_batch(model, optax.sgd(1.0).init(params), (x, y))
        got = jax.tree.map(lambda a, b: a - b, params, train.partition_trainable(new)[0])
        loss = trainer.bptt_loss()
        ref = jax.grad(lambda p: loss(eqx.combine(p, rest), (x, y), None)[0])(params)
        g, r = got.layers[0].W.ravel(), ref.layers[0].W.ravel()
        cosine = float(g @ r / (jnp.linalg.norm(g) * jnp.linalg.norm(r)))
        assert 0.5 < cosine < 1.0 - 1e-6
        np.testing.assert_allclose(got.layers[2].W, ref.layers[2].W, rtol=1e-6)


def test_trace_rule_refuses_what_it_cannot_learn():
    opt = optax.sgd(0.1)
    net = train.EPropNetwork(fd.neurons.LIF(4, mode=fd.batching_mode), 3, 2,
                             mode=fd.training_mode, key=jax.random.key(0))
    with pytest.raises(TypeError, match="method='trace' learns a feed-forward"):
        train.ForwardTrainer(net, fd.losses.cross_entropy, opt, method="trace")
    with fd.training_environment():
        rec = fd.layers.Dense(3, 4, key=jax.random.key(0)) >> fd.neurons.RecurrentLIF(
            4, key=jax.random.key(1))
    spec = jax.tree.map(lambda _: False, rec)
    spec = eqx.tree_at(lambda m: m.layers[0].W, spec, True)
    with pytest.raises(ValueError, match="is recurrent"):
        train.ForwardTrainer(rec, fd.losses.cross_entropy, opt, method="trace",
                             filter_spec=spec)
    with fd.training_environment():
        trainable_lif = fd.layers.Dense(3, 4, key=jax.random.key(0)) >> fd.neurons.LIF(4)
    with pytest.raises(ValueError, match=r"layer 1 \(LIF\) has trainable arrays"):
        train.ForwardTrainer(trainable_lif, fd.losses.cross_entropy, opt, method="trace")
    with fd.training_environment():
        alif = fd.layers.Dense(3, 4, key=jax.random.key(0)) >> fd.neurons.ALIF(
            4, tau=jnp.linspace(5.0, 9.0, 4), mode=fd.batching_mode)
    with pytest.raises(ValueError, match="has no single `tau`; pass `trace_decay`"):
        train.ForwardTrainer(alif, fd.losses.cross_entropy, opt, method="trace")
    trainer = train.ForwardTrainer(alif, fd.losses.cross_entropy, opt, method="trace",
                                   trace_decay=0.8)
    assert trainer._cfg.rule.decays == (0.8,)
    with pytest.raises(ValueError, match=r"`trace_decay` must be in \[0, 1\)"):
        train.ForwardTrainer(alif, fd.losses.cross_entropy, opt, method="trace",
                             trace_decay=1.0)
    with pytest.raises(ValueError, match="has 2 values but the model has 1 Dense"):
        train.ForwardTrainer(alif, fd.losses.cross_entropy, opt, method="trace",
                             trace_decay=(0.5, 0.5))
    with pytest.raises(ValueError, match="applies to method='trace' only"):
        train.ForwardTrainer(_ff(), fd.losses.cross_entropy, opt, method="rtrl",
                             trace_decay=0.5)
