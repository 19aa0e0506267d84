"""Saving, loading and resuming training runs."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcdyn
from funcdyn import losses, train
from funcdyn.layers import Dense


def _leaves_equal(a, b):
    la, ta = jax.tree_util.tree_flatten(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    assert ta == tb
    for x, y in zip(la, lb):
        if eqx.is_array(x):
            if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
                x, y = jax.random.key_data(x), jax.random.key_data(y)
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
        else:
            assert x == y


def _model(key, hidden=6, mode=funcdyn.training_mode):
    k1, k2 = jax.random.split(key)
    return funcdyn.Sequential(
        Dense(2, hidden, mode=mode, key=k1), jnp.tanh, Dense(hidden, 2, mode=mode, key=k2),
        mode=mode,
    )


def _task(key, n=48, T=5):
    X = np.asarray(jax.random.normal(key, (n, T, 2)), np.float32)
    Y = (X[:, :, 0].sum(1) > 0).astype(np.int32)
    return X, Y


LOSS = train.sequence_loss(
    losses.cross_entropy_mean_over_time, metrics={"acc": losses.accuracy_mean_over_time}
)


def test_roundtrip_is_bit_identical(tmp_path):
    model = _model(jax.random.key(0))
    opt = optax.adam(1e-3)
    init, step = train.make_step(LOSS, opt, has_aux=True)
    opt_state = init(model)
    X, Y = _task(jax.random.key(1), n=8)
    model, opt_state, *_ = step(model, opt_state, (X, Y), None)
    history = train.History(
        [{"epoch": 0, "step": 0, "loss": 0.5}], [{"epoch": 0, "train_loss": 0.5}]
    )
    key = jax.random.key(42)
    train.save_checkpoint(tmp_path / "run.ckpt", model=model, opt_state=opt_state, step=7,
                          epoch=3, key=key, history=history)
    template = _model(jax.random.key(9))
    ckpt = train.load_checkpoint(tmp_path / "run.ckpt", model=template, opt_state=init(template))
    _leaves_equal(ckpt.model, model)
    _leaves_equal(ckpt.opt_state, opt_state)
    assert (ckpt.step, ckpt.epoch) == (7, 3)
    np.testing.assert_array_equal(jax.random.key_data(ckpt.key), jax.random.key_data(key))
    assert jax.random.key_impl(ckpt.key) == jax.random.key_impl(key)
    assert ckpt.history == history
    # Raw uint32 keys and no key.
    train.save_checkpoint(tmp_path / "raw.ckpt", model=model, opt_state=opt_state, step=0,
                          epoch=0, key=jax.random.PRNGKey(3))
    raw = train.load_checkpoint(tmp_path / "raw.ckpt", model=template, opt_state=init(template))
    np.testing.assert_array_equal(raw.key, jax.random.PRNGKey(3))
    train.save_checkpoint(
        tmp_path / "none.ckpt", model=model, opt_state=opt_state, step=0, epoch=0
    )
    assert train.load_checkpoint(tmp_path / "none.ckpt", model=template,
                                 opt_state=init(template)).key is None


def test_resume_equals_uninterrupted(tmp_path):
    X, Y = _task(jax.random.key(1))
    Xt, Yt = _task(jax.random.key(2), n=16)
    trainer = train.BPTT(_model(jax.random.key(0)), LOSS, optax.adam(1e-2))
    kw = dict(batch_size=16, test_data=(Xt, Yt), progress=False)
    full, h_full = trainer.fit((X, Y), num_epoch=4, key=jax.random.key(3), **kw)
    part, h_part = trainer.fit((X, Y), num_epoch=2, key=jax.random.key(3),
                               checkpoint_path=str(tmp_path / "run.ckpt"), **kw)
    assert h_part.num_epochs == 2
    # The key comes from the checkpoint.
    resumed, h_res = trainer.fit((X, Y), num_epoch=4, resume=str(tmp_path / "run.ckpt"), **kw)
    _leaves_equal(resumed, full)
    assert h_res == h_full
    # The checkpoint written at the end of the resumed run equals the uninterrupted one.
    trainer.fit((X, Y), num_epoch=4, key=jax.random.key(3),
                checkpoint_path=str(tmp_path / "full.ckpt"), checkpoint_every=3, **kw)
    template = trainer.model
    a = train.load_checkpoint(
        tmp_path / "full.ckpt", model=template, opt_state=trainer.init(template)
    )
    assert a.epoch == 4 and a.step == 12
    _leaves_equal(a.model, full)


def test_mismatched_model_is_refused(tmp_path):
    model = _model(jax.random.key(0))
    opt = optax.adam(1e-3)
    init, _ = train.make_step(LOSS, opt, has_aux=True)
    path = tmp_path / "run.ckpt"
    train.save_checkpoint(path, model=model, opt_state=init(model), step=0, epoch=0)
    wider = _model(jax.random.key(0), hidden=7)
    with pytest.raises(ValueError, match=r"leaf .*W is saved with \(shape, dtype\) \(\[2, 6\]"):
        train.load_checkpoint(path, model=wider, opt_state=init(wider))
    deeper = funcdyn.Sequential(*model.layers, Dense(2, 2, key=jax.random.key(1),
                                mode=funcdyn.training_mode), mode=funcdyn.training_mode)
    with pytest.raises(ValueError, match="different structure"):
        train.load_checkpoint(path, model=deeper, opt_state=init(deeper))
    other = funcdyn.Sequential(model.layers[0], jax.nn.relu, model.layers[2],
                               mode=funcdyn.training_mode)
    with pytest.raises(ValueError, match="saved as PjitFunction but the given model has"):
        train.load_checkpoint(path, model=other, opt_state=init(other))
    # Same arrays, a different static field.
    named = eqx.tree_at(lambda m: m.layers[0], model,
                        Dense(2, 6, model.layers[0].W, name="in", mode=funcdyn.training_mode))
    with pytest.raises(ValueError, match="different module types or static fields"):
        train.load_checkpoint(path, model=named, opt_state=init(named))
    with pytest.raises(ValueError, match="opt_state"):
        train.load_checkpoint(path, model=model, opt_state=optax.sgd(0.1).init(model))
    (tmp_path / "junk").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a funcdyn checkpoint"):
        train.load_checkpoint(tmp_path / "junk", model=model, opt_state=init(model))
    X, Y = _task(jax.random.key(1), n=8)
    trainer = train.BPTT(wider, LOSS, opt)
    with pytest.raises(ValueError, match="shape"):
        trainer.fit((X, Y), num_epoch=2, batch_size=4, resume=str(path), progress=False)
