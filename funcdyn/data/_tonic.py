"""A tonic dataset as a stream of `(x, y)` batches, loaded one batch at a time."""

import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np


def _import_tonic():
    try:
        import tonic
    except ImportError as err:
        raise ImportError(
            "funcdyn.data.TonicLoader(n_time_bins=... / time_window=...) builds a "
            "tonic.transforms.ToFrame and needs tonic: `pip install tonic`. (A dataset "
            "whose samples are already frames needs no tonic.)"
        ) from err
    return tonic


def _is_events(sample: Any) -> bool:
    return isinstance(sample, np.ndarray) and sample.dtype.names is not None and "t" in sample.dtype.names


class TonicLoader:
    """Turns a tonic dataset (or any indexable dataset of `(sample, label)` pairs) into
    the batches that [`funcdyn.train.BPTT.fit`][] takes, reading only one batch of
    samples at a time: the dataset is never copied into memory whole.

    Each call `loader()` returns an iterator over one epoch of `(x, y)` batches, so the
    loader is passed to `fit` as the batch factory it calls at every epoch:

    ```python
    import tonic
    train_set = tonic.datasets.NMNIST("data", train=True)   # events, sensor 34 x 34 x 2
    loader = funcdyn.data.TonicLoader(train_set, batch_size=64, n_time_bins=30, seed=0)
    model, history = trainer.fit(loader, num_epoch=5, key=key)
    ```

    - `x`: `(batch, T, features)` float frames, the batch-major sequences `fit` expects
      (`features = prod(frame shape)` with `flatten=True`, else `(batch, T, *frame)`).
    - `y`: `(batch,)` int32 labels.

    **Samples.** A sample may be raw events, a NumPy structured array with fields such
    as `x, y, t, p` (tonic's event dtype); they are turned into frames with
    `tonic.transforms.ToFrame(sensor_size, n_time_bins=...)` or `(..., time_window=...)`
    (tonic is imported then, with a clear message if it is missing; `sensor_size`
    defaults to the dataset's `sensor_size`). tonic's `ToFrame` bins are half-open, so
    with `n_time_bins` the events at a sample's last time stamp are left out: the loader
    counts them and warns once. A sample may also already be frames
    `(T, *frame)`, e.g. from a dataset built with `transform=ToFrame(...)`.

    **Lengths.** All sequences of a batch must have the same number of steps `T`. With a
    fixed `n_time_bins` they do. With a `time_window` they do not: pass `num_steps`, and
    shorter sequences are padded at the end with empty frames (no events), the way a
    recording that stopped early looks; a longer one raises a `ValueError` naming the
    sample (nothing is cut silently).

    **Arguments:**

    - `dataset`: indexable (`len(dataset)`, `dataset[i] -> (sample, label)`), e.g. a
      `tonic.datasets.*` instance or a `tonic.DiskCachedDataset` around one.
    - `batch_size`: samples per batch.
    - `shuffle`: a new order each epoch, drawn from `seed` and the epoch number (so a
      run is reproducible; the `e`-th call uses epoch `e`, counted from 0).
    - `seed`: the seed of the shuffling.
    - `drop_last`: drop the last, smaller batch.
    - `n_time_bins`, `time_window`, `sensor_size`: the `ToFrame` for event samples (one of
      `n_time_bins` / `time_window`).
    - `num_steps`: pad every sequence to this many steps (see **Lengths**).
    - `flatten`: flatten each frame to a feature vector (default `True`).
    - `dtype`: of `x` (default float32).
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        n_time_bins: int | None = None,
        time_window: float | None = None,
        sensor_size: Sequence[int] | None = None,
        num_steps: int | None = None,
        flatten: bool = True,
        dtype: Any = np.float32,
    ):
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(
                "TonicLoader: `dataset` must be indexable (len(dataset), dataset[i] -> "
                f"(sample, label)), such as a tonic dataset; got {type(dataset).__name__}."
            )
        for name, value in (("batch_size", batch_size), ("num_steps", num_steps),
                            ("n_time_bins", n_time_bins)):
            if value is None and name != "batch_size":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"TonicLoader: `{name}` must be a positive int, got {value!r}.")
        if n_time_bins is not None and time_window is not None:
            raise ValueError("TonicLoader: pass one of `n_time_bins` and `time_window`, not both.")
        if time_window is not None and not time_window > 0:
            raise ValueError(f"TonicLoader: `time_window` must be > 0, got {time_window!r}.")
        if len(dataset) == 0:
            raise ValueError("TonicLoader: the dataset is empty.")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle, self.seed, self.drop_last = shuffle, seed, drop_last
        self.n_time_bins, self.time_window = n_time_bins, time_window
        self.sensor_size = sensor_size
        self.num_steps, self.flatten, self.dtype = num_steps, flatten, np.dtype(dtype)
        self.epoch = 0
        self._to_frame: Callable | None = None
        self._warned = False

    def __len__(self) -> int:
        """The number of batches per epoch."""
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _frames(self, sample: Any, index: int) -> np.ndarray:
        if _is_events(sample):
            if self._to_frame is None:
                self._to_frame = self._make_to_frame()
            num_events = len(sample)
            sample = self._to_frame(sample)
            dropped = num_events - int(np.sum(sample))
            if dropped > 0 and not self._warned:
                # tonic's ToFrame bins are half-open: with n_time_bins, the events at the
                # last time stamp fall outside every bin.
                self._warned = True
                warnings.warn(
                    f"TonicLoader: tonic's ToFrame left out {dropped} of the {num_events} "
                    f"events of sample {index} (its time bins are half-open, so events at the "
                    "last time stamp fall outside them); said once per loader.",
                    stacklevel=3,
                )
        frames = np.asarray(sample)
        if frames.dtype.names is not None or frames.ndim < 2:
            raise ValueError(
                f"TonicLoader: sample {index} is neither events (a structured array with a "
                f"`t` field) nor frames (T, *frame); got shape {frames.shape}, dtype "
                f"{frames.dtype}."
            )
        return frames

    def _make_to_frame(self) -> Callable:
        if self.n_time_bins is None and self.time_window is None:
            raise ValueError(
                "TonicLoader: the dataset yields raw events; pass `n_time_bins=` or "
                "`time_window=` to turn them into frames (or build the dataset with "
                "transform=tonic.transforms.ToFrame(...))."
            )
        sensor_size = self.sensor_size
        if sensor_size is None:
            sensor_size = getattr(self.dataset, "sensor_size", None)
        if sensor_size is None:
            raise ValueError(
                "TonicLoader: the dataset has no `sensor_size`; pass `sensor_size=` "
                "(e.g. (34, 34, 2) for N-MNIST)."
            )
        tonic = _import_tonic()
        kwargs = ({"n_time_bins": self.n_time_bins} if self.n_time_bins is not None
                  else {"time_window": self.time_window})
        return tonic.transforms.ToFrame(sensor_size=tuple(sensor_size), **kwargs)

    def _batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        frames, labels = [], []
        for i in indices:
            sample, label = self.dataset[int(i)]
            frames.append(self._frames(sample, int(i)))
            labels.append(label)
        shapes = {f.shape[1:] for f in frames}
        if len(shapes) != 1:
            raise ValueError(f"TonicLoader: samples {list(indices)} have different frame shapes {shapes}.")
        lengths = [f.shape[0] for f in frames]
        steps = self.num_steps
        if steps is None:
            if len(set(lengths)) != 1:
                raise ValueError(
                    f"TonicLoader: the samples of a batch have different numbers of time steps "
                    f"({sorted(set(lengths))}); use a fixed `n_time_bins`, or pass `num_steps` "
                    "to pad them to one length."
                )
            steps = lengths[0]
        for i, n in zip(indices, lengths):
            if n > steps:
                raise ValueError(
                    f"TonicLoader: sample {int(i)} has {n} time steps, more than "
                    f"num_steps={steps}; raise `num_steps` (nothing is cut silently)."
                )
        x = np.zeros((len(frames), steps, *frames[0].shape[1:]), self.dtype)
        for row, f in zip(x, frames):
            row[: f.shape[0]] = f
        if self.flatten:
            x = x.reshape(x.shape[0], steps, -1)
        return x, np.asarray(labels, dtype=np.int32)

    def __call__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The batches of the next epoch; the epoch counter `loader.epoch` advances by one
        at each call (set it to resume a run at a given epoch)."""
        epoch, self.epoch = self.epoch, self.epoch + 1
        return self.batches(epoch)

    def batches(self, epoch: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The batches of epoch `epoch` (from 0), read lazily: one batch of samples is
        loaded at a time."""
        n = len(self.dataset)
        order = np.arange(n)
        if self.shuffle:
            order = np.random.default_rng([self.seed, epoch]).permutation(n)
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            yield self._batch(order[start : start + self.batch_size])

    def __repr__(self) -> str:
        return (
            f"TonicLoader({type(self.dataset).__name__}, samples={len(self.dataset)}, "
            f"batch_size={self.batch_size}, batches={len(self)}, shuffle={self.shuffle})"
        )
