"""Training data: validation and batching of arrays, batch iterables and batch factories.

Convention: data are batch-major. Arrays `(X, Y)` hold `num_samples` examples on their
first axis, and a sequence input is `X: (num_samples, T, ...)`. A batch is `(x, y)` with
`x: (batch, T, ...)` and `y: (batch, ...)`.
"""

import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jaxtyping import PRNGKeyArray

Batch = tuple[Any, Any]


def _is_array(x: Any) -> bool:
    return isinstance(x, (np.ndarray, jax.Array))


def _is_array_tree(x: Any) -> bool:
    """An array, or a dict of arrays: the forms `X` and `Y` may take."""
    if _is_array(x):
        return True
    return isinstance(x, dict) and bool(x) and all(_is_array(v) for v in jtu.tree_leaves(x))


def is_array_data(data: Any) -> bool:
    """Whether `data` is an `(X, Y)` pair of arrays (rather than a collection of batches)."""
    return (
        isinstance(data, tuple) and len(data) == 2 and all(_is_array_tree(d) for d in data)
    )


def _shapes(tree: Any) -> str:
    shapes = [tuple(np.shape(a)) for a in jtu.tree_leaves(tree)]
    return str(shapes[0]) if len(shapes) == 1 else str(shapes)


def check_batch(batch: Any, *, name: str, what: str, check_finite: bool) -> Batch:
    """Validates one `(x, y)` pair (a batch, or the whole `(X, Y)` arrays): `x` and `y`
    agree on their first axis, `x` has a time axis, and `x` (and `y`) hold no NaN or inf.
    Raises a `ValueError` naming `name` (e.g. `train_data`) otherwise."""
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        raise ValueError(
            f"{name}: each {what} must be a pair (x, y); got {type(batch).__name__}"
            + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
            + "."
        )
    x, y = batch
    x_leaves, y_leaves = jtu.tree_leaves(x), jtu.tree_leaves(y)
    if not x_leaves:
        raise ValueError(f"{name}: the inputs x of a {what} hold no arrays.")
    for leaf in x_leaves + y_leaves:
        if not hasattr(leaf, "shape") or not hasattr(leaf, "dtype"):
            raise TypeError(
                f"{name}: x and y must be arrays (numpy or jax), got {type(leaf).__name__}."
            )
    for leaf in x_leaves:
        if leaf.ndim < 2:
            raise ValueError(
                f"{name}: inputs must be batch-major sequences (num_samples, T, ...) with "
                f"at least 2 axes; got x of shape {tuple(leaf.shape)}. Add the time axis "
                "(x[:, None]) for a single step."
            )
    lengths = {int(leaf.shape[0]) for leaf in x_leaves}
    y_lengths = {int(np.shape(leaf)[0]) if np.ndim(leaf) else -1 for leaf in y_leaves}
    if len(lengths) != 1:
        raise ValueError(f"{name}: the inputs x disagree on the number of samples: {_shapes(x)}.")
    (n,) = lengths
    if y_lengths and y_lengths != {n}:
        raise ValueError(
            f"{name}: x has {n} samples but y has "
            f"{', '.join(str(v) for v in sorted(y_lengths))} (x {_shapes(x)}, y "
            f"{_shapes(y)}); the first axis of x and y counts the samples and they must "
            "match."
        )
    if check_finite:
        for label, tree in (("x", x), ("y", y)):
            for leaf in jtu.tree_leaves(tree):
                if not jnp.issubdtype(leaf.dtype, jnp.inexact):
                    continue
                finite = np.isfinite(np.asarray(leaf)).reshape(leaf.shape[0], -1).all(axis=1)
                if not finite.all():
                    bad = int(np.argmin(finite))
                    raise ValueError(
                        f"{name}: {label} contains NaN or inf (first in sample {bad} of "
                        f"this {what}); clean the data or pass check_finite=False."
                    )
    return x, y


def batch_size_of(batch: Batch) -> int:
    return int(jtu.tree_leaves(batch[0])[0].shape[0])


def _take(tree: Any, index: np.ndarray) -> Any:
    def take(a):
        if isinstance(a, np.ndarray):
            return a[index]
        return jnp.take(a, jnp.asarray(index), axis=0)

    return jtu.tree_map(take, tree)


class DataSource:
    """Batches of one data argument of `fit` (`train_data` or `test_data`), epoch by epoch.

    - `(X, Y)` arrays: shuffled (with the epoch's key) and cut into batches of
      `batch_size`; the last, shorter batch is kept unless `drop_last`.
    - a sequence of `(x, y)` batches (list, tuple...): re-iterated every epoch.
    - a callable: called with no arguments at the start of every epoch, it returns an
      iterable of `(x, y)` batches.
    - a one-shot iterator (a generator): allowed for a single epoch only.
    """

    def __init__(
        self,
        data: Any,
        *,
        name: str,
        batch_size: int | None,
        shuffle: bool,
        drop_last: bool,
        num_epoch: int,
        check_finite: bool,
        shrink_batch: bool = False,
    ):
        self.name = name
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.check_finite = check_finite
        self.arrays: Batch | None = None
        self.factory: Callable[[], Iterable] | None = None
        self.sequence: Iterable | None = None
        if isinstance(data, (str, bytes, os.PathLike)):
            raise TypeError(
                f"{name} must be a pair of arrays (X, Y), an iterable of (x, y) batches or a "
                f"function returning one; got the path {data!r} (load the arrays first)."
            )
        if is_array_data(data):
            self.arrays = check_batch(
                data, name=name, what="(X, Y) pair", check_finite=check_finite
            )
            n = batch_size_of(self.arrays)
            if batch_size is None:
                raise ValueError(
                    f"{name} is given as arrays (X, Y): pass `batch_size` to cut it into "
                    "batches."
                )
            if (
                isinstance(batch_size, bool)
                or not isinstance(batch_size, (int, np.integer))
                or batch_size < 1
            ):
                raise ValueError(f"fit: `batch_size` must be a positive int, got {batch_size!r}.")
            if batch_size > n and shrink_batch:
                # An evaluation set smaller than the training batch is evaluated whole.
                batch_size = n
            if batch_size > n:
                raise ValueError(
                    f"{name}: batch_size={batch_size} exceeds the {n} samples; use a "
                    f"batch_size <= {n}."
                )
            self.num_samples = n
            self.batch_size = int(batch_size)
        elif callable(data) and not _is_array_tree(data):
            self.factory = data
        elif isinstance(data, Iterable) and not _is_array_tree(data):
            if iter(data) is data and num_epoch > 1:
                raise ValueError(
                    f"{name} is a one-shot iterator (e.g. a generator): it would be empty "
                    f"after the first of {num_epoch} epochs. Pass a list of (x, y) batches, "
                    "or a function returning a fresh iterable (called every epoch)."
                )
            self.sequence = data
        else:
            raise TypeError(
                f"{name} must be a pair of arrays (X, Y) with X: (num_samples, T, ...), an "
                "iterable of (x, y) batches, or a function returning one; got "
                f"{type(data).__name__}."
            )

    @property
    def num_batches(self) -> int | None:
        """Batches per epoch, when known in advance."""
        if self.arrays is not None:
            full, rest = divmod(self.num_samples, self.batch_size)
            return full + (1 if rest and not self.drop_last else 0)
        if self.sequence is not None and hasattr(self.sequence, "__len__"):
            return len(self.sequence)  # type: ignore[arg-type]
        return None

    def epoch(self, key: PRNGKeyArray | None) -> Iterator[Batch]:
        """The batches of one epoch; `key` shuffles array data."""
        if self.arrays is not None:
            return self._array_batches(key)
        source = self.factory() if self.factory is not None else self.sequence
        if not isinstance(source, Iterable):
            raise TypeError(
                f"{self.name}: the data function must return an iterable of (x, y) batches, "
                f"got {type(source).__name__}."
            )
        return self._checked(source)

    def _checked(self, source: Iterable) -> Iterator[Batch]:
        for batch in source:
            yield check_batch(
                batch, name=self.name, what="batch", check_finite=self.check_finite
            )

    def _array_batches(self, key) -> Iterator[Batch]:
        n, b = self.num_samples, self.batch_size
        if self.shuffle:
            if key is None:
                raise ValueError(f"{self.name}: shuffling needs a key.")
            order = np.asarray(jax.random.permutation(key, n))
        else:
            order = np.arange(n)
        stop = n - n % b if self.drop_last else n
        for start in range(0, stop, b):
            yield _take(self.arrays, order[start : start + b])

    def signature(self, first: Batch) -> dict[str, Any]:
        """What a resumed run must share with the run it continues (see
        `fit(resume=...)`): the global batch size and sample count (summed over the
        processes of a multi-process run, so a run may resume on another process count),
        the batching options and the per-sample shapes of `x` (its time length among
        them), taken from the epoch's `first` batch."""
        processes = jax.process_count()
        x_leaves = jtu.tree_leaves(first[0])
        out: dict[str, Any] = {
            "batch_size": batch_size_of(first) * processes,
            "sample_shapes": [list(np.shape(leaf)[1:]) for leaf in x_leaves],
        }
        if self.arrays is not None:
            out.update(num_samples=self.num_samples * processes, shuffle=self.shuffle,
                       drop_last=self.drop_last)
        if self.num_batches is not None:
            out["num_batches"] = self.num_batches
        return out

    def peek(self, key) -> tuple[Batch, Iterator[Batch]]:
        """The first batch of an epoch and an iterator over the whole epoch (the first
        batch included), so that it can be inspected before training starts."""
        it = self.epoch(key)
        try:
            first = next(it)
        except StopIteration:
            raise ValueError(f"{self.name} holds no batches.") from None
        return first, itertools.chain([first], it)
