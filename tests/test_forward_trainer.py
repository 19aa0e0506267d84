"""`funcdyn.train.ForwardTrainer`: the streaming API, the non-finite policies, `fit`
(history, test loop, callbacks, checkpoints and resuming), `predict`, learning a task,
and the argument checks."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcdyn as fd
from funcdyn import train


def _rnn(key=jax.random.key(0), hidden=4):
    k1, k2 = jax.random.split(key)
    with fd.training_environment():
        return fd.layers.RNNCell(2, hidden, key=k1) >> fd.layers.Dense(hidden, 1, key=k2)


def _finite(model):
    return all(bool(jnp.all(jnp.isfinite(a))) for a in jax.tree.leaves(eqx.filter(model,
                                                                               eqx.is_array)))


@pytest.mark.standard_promotion
def test_raise_names_the_update_and_leaves_and_keeps_the_last_finite_model():
    model = _rnn()
    opt = optax.sgd(0.1)
    trainer = train.ForwardTrainer(model, fd.losses.mean_squared_error, opt, method="rtrl",
                                   targets="step", k=2)
    x = jax.random.normal(jax.random.key(1), (2, 6, 2))
    x = x.at[0, 3, 1].set(jnp.nan)
    y = jnp.zeros((2, 6, 1))
    carry = trainer.init(model, 2)
    m = model
    m, carry, _, _ = trainer.step(m, carry, x[:, 0], y[:, 0])
    m, carry, _, _ = trainer.step(m, carry, x[:, 1], y[:, 1])  # update 0: finite
    after_first = m
    m, carry, _, _ = trainer.step(m, carry, x[:, 2], y[:, 2])
    with pytest.raises(FloatingPointError,
                       match=r"update 1 \(time step 3\) in: loss, gradient\.layers\[0\]\.Wi"):
        trainer.step(m, carry, x[:, 3], y[:, 3])
    kept = trainer.last_finite_model
    assert _finite(kept)
    for a, b in zip(jax.tree.leaves(eqx.filter(kept, eqx.is_array)),
                    jax.tree.leaves(eqx.filter(after_first, eqx.is_array))):
        np.testing.assert_array_equal(a, b)


@pytest.mark.standard_promotion
@pytest.mark.parametrize("policy", ["skip", "ignore"])
def test_skip_and_ignore(policy):
    model = _rnn()
    opt = optax.sgd(0.1)
    trainer = train.ForwardTrainer(model, fd.losses.mean_squared_error, opt, method="rtrl",
                                   targets="step", on_nonfinite=policy)
    X = np.array(jax.random.normal(jax.random.key(1), (4, 5, 2)))
    X[2, 1, 0] = np.nan
    Y = np.zeros((4, 5, 1), np.float32)
    trained, history = trainer.fit((X, Y), num_epoch=1, batch_size=2, shuffle=False,
                                   check_finite=False)
    if policy == "skip":
        assert history["skipped_updates"][0] == 1
        assert _finite(trained)
        # Only the first batch's update was applied.
        params, _ = train.partition_trainable(model)
        once, _, _, _ = trainer.train_batch(model, opt.init(params), (X[:2], Y[:2]))
        np.testing.assert_allclose(trained.layers[1].W, once.layers[1].W, rtol=1e-6)
    else:
        assert history["skipped_updates"][0] == 0
        assert not _finite(trained)


@pytest.mark.standard_promotion
def test_fit_history_callbacks_and_resume(tmp_path):
    opt = optax.adam(1e-2)
    model = _rnn()
    X = np.asarray(jax.random.normal(jax.random.key(2), (6, 8, 2)))
    Y = np.cumsum(X[..., :1], axis=1) * 0.3
    trainer = train.ForwardTrainer(model, fd.losses.mean_squared_error, opt, method="rtrl",
                                   targets="step", k=4)
    key = jax.random.key(3)
    full, history = trainer.fit((X, Y), num_epoch=3, batch_size=3, key=key,
                                test_data=(X, Y), checkpoint_path=tmp_path / "run.ckpt",
                                checkpoint_every=1)
    assert history.num_epochs == 3 and history.num_steps == 6
    assert set(history.keys()) >= {"train_loss", "test_loss", "skipped_updates", "time_s"}
    assert history["train_loss"][-1] < history["train_loss"][0]
    # The test loss is the mean per-step loss of the trained model.
    np.testing.assert_allclose(history["test_loss"][-1],
                               trainer.evaluate((X, Y), model=full)["loss"], rtol=1e-5)
    # Two epochs, then resume to three: the same model as the uninterrupted run.
    trainer.fit((X, Y), num_epoch=2, batch_size=3, key=key,
                checkpoint_path=tmp_path / "two.ckpt")
    resumed, h2 = trainer.fit((X, Y), num_epoch=3, batch_size=3, key=key,
                              resume=tmp_path / "two.ckpt", test_data=(X, Y))
    for a, b in zip(jax.tree.leaves(eqx.filter(resumed, eqx.is_array)),
                    jax.tree.leaves(eqx.filter(full, eqx.is_array))):
        # Float32, and two compilations of the same step: agreement to rounding.
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert h2.num_epochs == 3
    # A callback returning True stops after the epoch.
    seen = []
    _, h3 = trainer.fit((X, Y), num_epoch=3, batch_size=3, key=key,
                        callbacks=[lambda r: seen.append(r.epoch) or True])
    assert seen == [0] and h3.num_epochs == 1
    # predict runs the model as funcdyn.run does.
    ys = trainer.predict(X, model=full, batch_size=4)
    _, ref, _ = fd.run(full, jnp.asarray(X), dt=1.0, time_major=False)
    np.testing.assert_allclose(ys, ref, rtol=1e-5, atol=1e-6)


def _evidence(key, n, T=30):
    """Two Poisson channels; the label is the one with the higher rate."""
    k1, k2 = jax.random.split(key)
    labels = jax.random.bernoulli(k1, 0.5, (n,)).astype(jnp.int32)
    rates = jnp.where(jax.nn.one_hot(labels, 2) > 0, 0.4, 0.1)
    x = jax.random.bernoulli(k2, rates[:, None, :], (n, T, 2)).astype(jnp.float32)
    return np.asarray(x), np.asarray(labels)


@pytest.mark.standard_promotion
def test_eprop_learns_an_evidence_task_over_seeds():
    opt = optax.adam(2e-2)
    accuracies = []
    for seed in range(3):
        cell = fd.neurons.LIF(16, tau=10.0, V_th=0.5, V_reset=0.0, reset="subtract",
                              spike_fn=fd.surrogate.InverseSquare(alpha=5.0),
                              mode=fd.batching_mode)
        net = train.EPropNetwork(cell, 2, 2, tau_out=10.0, mode=fd.training_mode,
                                 key=jax.random.key(seed),
                                 W_in_initializer=fd.init.KaimingNormal(scale=3.0))
        trainer = train.ForwardTrainer(
            net, fd.losses.cross_entropy, opt, method="eprop", k=10,
            metrics={"accuracy": fd.losses.accuracy_mean_over_time})
        X, Y = _evidence(jax.random.key(100 + seed), 128)
        Xt, Yt = _evidence(jax.random.key(200 + seed), 128)
        trained, history = trainer.fit((X, Y), num_epoch=4, batch_size=32,
                                       key=jax.random.key(seed), test_data=(Xt, Yt))
        accuracies.append(history["test_accuracy"][-1])
        assert history["train_loss"][-1] < history["train_loss"][0]
    assert min(accuracies) > 0.8, accuracies


def test_argument_checks():
    model = _rnn()
    loss, opt = fd.losses.mean_squared_error, optax.sgd(0.1)
    FT = train.ForwardTrainer
    with pytest.raises(ValueError, match="`method` must be one of"):
        FT(model, loss, opt, method="bptt")
    for k in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match=r"`k` \(update every k steps\) must be an int >= 1"):
            FT(model, loss, opt, method="rtrl", k=k)
    with pytest.raises(ValueError, match="`targets` must be"):
        FT(model, loss, opt, method="rtrl", targets="time")
    with pytest.raises(ValueError, match="`on_nonfinite` must be one of"):
        FT(model, loss, opt, method="rtrl", on_nonfinite="warn")
    with pytest.raises(ValueError, match="`dt` must be a positive float"):
        FT(model, loss, opt, method="rtrl", dt=0.0)
    with pytest.raises(TypeError, match="`loss_fn` must be callable"):
        FT(model, "mse", opt, method="rtrl")
    with pytest.raises(TypeError, match="optax GradientTransformation"):
        FT(model, loss, object(), method="rtrl")
    with pytest.raises(ValueError, match="feedback='random' applies to method='eprop'"):
        FT(model, loss, opt, method="rtrl", feedback="random")
    with pytest.raises(TypeError, match="`metrics` must map names"):
        FT(model, loss, opt, method="rtrl", metrics={"acc": 1})
    with pytest.raises(ValueError, match="`max_memory` must be a positive int"):
        FT(model, loss, opt, method="rtrl", max_memory=0)
    frozen = fd.layers.RNNCell(2, 3, mode=fd.batching_mode, key=jax.random.key(0))
    with pytest.raises(ValueError, match="no trainable arrays"):
        FT(frozen, loss, opt, method="rtrl")
    trainer = FT(model, loss, opt, method="rtrl", targets="step")
    with pytest.raises(ValueError, match="`num_epoch` must be a positive int"):
        trainer.fit((np.zeros((2, 3, 2)), np.zeros((2, 3, 1))), num_epoch=0, batch_size=2)
    with pytest.raises(ValueError, match="inputs must be sequences"):
        trainer.predict(np.zeros((2,)))
