"""Fault injection into training: non-finite losses, gradients and updates under every
`on_nonfinite` policy, in `make_step` and `BPTT.fit`; resuming without consuming the
caller's checkpoint; bad trainer arguments; the layout of records."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcdyn as fd
from funcdyn import train

pytestmark = pytest.mark.standard_promotion


def _model(key=0):
    with fd.training_environment():
        return fd.layers.Dense(3, 2, key=jax.random.key(key))


def _loss(model, batch, key):
    x, y = batch
    _, out = model(None, x, fd.Context())
    return jnp.mean((out - y) ** 2)


def _batch(poison=False):
    x = jnp.ones((4, 3))
    if poison:
        x = x.at[1, 2].set(jnp.nan)
    return x, jnp.zeros((4, 2))


def _finite(tree):
    return all(bool(jnp.all(jnp.isfinite(a))) for a in jax.tree_util.tree_leaves(tree)
               if eqx.is_inexact_array(a))


@pytest.mark.parametrize("donate", [False, True])
def test_raise_keeps_the_last_finite_model(donate):
    init, step = train.make_step(_loss, optax.sgd(0.1), donate=donate)
    model = _model()
    opt_state = init(model)
    model, opt_state, _, _ = step(model, opt_state, _batch(), None)
    before = jax.tree_util.tree_map(np.asarray, eqx.filter(model, eqx.is_array))
    with pytest.raises(train.NonFiniteError, match=r"non-finite values in loss, grad") as info:
        step(model, opt_state, _batch(poison=True), None)
    err = info.value
    assert err.leaves[0] == "loss" and any(p.startswith("grad") for p in err.leaves)
    assert _finite(err.model) and _finite(err.opt_state)
    np.testing.assert_array_equal(err.model.W, before.W)
    # Training goes on from the model the error carries.
    model2, _, loss, _ = step(err.model, err.opt_state, _batch(), None)
    assert np.isfinite(float(loss)) and _finite(model2)


def test_skip_drops_the_update_and_goes_on():
    init, step = train.make_step(_loss, optax.sgd(0.1), on_nonfinite="skip")
    model = _model()
    opt_state = init(model)
    new, opt_state2, loss, _ = step(model, opt_state, _batch(poison=True), None)
    assert np.isnan(float(loss))
    np.testing.assert_array_equal(new.W, model.W)
    new, _, loss, _ = step(new, opt_state2, _batch(), None)
    assert np.isfinite(float(loss)) and not np.allclose(new.W, model.W)


def test_ignore_lets_nan_through():
    init, step = train.make_step(_loss, optax.sgd(0.1), on_nonfinite="ignore")
    model = _model()
    new, _, _, _ = step(model, init(model), _batch(poison=True), None)
    assert not _finite(new)


def test_nonfinite_update_from_a_huge_learning_rate_is_caught():
    init, step = train.make_step(_loss, optax.sgd(1e38))
    model = _model()
    opt_state = init(model)
    x, y = _batch()
    with pytest.raises(train.NonFiniteError, match=r"param"):
        for _ in range(5):
            model, opt_state, _, _ = step(model, opt_state, (x * 1e3, y), None)


def test_bad_policy_and_arguments():
    with pytest.raises(ValueError, match="`on_nonfinite` must be one of"):
        train.make_step(_loss, optax.sgd(0.1), on_nonfinite="warn")
    with pytest.raises(TypeError, match="`donate` must be True or False|`donate` must be a bool"):
        train.make_step(_loss, optax.sgd(0.1), donate="yes")
    with pytest.raises(ValueError, match="`dt` must be a finite float > 0"):
        train.BPTT(_model(), _loss, optax.sgd(0.1), dt=-1.0)


def _snn(mode_key=0, solver=None):
    with fd.training_environment():
        return fd.Sequential(
            fd.layers.Dense(4, 8, W_initializer=fd.init.KaimingNormal(scale=20.0),
                            key=jax.random.key(mode_key)),
            fd.neurons.HH(8, solver=solver) if solver is not None
            else fd.neurons.LIF(8, V_th=1.0, V_reset=0.0),
            fd.layers.Dense(8, 3, key=jax.random.key(mode_key + 1)),
        )


def _data(n=16, T=20):
    X = jax.random.uniform(jax.random.key(2), (n, T, 4))
    Y = jax.random.randint(jax.random.key(3), (n,), 0, 3)
    return X, Y


LOSS = train.sequence_loss(fd.losses.cross_entropy_max_over_time, dt=0.1)


def test_fit_names_epoch_step_and_leaves():
    X, Y = _data()
    X = X.at[9, 3, 0].set(jnp.nan)  # a NaN in the second batch of the first epoch
    trainer = train.BPTT(_snn(), LOSS, optax.adam(1e-3))
    with pytest.raises(train.NonFiniteError, match=r"fit: epoch 0, step 1: .*loss") as info:
        trainer.fit((X, Y), num_epoch=2, batch_size=8, shuffle=False, check_finite=False)
    assert info.value.epoch == 0 and info.value.step == 1
    assert _finite(info.value.model)


def test_fit_with_exploding_hh_raises_instead_of_a_finite_loss():
    # The reproduction of the issue: forward Euler on HH at dt = 0.1 overflows; the
    # spikes must not read as silence (a finite ln 3 loss with NaN weights).
    X, Y = _data(n=8, T=50)
    trainer = train.BPTT(_snn(solver=diffrax.Euler()), LOSS, optax.adam(1e-2))
    try:
        model, history = trainer.fit((10.0 * X, Y), num_epoch=1, batch_size=8, shuffle=False)
    except train.NonFiniteError as err:
        assert _finite(err.model)
    else:
        assert _finite(model) and np.isfinite(history.epochs[-1]["train_loss"])


def test_fit_skip_policy_keeps_a_finite_model():
    X, Y = _data()
    X = X.at[9, 3, 0].set(jnp.nan)
    trainer = train.BPTT(_snn(), LOSS, optax.adam(1e-3), on_nonfinite="skip")
    model, history = trainer.fit((X, Y), num_epoch=1, batch_size=8, shuffle=False,
                                 check_finite=False)
    assert _finite(model) and len(history.steps) == 2


def test_resume_never_consumes_the_callers_checkpoint(tmp_path):
    X, Y = _data()
    trainer = train.BPTT(_snn(), LOSS, optax.adam(1e-3))  # donate=True by default
    path = tmp_path / "run.ckpt"
    trainer.fit((X, Y), num_epoch=1, batch_size=8, key=jax.random.key(0),
                checkpoint_path=str(path))
    ckpt = train.load_checkpoint(path, model=trainer.model, opt_state=trainer.init(trainer.model))
    kept = jax.tree_util.tree_map(np.asarray, eqx.filter(ckpt.model, eqx.is_array))
    trainer.fit((X, Y), num_epoch=2, batch_size=8, key=jax.random.key(0), resume=ckpt)
    for a, b in zip(jax.tree_util.tree_leaves(eqx.filter(ckpt.model, eqx.is_array)),
                    jax.tree_util.tree_leaves(kept)):
        np.testing.assert_array_equal(np.asarray(a), b)  # still readable, unchanged


def test_resume_refuses_other_data(tmp_path):
    X, Y = _data()
    trainer = train.BPTT(_snn(), LOSS, optax.adam(1e-3))
    path = tmp_path / "run.ckpt"
    trainer.fit((X, Y), num_epoch=1, batch_size=8, key=jax.random.key(0),
                checkpoint_path=str(path))
    ckpt = train.load_checkpoint(path, model=trainer.model, opt_state=trainer.init(trainer.model))
    n, T = X.shape[:2]
    assert ckpt.data == {"batch_size": 8, "sample_shapes": [list(X.shape[1:])],
                         "num_samples": n, "shuffle": True, "drop_last": False,
                         "num_batches": -(-n // 8)}
    resume = dict(num_epoch=2, key=jax.random.key(0), resume=str(path))
    with pytest.raises(ValueError, match=r"cannot resume.*batch_size 8 in the checkpoint, 4 now"):
        trainer.fit((X, Y), batch_size=4, **resume)
    with pytest.raises(ValueError, match=rf"num_samples {n} in the checkpoint, {n - 4} now"):
        trainer.fit((X[:-4], Y[:-4]), batch_size=8, **resume)
    with pytest.raises(ValueError, match=r"sample_shapes .* in the checkpoint, \[\[4,"):
        trainer.fit((X[:, :4], Y), batch_size=8, **resume)
    with pytest.raises(ValueError, match=r"shuffle True in the checkpoint, False now"):
        trainer.fit((X, Y), batch_size=8, shuffle=False, **resume)
    # A list of batches of another size is refused the same way.
    batches = [(X[i:i + 4], Y[i:i + 4]) for i in range(0, n, 4)]
    with pytest.raises(ValueError, match=r"batch_size 8 in the checkpoint, 4 now"):
        trainer.fit(batches, **resume)
    # The same data resume, and equal the uninterrupted run.
    resumed, _ = trainer.fit((X, Y), batch_size=8, **resume)
    full, _ = trainer.fit((X, Y), num_epoch=2, batch_size=8, key=jax.random.key(0))
    for a, b in zip(jax.tree_util.tree_leaves(eqx.filter(resumed, eqx.is_array)),
                    jax.tree_util.tree_leaves(eqx.filter(full, eqx.is_array))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_forward_trainer_resume_refuses_other_data(tmp_path):
    with fd.training_environment():
        model = fd.layers.RNNCell(2, 3, key=jax.random.key(0)) >> fd.layers.Dense(
            3, 1, key=jax.random.key(1))
    X = jax.random.normal(jax.random.key(2), (12, 5, 2))
    Y = jnp.zeros((12, 5, 1))
    trainer = train.ForwardTrainer(model, fd.losses.mean_squared_error, optax.sgd(0.1),
                                   method="rtrl", targets="step", k=5)
    path = tmp_path / "run.ckpt"
    trainer.fit((X, Y), num_epoch=1, batch_size=6, key=jax.random.key(0),
                checkpoint_path=str(path))
    with pytest.raises(ValueError, match=r"cannot resume.*batch_size 6 in the checkpoint, 4 now"):
        trainer.fit((X, Y), num_epoch=2, batch_size=4, resume=path)


def test_checkpoint_data_must_be_a_dict(tmp_path):
    model = _snn()
    with pytest.raises(TypeError, match="`data` must be a dict or None"):
        train.save_checkpoint(tmp_path / "x.ckpt", model=model, opt_state=(), step=0,
                              epoch=0, data=[1, 2])
    assert not list(tmp_path.iterdir())


def test_fit_checks_class_labels_on_the_host_before_compiling():
    X, Y = _data()
    n = X.shape[0]
    trainer = train.BPTT(_snn(), LOSS, optax.adam(1e-3))
    bad = np.asarray(Y).copy()
    bad[n - 3] = 7
    with pytest.raises(ValueError, match=rf"fit: train_data labels \(cross_entropy.*\): "
                                         rf"integer labels must be class indices in \[0, 3\)"
                                         rf".*the first 7 at index \({n - 3},\)"):
        trainer.fit((X, jnp.asarray(bad)), num_epoch=1, batch_size=8, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"fit: test_data labels .* the first -1 at index \(2,\)"):
        trainer.fit((X, Y), num_epoch=1, batch_size=8, key=jax.random.key(0),
                    test_data=(X[:4], jnp.asarray(Y[:4]).at[2].set(-1)))
    # A list of batches: the first batch is checked on the host.
    batches = [(X[:8], jnp.asarray(Y[:8]).at[1].set(99))]
    with pytest.raises(ValueError, match=r"fit: train_data labels .* the first 99 at index \(1,\)"):
        trainer.fit(batches, num_epoch=1)


def test_make_step_checks_class_labels_inside_the_compiled_loss():
    X, Y = _data()
    init, step = train.make_step(LOSS, optax.adam(1e-3), has_aux=True)
    model = _snn()
    opt_state = init(model)
    step(model, opt_state, (X[:8], Y[:8]), None)  # compiles with good labels
    with pytest.raises(Exception, match=r"integer labels must be class indices in \[0, "):
        out = step(model, opt_state, (X[:8], jnp.asarray(Y[:8]).at[0].set(50)), None)
        jax.block_until_ready(out)


# -- records: one layout whatever the monitors return -----------------------------------

MONITORS = {
    "V": lambda s: s.V,                      # per sample: (batch, n)
    "mean": lambda s: s.V.mean(axis=0),      # batch mean: (n,)
    "total": lambda s: s.V.sum(),            # scalar
}


def test_run_record_layout_batch_major():
    lif = fd.neurons.LIF(3, mode=fd.batching_mode)
    xs = jnp.full((4, 5, 3), 30.0)  # (batch, T, n)
    _, ys, rec = fd.run(lif, xs, dt=1.0, time_major=False, monitors=MONITORS)
    assert ys.shape == (4, 5, 3)
    assert rec["V"].shape == (4, 5, 3) and rec["mean"].shape == (5, 3)
    assert rec["total"].shape == (5,)
    np.testing.assert_allclose(rec["mean"], rec["V"].mean(axis=0), rtol=1e-6)
    _, _, rec_tm = fd.run(lif, jnp.swapaxes(xs, 0, 1), dt=1.0, monitors=MONITORS)
    assert rec_tm["V"].shape == (5, 4, 3) and rec_tm["mean"].shape == (5, 3)
    np.testing.assert_allclose(rec_tm["total"], rec["total"], rtol=1e-6)


def test_run_record_layout_nonbatching():
    lif = fd.neurons.LIF(3)
    _, _, rec = fd.run(lif, jnp.full((5, 3), 30.0), dt=1.0,
                       monitors={"V": lambda s: s.V, "total": lambda s: s.V.sum()})
    assert rec["V"].shape == (5, 3) and rec["total"].shape == (5,)


def test_predict_and_record_layouts_and_chunks():
    with fd.training_environment():
        model = fd.neurons.LIF(3)
    trainer = train.BPTT(model, LOSS, optax.sgd(0.1))
    X = jnp.full((8, 5, 3), 30.0)
    ys, rec = trainer.predict_and_record(X, monitors={"V": lambda s: s.V}, batch_size=3)
    assert ys.shape == (8, 5, 3) and rec["V"].shape == (8, 5, 3)
    _, whole = trainer.predict_and_record(X, monitors=MONITORS)
    assert whole["total"].shape == (5,) and whole["mean"].shape == (5, 3)
    with pytest.raises(ValueError, match=r"do not keep the batch axis"):
        trainer.predict_and_record(X, monitors=MONITORS, batch_size=4)
    with pytest.raises(ValueError, match=r"`batch_size` must be a positive int"):
        trainer.predict(X, batch_size=0)
    with pytest.raises(ValueError, match=r"holds no samples"):
        trainer.predict(X[:0])


def test_truncated_step_follows_the_policy():
    with fd.training_environment():
        model = fd.layers.RNNCell(2, 3, key=jax.random.key(0)) >> fd.layers.Dense(
            3, 1, key=jax.random.key(1))
    loss = train.sequence_loss(fd.losses.mean_squared_error, dt=1.0)
    x = jnp.ones((4, 6, 2))
    y = jnp.zeros((4, 6, 1))
    init, step = train.make_truncated_step(loss, optax.sgd(0.1), window=2)
    opt_state = init(model)
    with pytest.raises(train.NonFiniteError,
                       match=r"make_truncated_step: .* non-finite values in loss, grad"):
        step(model, opt_state, (x.at[0, 3, 0].set(jnp.nan), y), None)
    init, step = train.make_truncated_step(loss, optax.sgd(0.1), window=2, on_nonfinite="skip")
    new, _, value, _ = step(model, init(model), (x.at[0, 3, 0].set(jnp.nan), y), None)
    assert np.isnan(float(value)) and _finite(new)
    # The NaN enters in window 1 (steps 2-3): window 0's update is kept, window 1's is
    # dropped, and window 2 starts from a NaN state, so its update is dropped too.
    first_only, _, _, _ = step(model, init(model), (x[:, :2], y[:, :2]), None)
    for a, b in zip(jax.tree.leaves(eqx.filter(new, eqx.is_array)),
                    jax.tree.leaves(eqx.filter(first_only, eqx.is_array))):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert not all(np.allclose(a, b) for a, b in zip(
        jax.tree.leaves(eqx.filter(new, eqx.is_array)),
        jax.tree.leaves(eqx.filter(model, eqx.is_array))))
    with pytest.raises(ValueError, match="`on_nonfinite` must be one of"):
        train.make_truncated_step(loss, optax.sgd(0.1), window=2, on_nonfinite="nope")
