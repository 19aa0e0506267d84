import equinox as eqx
import funcdyn as fd
import jax
import jax.numpy as jnp
import pytest


def test_mode_flags():
    assert not fd.nonbatching_mode.is_batching and not fd.nonbatching_mode.is_trainable
    assert fd.batching_mode.is_batching and not fd.batching_mode.is_trainable
    assert fd.training_mode.is_batching and fd.training_mode.is_trainable
    assert isinstance(fd.training_mode, fd.BatchingMode)
    assert repr(fd.training_mode) == "TrainingMode"


def test_environments_set_and_restore_default(getkey):
    assert fd.get_default_mode() == fd.nonbatching_mode
    with fd.training_environment():
        d = fd.layers.Dense(2, 3, key=getkey())
        with fd.batching_environment():
            b = fd.layers.Dense(2, 3, key=getkey())
        assert fd.get_default_mode() == fd.training_mode
    assert fd.get_default_mode() == fd.nonbatching_mode
    assert d.mode == fd.training_mode
    assert b.mode == fd.batching_mode
    # An explicit mode beats the environment.
    with fd.training_environment():
        n = fd.layers.Dense(2, 3, mode=fd.nonbatching_mode, key=getkey())
    assert n.mode == fd.nonbatching_mode


def test_environment_rejects_non_mode():
    with pytest.raises(TypeError, match="funcdyn Mode instance"):
        with fd.environment("training"):
            pass


def test_mode_class_accepted_and_bad_mode_rejected(getkey):
    d = fd.layers.Dense(2, 3, mode=fd.TrainingMode, key=getkey())
    assert d.mode == fd.training_mode
    with pytest.raises(TypeError, match="`mode` must be a funcdyn Mode"):
        fd.layers.Dense(2, 3, mode="training", key=getkey())


class BatchOnly(fd.DynamicalSystem):
    supported_modes = (fd.BatchingMode,)

    def __call__(self, state, x, ctx):
        return state, x


def test_unsupported_mode_refused_with_names():
    BatchOnly(mode=fd.batching_mode)
    with pytest.raises(ValueError, match="BatchOnly does not support TrainingMode; supported modes: BatchingMode"):
        BatchOnly(mode=fd.training_mode)
    with pytest.raises(ValueError, match="does not support NonBatchingMode"):
        BatchOnly()


def test_mode_is_static(getkey):
    d = fd.layers.Dense(2, 3, mode=fd.training_mode, key=getkey())
    leaves = jax.tree_util.tree_leaves(d)
    assert all(eqx.is_array(x) for x in leaves)
    assert len(leaves) == 2


def test_mode_never_changes_the_maths(getkey):
    key = getkey()
    x = jax.random.normal(getkey(), (4, 3))
    outs = []
    for mode in (fd.batching_mode, fd.training_mode):
        d = fd.layers.Dense(3, 2, mode=mode, key=key)
        outs.append(d(None, x, fd.Context())[1])
    nb = fd.layers.Dense(3, 2, mode=fd.nonbatching_mode, key=key)
    outs.append(jax.vmap(lambda v: nb(None, v, fd.Context())[1])(x))
    assert jnp.allclose(outs[0], outs[1]) and jnp.allclose(outs[0], outs[2], atol=1e-6)
