"""funcdyn.train.BPTT: fit / predict / evaluate, history, callbacks, data handling."""

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
    """h' = tanh(x W_in + h W_rec), y = h W_out: a custom model for the tests."""

    W_in: jax.Array
    W_rec: jax.Array
    W_out: jax.Array
    num_in: int = eqx.field(static=True)
    num_hidden: int = eqx.field(static=True)

    def __init__(self, n_in, n_hidden, n_out, *, key, mode=None, name=None):
        k1, k2, k3 = jax.random.split(key, 3)
        self.W_in = jax.random.normal(k1, (n_in, n_hidden)) / np.sqrt(n_in)
        self.W_rec = jax.random.normal(k2, (n_hidden, n_hidden)) * 0.5 / np.sqrt(n_hidden)
        self.W_out = jax.random.normal(k3, (n_hidden, n_out)) / np.sqrt(n_hidden)
        self.num_in = n_in
        self.num_hidden = n_hidden
        self.mode = resolve_mode(mode)
        self.name = name

    def init_state(self, batch_size=None, *, key=None):
        self.check_batch_size(batch_size)
        return jnp.zeros((batch_size, self.num_hidden))

    def __call__(self, h, x, ctx):
        if x.shape[-1] != self.num_in:
            raise ValueError(f"TanhRNN expects {self.num_in} input features, got {x.shape}.")
        h = jnp.tanh(x @ self.W_in + h @ self.W_rec)
        return h, h @ self.W_out


def sign_task(key, n=64, T=12):
    """Class = whether channel 0 has a positive mean over time."""
    X = np.asarray(jax.random.normal(key, (n, T, 2)), np.float32)
    Y = (X[:, :, 0].mean(1) > 0).astype(np.int32)
    return X, Y


LOSS = train.sequence_loss(
    losses.cross_entropy_last_step, dt=1.0, metrics={"accuracy": losses.accuracy_last_step}
)


# Shared optimizers: the jitted step is cached per (loss, optimizer, shapes), so tests
# that reuse them (with the same sizes) compile once.
ADAM = optax.adam(1e-2)
SGD0 = optax.sgd(0.0)


def rnn(key, hidden=16):
    return TanhRNN(2, hidden, 2, key=key, mode=funcdyn.training_mode)


def test_fit_learns_custom_model_and_history_is_right():
    X, Y = sign_task(jax.random.key(0), n=96)
    Xt, Yt = sign_task(jax.random.key(1), n=40)
    model = rnn(jax.random.key(2))
    trainer = train.BPTT(model, LOSS, optax.adam(2e-2))
    reports = []
    trained, history = trainer.fit(
        (X, Y), num_epoch=6, batch_size=32, key=jax.random.key(3), test_data=(Xt, Yt),
        test_batch_size=16, callbacks=[reports.append], progress=False,
    )
    # Loss decreases, accuracy high on held-out data.
    assert history["train_loss"][-1] < 0.7 * history["train_loss"][0]
    assert history["test_accuracy"][-1] >= 0.8
    # History: 3 batches per epoch; per-epoch train entries are the means of the steps.
    assert history.num_steps == 18 and history.num_epochs == 6
    assert [s["step"] for s in history.steps] == list(range(18))
    assert [e["step"] for e in history.epochs] == [3, 6, 9, 12, 15, 18]
    steps = history.step_values("loss").reshape(6, 3)
    np.testing.assert_allclose(history["train_loss"], steps.mean(1), rtol=1e-6)
    acc = history.step_values("accuracy").reshape(6, 3)
    np.testing.assert_allclose(history["train_accuracy"], acc.mean(1), rtol=1e-6)
    # Test entries equal an independent evaluation of the final model.
    final = trainer.evaluate((Xt, Yt), model=trained)
    assert history.epochs[-1]["test_loss"] == pytest.approx(final["loss"], rel=1e-5)
    assert history.epochs[-1]["test_accuracy"] == pytest.approx(final["accuracy"])
    assert set(history.keys()) >= {"train_loss", "train_accuracy", "test_loss", "test_accuracy"}
    # Callbacks saw one report per epoch.
    assert [r.epoch for r in reports] == list(range(6))
    assert reports[-1].step == 18 and reports[-1].metrics["test_loss"] == final["loss"]
    # The trainer's model is untouched (and still valid despite buffer donation).
    np.testing.assert_array_equal(trainer.model.W_rec, model.W_rec)
    assert not np.allclose(trained.W_rec, model.W_rec)


def test_predict_matches_run():
    X, _ = sign_task(jax.random.key(0), n=8, T=4)
    model = rnn(jax.random.key(1), hidden=4)
    trainer = train.BPTT(model, LOSS, ADAM)
    ys = trainer.predict(X)
    _, ref, _ = funcdyn.run(model, X, dt=1.0, time_major=False)
    np.testing.assert_allclose(ys, ref, rtol=1e-6)
    np.testing.assert_allclose(trainer.predict(X, batch_size=4), ref, rtol=1e-5, atol=1e-6)
    ys2, rec = trainer.predict_and_record(X, monitors={"h": lambda h: h})
    np.testing.assert_allclose(ys2, ref, rtol=1e-6)
    assert rec["h"].shape == (8, 4, 4)
    ys_tm = trainer.predict(np.swapaxes(X, 0, 1), time_major=True)
    np.testing.assert_allclose(np.swapaxes(ys_tm, 0, 1), ref, rtol=1e-5, atol=1e-6)


def test_data_forms_give_the_same_result():
    X, Y = sign_task(jax.random.key(0), n=16, T=4)
    model = rnn(jax.random.key(1), hidden=4)
    trainer = train.BPTT(model, LOSS, ADAM)
    kw = dict(num_epoch=2, key=jax.random.key(2), progress=False)
    batches = [(X[i : i + 8], Y[i : i + 8]) for i in range(0, 16, 8)]
    calls = []

    def factory():
        calls.append(1)
        return iter(batches)

    m_arrays, h_arrays = trainer.fit((X, Y), batch_size=8, shuffle=False, **kw)
    m_list, h_list = trainer.fit(batches, **kw)
    m_fn, h_fn = trainer.fit(factory, **kw)
    assert len(calls) == 2  # re-called each epoch
    for m, h in ((m_list, h_list), (m_fn, h_fn)):
        np.testing.assert_array_equal(m.W_rec, m_arrays.W_rec)
        assert h == h_arrays
    # A generator can serve a single epoch.
    generator = (b for b in batches)
    m_gen, _ = trainer.fit(generator, num_epoch=1, key=jax.random.key(2), progress=False)
    assert m_gen.W_rec.shape == (4, 4)


def test_shuffle_and_drop_last():
    X, Y = sign_task(jax.random.key(0), n=20, T=4)
    trainer = train.BPTT(rnn(jax.random.key(1), hidden=4), LOSS, ADAM)
    _, h = trainer.fit((X, Y), num_epoch=1, batch_size=8, key=jax.random.key(0), progress=False)
    assert h.num_steps == 3  # 8 + 8 + 4
    _, h = trainer.fit(
        (X, Y), num_epoch=1, batch_size=8, drop_last=True, key=jax.random.key(0), progress=False
    )
    assert h.num_steps == 2
    _, h1 = trainer.fit((X, Y), num_epoch=1, batch_size=8, key=jax.random.key(0), progress=False)
    _, h2 = trainer.fit((X, Y), num_epoch=1, batch_size=8, key=jax.random.key(5), progress=False)
    assert h1.step_values() [0] != h2.step_values()[0]  # different shuffles


def test_early_stopping_and_callback_stop():
    X, Y = sign_task(jax.random.key(0), n=16, T=4)
    # A zero learning rate: the test loss never improves after the first epoch.
    trainer = train.BPTT(rnn(jax.random.key(1), hidden=4), LOSS, SGD0)
    stop = train.EarlyStopping("test_loss", patience=2)
    _, h = trainer.fit((X, Y), num_epoch=10, batch_size=8, key=jax.random.key(0),
                       test_data=(X, Y), early_stopping=stop, progress=False)
    assert h.num_epochs == 3
    _, h = trainer.fit((X, Y), num_epoch=10, batch_size=8, key=jax.random.key(0),
                       callbacks=[lambda r: r.epoch == 1], progress=False)
    assert h.num_epochs == 2


def test_early_stopping_restores_the_best_model():
    X, Y = sign_task(jax.random.key(0), n=16, T=4)
    # A huge learning rate makes later epochs worse than the first.
    trainer = train.BPTT(rnn(jax.random.key(1), hidden=4), LOSS, optax.sgd(30.0))
    kept = []
    stop = train.EarlyStopping("test_loss", patience=1)
    trained, h = trainer.fit(
        (X, Y), num_epoch=6, batch_size=16, key=jax.random.key(0), test_data=(X, Y),
        early_stopping=stop, progress=False,
        callbacks=[lambda r: kept.append(jax.tree_util.tree_map(jnp.copy, r.model))],
    )
    best = stop.best_epoch(h)
    np.testing.assert_array_equal(trained.W_rec, kept[best].W_rec)
    score = trainer.evaluate((X, Y), model=trained)["loss"]
    assert score == pytest.approx(h["test_loss"][best], rel=1e-5)


def test_progress_bar_runs(capsys):
    X, Y = sign_task(jax.random.key(0), n=16, T=4)
    trainer = train.BPTT(rnn(jax.random.key(1), hidden=4), LOSS, ADAM)
    trainer.fit((X, Y), num_epoch=1, batch_size=8, key=jax.random.key(0), progress=True)
    err = capsys.readouterr().err
    assert "epoch 1/1" in err and "loss" in err


def test_dropout_model_trains_with_keys():
    X, Y = sign_task(jax.random.key(0), n=16, T=4)
    k1, k2 = jax.random.split(jax.random.key(1))
    model = funcdyn.Sequential(
        rnn(k1, hidden=8),
        funcdyn.layers.Dropout(0.5, mode=funcdyn.training_mode),
        mode=funcdyn.training_mode,
    )
    trainer = train.BPTT(model, LOSS, ADAM)
    _, h = trainer.fit((X, Y), num_epoch=1, batch_size=8, key=jax.random.key(0), progress=False)
    assert np.isfinite(h["train_loss"]).all()
    # Evaluation runs with fit=False: dropout off, deterministic without a key.
    a = trainer.evaluate((X, Y))
    b = trainer.evaluate((X, Y))
    assert a == b


def test_custom_loss_signature():
    X, Y = sign_task(jax.random.key(0), n=16, T=4)

    def loss_fn(model, batch, key):
        x, y = batch
        _, ys, _ = funcdyn.run(model, x, dt=1.0, time_major=False, fit=True, key=key)
        return losses.cross_entropy_mean_over_time(ys, y)

    trainer = train.BPTT(rnn(jax.random.key(1), hidden=4), loss_fn, ADAM, dt=1.0)
    _, h = trainer.fit((X, Y), num_epoch=2, batch_size=8, key=jax.random.key(0), progress=False)
    assert set(h.keys()) == {"epoch", "step", "train_loss", "time_s"}


BAD = "the first axis of x and y counts the samples"


@pytest.mark.parametrize(
    "data, match",
    [
        ((np.zeros((10, 5, 2), np.float32), np.zeros(9, np.int32)), "x has 10 samples but y has"),
        ((np.zeros((10,), np.float32), np.zeros(10, np.int32)), "at least 2 axes"),
        ((np.full((10, 5, 2), np.nan, np.float32), np.zeros(10, np.int32)), "NaN or inf"),
        ([(np.zeros((4, 5, 2), np.float32), np.zeros(3, np.int32))], "x has 4 samples but y"),
        ([(np.zeros((4, 5, 2), np.float32),)], "must be a pair"),
        ("data.npz", "must be a pair of arrays"),
    ],
)
def test_bad_data_fails_before_compiling(data, match):
    traced = []

    def loss_fn(model, batch, key):
        traced.append(1)
        return LOSS(model, batch, key)

    trainer = train.BPTT(rnn(jax.random.key(1), hidden=4), loss_fn, ADAM, has_aux=True)
    with pytest.raises((ValueError, TypeError), match=match):
        trainer.fit(data, num_epoch=2, batch_size=4, key=jax.random.key(0), progress=False)
    assert not traced


def test_model_data_mismatch_reported_before_compiling():
    X = np.zeros((8, 5, 3), np.float32)  # 3 features; the model takes 2
    trainer = train.BPTT(rnn(jax.random.key(1), hidden=4), LOSS, ADAM)
    with pytest.raises(ValueError, match="do not accept a batch of train_data.*2 input features"):
        trainer.fit((X, np.zeros(8, np.int32)), num_epoch=1, batch_size=4, key=jax.random.key(0))


def test_argument_errors():
    X, Y = sign_task(jax.random.key(0), n=8, T=3)
    trainer = train.BPTT(rnn(jax.random.key(1), hidden=4), LOSS, ADAM)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="pass `batch_size`"):
        trainer.fit((X, Y), num_epoch=1, key=key)
    with pytest.raises(ValueError, match="exceeds the 8 samples"):
        trainer.fit((X, Y), num_epoch=1, batch_size=9, key=key)
    with pytest.raises(ValueError, match="`num_epoch`"):
        trainer.fit((X, Y), num_epoch=0, batch_size=4, key=key)
    with pytest.raises(ValueError, match="pass `key="):
        trainer.fit((X, Y), num_epoch=1, batch_size=4)
    with pytest.raises(ValueError, match="one-shot iterator"):
        trainer.fit(iter([(X, Y)]), num_epoch=2, key=key)
    with pytest.raises(ValueError, match="needs `test_data`"):
        trainer.fit((X, Y), num_epoch=1, batch_size=4, key=key,
                    early_stopping=train.EarlyStopping("test_loss"))
    with pytest.raises(ValueError, match="`patience`"):
        train.EarlyStopping(patience=-1)
    with pytest.raises(TypeError, match="must be callable"):
        trainer.fit((X, Y), num_epoch=1, batch_size=4, key=key, callbacks=[1])
    with pytest.raises(ValueError, match="has_aux must be True"):
        train.BPTT(trainer.model, LOSS, optax.adam(1e-2), has_aux=False)
    with pytest.raises(ValueError, match="`mesh`"):
        train.BPTT(trainer.model, LOSS, optax.adam(1e-2), mesh="all")
    plain = train.BPTT(trainer.model, lambda m, b, k: 0.0, optax.adam(1e-2))
    with pytest.raises(ValueError, match="needs the step size"):
        plain.predict(X)
    with pytest.raises(ValueError, match="must be sequences"):
        trainer.predict(X[:, 0, 0])


def test_fit_learns_lstm():
    X, Y = sign_task(jax.random.key(0), n=64, T=8)
    k1, k2 = jax.random.split(jax.random.key(1))
    mode = funcdyn.training_mode
    model = funcdyn.Sequential(
        funcdyn.layers.LSTMCell(2, 8, mode=mode, key=k1),
        funcdyn.layers.Dense(8, 2, mode=mode, key=k2),
        mode=mode,
    )
    trainer = train.BPTT(model, LOSS, optax.adam(3e-2))
    _, history = trainer.fit((X, Y), num_epoch=4, batch_size=32, key=jax.random.key(2),
                             progress=False)
    assert history["train_loss"][-1] < 0.8 * history["train_loss"][0]


def spiking_task(key, n=64, T=20, n_in=20, rate=0.2):
    """Poisson spikes; class 1 fires its first half of inputs faster."""
    k1, k2 = jax.random.split(key)
    Y = np.asarray(jax.random.bernoulli(k1, 0.5, (n,)), np.int32)
    rates = np.full((n, 1, n_in), rate * 0.5, np.float32)
    rates[Y == 1, :, : n_in // 2] = rate * 1.5
    rates[Y == 0, :, n_in // 2 :] = rate * 1.5
    X = np.asarray(jax.random.uniform(k2, (n, T, n_in)) < rates, np.float32)
    return X, Y


def snn(key, n_in=20, n_rec=32):
    from funcdyn.neurons import InputGroup, LeakyIntegrator, LIF

    k1, k2 = jax.random.split(key)
    train_, fixed = funcdyn.training_mode, funcdyn.batching_mode
    W1 = jax.random.normal(k1, (n_in, n_rec)) * 4.0 / np.sqrt(n_in)
    return funcdyn.Sequential(
        InputGroup(n_in, mode=fixed),
        funcdyn.layers.Dense(n_in, n_rec, W1, None, mode=train_, key=k1),
        LIF(n_rec, tau=10.0, V_rest=0.0, V_reset=0.0, V_th=1.0, mode=fixed),
        funcdyn.layers.Dense(n_rec, 2, b_initializer=None, mode=train_, key=k2),
        LeakyIntegrator(2, tau=5.0, mode=fixed),
        mode=train_,
    )


SNN_LOSS = train.sequence_loss(
    losses.cross_entropy_max_over_time, metrics={"acc": losses.accuracy_max_over_time}
)


def test_fit_learns_spiking_network():
    pytest.importorskip("funcdyn.neurons")
    adam = optax.adam(1e-2)
    for seed in (0, 1):  # thresholds over seeds, never exact accuracies
        X, Y = spiking_task(jax.random.key(seed), n=96)
        trainer = train.BPTT(snn(jax.random.key(10 + seed)), SNN_LOSS, adam)
        trained, history = trainer.fit((X, Y), num_epoch=8, batch_size=32,
                                       key=jax.random.key(seed), progress=False)
        assert history["train_loss"][-1] < history["train_loss"][0]
        assert history["train_acc"][-3:].mean() > 0.6
        # The neurons (batching mode) are not trained; the weights are.
        np.testing.assert_array_equal(trained.layers[2].tau, trainer.model.layers[2].tau)
        assert not np.allclose(trained.layers[1].W, trainer.model.layers[1].W)


def test_small_test_set_is_evaluated_whole():
    X, Y = sign_task(jax.random.key(0), n=32, T=4)
    Xt, Yt = sign_task(jax.random.key(1), n=10, T=4)
    model = rnn(jax.random.key(2), hidden=4)
    trainer = train.BPTT(model, LOSS, ADAM)
    trained, history = trainer.fit(
        (X, Y), num_epoch=1, batch_size=32, key=jax.random.key(3), test_data=(Xt, Yt),
        progress=False,
    )
    final = trainer.evaluate((Xt, Yt), model=trained, batch_size=10)
    assert history.epochs[-1]["test_loss"] == pytest.approx(final["loss"], rel=1e-5)
