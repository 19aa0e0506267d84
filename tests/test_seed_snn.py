"""The seed tutorial's spiking network (Neftci, Mostafa & Zenke 2019) trains.

InputGroup -> Exponential(tau=10, g_max=KaimingNormal(scale=20), All2All, CUBA) ->
LIF(tau=10, V_rest=V_reset=0, V_th=1) -> Exponential(tau=10) -> LeakyIntegrator(tau=5),
trained with surrogate gradients (optax Adam, funcdyn.run) to tell apart two classes of
Poisson spike trains whose rate patterns are mirror images (same mean rate: chance is
50%). Results vary with thread counts, so thresholds are asserted over seeds.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcdyn as fd

NUM_IN, NUM_REC, NUM_OUT, T, BATCH = 20, 32, 2, 30, 32


def seed_snn(key, num_in=NUM_IN, num_rec=NUM_REC, num_out=NUM_OUT):
    k1, k2 = jax.random.split(key)
    with fd.training_environment():
        return (
            fd.neurons.InputGroup(num_in)
            >> fd.synapses.Exponential(
                num_in, num_rec, conn=fd.conn.All2All(), tau=10.0,
                g_max=fd.init.KaimingNormal(scale=20.0), output=fd.synouts.CUBA(), key=k1,
            )
            >> fd.neurons.LIF(num_rec, tau=10.0, V_rest=0.0, V_reset=0.0, V_th=1.0)
            >> fd.synapses.Exponential(
                num_rec, num_out, tau=10.0, g_max=fd.init.KaimingNormal(scale=20.0), key=k2
            )
            >> fd.neurons.LeakyIntegrator(num_out, tau=5.0)
        )


def make_data(rng, n):
    rates = rng.permutation(np.linspace(0.02, 0.3, NUM_IN))
    rates = np.stack([rates, rates[::-1]])

    def draw(n):
        labels = rng.integers(0, 2, n)
        spikes = rng.random((T, n, NUM_IN)) < rates[labels][None]
        return jnp.asarray(spikes, jnp.float32), jnp.asarray(labels)

    return draw(n), draw(256)


def loss_and_accuracy(params, static, x, y):
    net = eqx.combine(params, static)
    _, potentials, _ = fd.run(net, x, dt=1.0)  # (T, batch, num_out)
    logits = jnp.max(potentials, axis=0)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    return loss, jnp.mean(jnp.argmax(logits, axis=-1) == y)


def train(seed: int, steps: int):
    rng = np.random.default_rng(seed)
    (xs, ys), (x_test, y_test) = make_data(rng, steps * BATCH)
    net = seed_snn(jax.random.key(seed))
    params, static = eqx.partition(net, fd.trainable(net))
    optimizer = optax.adam(5e-3)
    opt_state = optimizer.init(params)

    @eqx.filter_jit
    def step(params, opt_state, x, y):
        (loss, acc), grads = jax.value_and_grad(loss_and_accuracy, has_aux=True)(
            params, static, x, y
        )
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    evaluate = eqx.filter_jit(loss_and_accuracy)
    before = [float(v) for v in evaluate(params, static, x_test, y_test)]
    for i in range(steps):
        batch = slice(i * BATCH, (i + 1) * BATCH)
        params, opt_state, _ = step(params, opt_state, xs[:, batch], ys[batch])
    after = [float(v) for v in evaluate(params, static, x_test, y_test)]
    return before, after


def test_seed_snn_is_a_few_lines_with_the_expected_parts():
    net = seed_snn(jax.random.key(0))
    assert [type(layer).__name__ for layer in net] == [
        "InputGroup", "Exponential", "LIF", "Exponential", "LeakyIntegrator",
    ]
    assert net[1].g_max.shape == (NUM_IN, NUM_REC)
    assert isinstance(net[1].conn, fd.conn.AllToAllProjection)
    # What trains: the two weight matrices and the per-neuron parameters, never the
    # connectivity's structure.
    params, _ = eqx.partition(net, fd.trainable(net))
    assert params[1].g_max is not None and params[3].g_max is not None
    state, out = net(net.init_state(4), jnp.ones((4, NUM_IN)), fd.Context(dt=1.0))
    assert out.shape == (4, NUM_OUT)


@pytest.mark.standard_promotion
def test_seed_snn_learns_over_seeds():
    results = [train(seed, steps=150) for seed in range(2)]
    for (loss0, _), (loss1, acc1) in results:
        assert np.isfinite(loss1)
        assert loss1 < 0.7 * loss0, results
        assert acc1 > 0.65, results
    assert np.mean([acc for _, (_, acc) in results]) > 0.8, results


@pytest.mark.slow
@pytest.mark.standard_promotion
def test_seed_snn_learns_longer():
    results = [train(seed, steps=600) for seed in range(3, 6)]
    for (loss0, _), (loss1, acc1) in results:
        assert loss1 < 0.3 * loss0, results
        assert acc1 > 0.85, results
