"""funcdyn.data.TonicLoader on synthetic events in tonic's event dtype (nothing downloaded)."""

import builtins

import jax
import numpy as np
import optax
import pytest

pytestmark = pytest.mark.filterwarnings("ignore:TonicLoader. tonic.s ToFrame left out")

import funcdyn as fd
from funcdyn.data import TonicLoader

tonic = pytest.importorskip("tonic")

SENSOR = (5, 4, 2)  # x, y, polarity: tonic's sensor_size order
# tonic's event dtype (that of its camera datasets, e.g. N-MNIST)
EVENT_DTYPE = np.dtype(tonic.datasets.NMNIST.dtype)
CLUSTERS = [(0, 10), (1000, 1010), (2000, 2010), (2990, 3000)]  # one per time bin of 4


def _events(rng, label):
    """Events in four bursts (one per bin of 4 equal time bins); class 1 fires polarity 1."""
    parts = []
    for lo, hi in CLUSTERS:
        n = int(rng.integers(3, 8))
        ev = np.zeros(n, EVENT_DTYPE)
        ev["x"] = rng.integers(0, SENSOR[0], n)
        ev["y"] = rng.integers(0, SENSOR[1], n)
        ev["t"] = np.sort(rng.integers(lo, hi, n))
        ev["p"] = label if rng.random() < 0.9 else 1 - label
        parts.append(ev)
    ev = np.concatenate(parts)
    ev["t"][0], ev["t"][-1] = 0, 3000  # the same span in every sample
    return np.concatenate([ev, ev[-1:]])  # a last event that tonic's ToFrame leaves out


class EventDataset:
    """A tonic-style dataset: indexable, `sensor_size`, samples `(events, label)`; it
    counts what was read, to show that the loader reads one batch at a time."""

    sensor_size = SENSOR

    def __init__(self, n, seed=0):
        rng = np.random.default_rng(seed)
        self.labels = rng.integers(0, 2, n)
        self.samples = [_events(rng, int(lab)) for lab in self.labels]
        self.reads = []

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        self.reads.append(i)
        return self.samples[i], int(self.labels[i])


def _reference_frames(ev):
    ev = ev[ev["t"] < ev["t"].max()]  # half-open bins: the events at the last stamp drop out
    frames = np.zeros((4, SENSOR[2], SENSOR[1], SENSOR[0]), np.float32)  # (T, p, y, x)
    for k, (lo, hi) in enumerate(CLUSTERS):
        sel = (ev["t"] >= min(lo, 0 if k == 0 else lo)) & (ev["t"] <= max(hi, 3000 if k == 3 else hi))
        np.add.at(frames[k], (ev["p"][sel], ev["y"][sel], ev["x"][sel]), 1.0)
    return frames


def test_frames_match_an_independent_histogram():
    data = EventDataset(10)
    loader = TonicLoader(data, batch_size=4, shuffle=False, n_time_bins=4)
    with pytest.warns(UserWarning, match="ToFrame left out 2 of the [0-9]+ events of sample 0"):
        batches = list(loader())
    assert [b[0].shape for b in batches] == [(4, 4, 40), (4, 4, 40), (2, 4, 40)]
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    np.testing.assert_array_equal(y, data.labels)
    assert y.dtype == np.int32 and x.dtype == np.float32
    for i, ev in enumerate(data.samples):
        # Exact event counts per bin and pixel (tonic's layout (T, p, y, x), flattened).
        np.testing.assert_array_equal(x[i], _reference_frames(ev).reshape(4, -1))
        assert x[i].sum() == len(ev) - 2  # the two events at t = 3000
    unflat = next(TonicLoader(data, 3, shuffle=False, n_time_bins=4, flatten=False)())
    assert unflat[0].shape == (3, 4, 2, 4, 5)


def test_reads_one_batch_at_a_time_and_shuffles_reproducibly():
    data = EventDataset(9)
    loader = TonicLoader(data, batch_size=4, seed=3, n_time_bins=4, drop_last=True)
    assert len(loader) == 2
    it = loader()
    next(it)
    assert len(data.reads) == 4  # lazily: only the first batch has been read
    rest = list(it)
    assert len(rest) == 1 and len(data.reads) == 8  # drop_last: the 9th is never read
    first_epoch = data.reads[:8]
    data.reads.clear()
    list(loader())  # epoch 1: another order
    second_epoch = list(data.reads)
    assert second_epoch != first_epoch and loader.epoch == 2
    data.reads.clear()
    list(loader.batches(0))  # epoch 0 again: the same order
    assert data.reads == first_epoch
    assert set(np.random.default_rng([3, 0]).permutation(9)[:8]) == set(first_epoch)


def test_frames_datasets_and_padding():
    class Frames:
        def __init__(self, lengths):
            self.lengths = lengths

        def __len__(self):
            return len(self.lengths)

        def __getitem__(self, i):
            return np.full((self.lengths[i], 2, 3), i + 1.0), i

    x, y = next(TonicLoader(Frames([2, 3, 1]), 3, shuffle=False, num_steps=4)())
    assert x.shape == (3, 4, 6)
    # Each sequence keeps its own frames and is padded at the end with empty frames.
    for i, n in enumerate([2, 3, 1]):
        np.testing.assert_array_equal(x[i, :n], i + 1.0)
        np.testing.assert_array_equal(x[i, n:], 0.0)
    with pytest.raises(ValueError, match=r"different numbers of time steps \(\[1, 2, 3\]\).*num_steps"):
        next(TonicLoader(Frames([2, 3, 1]), 3, shuffle=False)())
    with pytest.raises(ValueError, match="sample 1 has 3 time steps, more than num_steps=2"):
        next(TonicLoader(Frames([2, 3, 1]), 3, shuffle=False, num_steps=2)())


def test_errors():
    data = EventDataset(3)
    with pytest.raises(ValueError, match="yields raw events; pass `n_time_bins=` or `time_window=`"):
        next(TonicLoader(data, 2)())
    with pytest.raises(ValueError, match="`batch_size` must be a positive int, got 0"):
        TonicLoader(data, 0)
    with pytest.raises(ValueError, match="`num_steps` must be a positive int"):
        TonicLoader(data, 2, num_steps=-1)
    with pytest.raises(ValueError, match="one of `n_time_bins` and `time_window`"):
        TonicLoader(data, 2, n_time_bins=3, time_window=100.0)
    with pytest.raises(ValueError, match="`time_window` must be > 0"):
        TonicLoader(data, 2, time_window=0.0)
    with pytest.raises(TypeError, match="`dataset` must be indexable"):
        TonicLoader(iter([]), 2)
    with pytest.raises(ValueError, match="the dataset is empty"):
        TonicLoader([], 2)
    with pytest.raises(ValueError, match="sample 0 is neither events"):
        next(TonicLoader([(np.zeros(3), 0)], 1)())

    class NoSensor(EventDataset):
        sensor_size = None

    with pytest.raises(ValueError, match="has no `sensor_size`; pass `sensor_size=`"):
        next(TonicLoader(NoSensor(2), 2, n_time_bins=4)())
    x, _ = next(TonicLoader(NoSensor(2), 2, n_time_bins=4, sensor_size=SENSOR)())
    assert x.shape == (2, 4, 40)


def test_missing_tonic_is_a_clear_error(monkeypatch):
    real_import = builtins.__import__

    def no_tonic(name, *args, **kwargs):
        if name == "tonic" or name.startswith("tonic."):
            raise ImportError("No module named 'tonic'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tonic)
    with pytest.raises(ImportError, match="needs tonic: `pip install tonic`"):
        next(TonicLoader(EventDataset(2), 2, n_time_bins=4)())


@pytest.mark.standard_promotion
def test_fit_trains_on_the_loader():
    # Class = the dominant polarity: a linear readout of the summed frames separates it.
    train_set, test_set = EventDataset(48, seed=1), EventDataset(24, seed=2)
    model = fd.layers.Dense(40, 2, mode=fd.training_mode, key=jax.random.key(0))
    loss = fd.train.sequence_loss(fd.losses.cross_entropy_last_step, dt=1.0,
                                  metrics={"accuracy": fd.losses.accuracy_last_step})
    trainer = fd.train.BPTT(model, loss, optax.adam(5e-2))
    _, history = trainer.fit(
        TonicLoader(train_set, 16, n_time_bins=4, seed=0), num_epoch=4, key=jax.random.key(1),
        test_data=TonicLoader(test_set, 24, shuffle=False, n_time_bins=4), progress=False,
    )
    assert history.num_epochs == 4 and history.num_steps == 12
    assert history["train_loss"][-1] < history["train_loss"][0]
    # 90% of each sample's events carry its class's polarity: the last bin alone separates
    # the classes well above chance (0.5).
    assert history["test_accuracy"][-1] >= 0.8
