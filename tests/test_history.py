"""History is a read-only Mapping; EarlyStopping refuses unknown monitors and never picks a
non-finite epoch."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

import funcdyn as fd
from funcdyn.train import EarlyStopping, History


def _history(values, name="test_loss", train=None):
    epochs = []
    for i, v in enumerate(values):
        record = {"epoch": i, "step": 3 * (i + 1), "train_loss": 1.0 if train is None else train[i]}
        if v is not None:
            record[name] = v
        record["time_s"] = 0.1
        epochs.append(record)
    steps = [{"epoch": i // 3, "step": i, "loss": 1.0 / (i + 1)} for i in range(3 * len(values))]
    return History(steps, epochs)


def test_history_is_a_read_only_mapping():
    h = _history([0.5, 0.4, None])
    assert list(h) == ["epoch", "step", "train_loss", "test_loss", "time_s"]
    assert len(h) == 5 and h.num_epochs == 3 and h.num_steps == 9
    assert "test_loss" in h and "test_accuracy" not in h and 0 not in h
    d = dict(h)
    assert set(d) == set(h.keys())
    np.testing.assert_array_equal(d["epoch"], [0.0, 1.0, 2.0])  # epochs count from 0
    np.testing.assert_array_equal(d["test_loss"][:2], [0.5, 0.4])
    assert math.isnan(d["test_loss"][2])  # absent in epoch 2: NaN, not dropped
    np.testing.assert_allclose(h.step_values("loss"), 1.0 / np.arange(1, 10))
    assert dict(h.items())["step"].tolist() == [3.0, 6.0, 9.0]
    with pytest.raises(TypeError):
        h["x"] = 1  # read-only
    with pytest.raises(KeyError, match=r"no per-epoch entry 0; it has \['epoch'"):
        h[0]
    with pytest.raises(KeyError, match="no per-epoch entry 'test_acc'.*'test_loss'"):
        h["test_acc"]
    with pytest.raises(KeyError, match="no per-step entry 'accuracy'; it has"):
        h.step_values("accuracy")
    assert History.from_dict(h.to_dict()) == h
    assert list(History()) == [] and len(History()) == 0


def test_early_stopping_unknown_monitor_names_the_available_entries():
    h = _history([0.5, 0.4], name="test_accuracy")
    stop = EarlyStopping(monitor="test_acc")
    with pytest.raises(ValueError, match=r"'test_acc'.*available: \['train_loss', 'test_accuracy'\]"):
        stop.best_epoch(h)
    assert stop.best_epoch(History()) is None  # nothing recorded yet: nothing to check
    with pytest.raises(TypeError, match="`monitor` must be the name"):
        EarlyStopping(monitor="")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_early_stopping_never_picks_a_non_finite_value(bad):
    # "max" mode: +inf would otherwise be the best accuracy, "min" mode -inf the best loss.
    assert EarlyStopping(monitor="test_accuracy").best_epoch(
        _history([0.5, bad, 0.6, 0.55], name="test_accuracy")) == 2
    assert EarlyStopping(monitor="test_loss").best_epoch(_history([0.5, bad, 0.6])) == 0
    # A finite accuracy from a diverged model (its train loss is NaN) is not the best.
    h = _history([0.5, 0.9, 0.6], name="test_accuracy", train=[1.0, bad, 0.8])
    assert EarlyStopping(monitor="test_accuracy").best_epoch(h) == 2
    # Only non-finite values: no best epoch, and no stopping on them.
    stop = EarlyStopping(monitor="test_loss", patience=0)
    assert stop.best_epoch(_history([bad, bad])) is None
    assert not stop.should_stop(_history([bad, bad]))


def test_early_stopping_patience_and_min_delta():
    stop = EarlyStopping(monitor="test_loss", patience=2, min_delta=0.05)
    h = _history([1.0, 0.97, 0.9, 0.88, 0.87])  # 0.97 and 0.88/0.87 are within min_delta
    assert stop.best_epoch(h) == 2
    assert stop.should_stop(h)
    assert not stop.should_stop(_history([1.0, 0.97, 0.9, 0.88]))


def test_is_finite_model(getkey):
    layer = fd.layers.Dense(3, 2, key=getkey())
    assert EarlyStopping.is_finite_model(layer)
    broken = fd.layers.Dense(3, 2, W_initializer=jnp.full((3, 2), jnp.nan), key=getkey())
    assert not EarlyStopping.is_finite_model(broken)
