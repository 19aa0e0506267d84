"""The record of a training run, and early stopping read from it."""

import dataclasses
import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np


class History(Mapping):
    """Per-step and per-epoch losses and metrics of a training run: a read-only
    `Mapping` from each per-epoch entry name to its per-epoch array.

    - `history.steps`: one dict per optimizer step: `{"epoch", "step", "loss", <metric>...}`
      (training batches).
    - `history.epochs`: one dict per epoch: `{"epoch", "step", "train_loss",
      "train_<metric>"..., "test_loss", "test_<metric>"..., "time_s"}`: train values are
      means over the epoch's batches, test values means over the test batches (weighted
      by batch size); `step` is the number of optimizer steps done so far.

    **Epochs count from 0:** the `"epoch"` entry, `history.epochs[i]` and
    [`funcdyn.train.Report`][]`.epoch` are 0-based indices, like Python lists. What is
    printed counts from 1: the progress bar shows `epoch e+1/num_epoch`, and so do the
    examples (`r.epoch + 1`).

    As a mapping: `history["test_loss"]` is the per-epoch array of one entry (NaN where an
    epoch lacks it); `list(history)` / `history.keys()` are the entry names in the order
    they first appear; `len(history)` is their number (not the number of epochs: that is
    `history.num_epochs`); `"test_loss" in history`; `dict(history)` gives every
    entry's array. `history.step_values("loss")` is the per-step array. `to_dict` /
    `from_dict` give a JSON-ready form (used by [`funcdyn.train.save_checkpoint`][]).

    ```python
    model, history = trainer.fit((X, Y), num_epoch=10, batch_size=32, key=key)
    history["train_loss"]          # np.ndarray of shape (10,)
    dict(history)                  # {"epoch": ..., "step": ..., "train_loss": ..., ...}
    ```
    """

    def __init__(self, steps: list[dict] | None = None, epochs: list[dict] | None = None):
        self.steps = [] if steps is None else [dict(s) for s in steps]
        self.epochs = [] if epochs is None else [dict(e) for e in epochs]

    def _names(self) -> list[str]:
        names: dict[str, None] = {}
        for e in self.epochs:
            names.update(dict.fromkeys(e))
        return list(names)

    def __getitem__(self, name: str) -> np.ndarray:
        if not isinstance(name, str) or not any(name in e for e in self.epochs):
            raise KeyError(
                f"History has no per-epoch entry {name!r}; it has {self._names()}. Per-epoch "
                "records are in `history.epochs` (a list indexed from 0)."
            )
        return np.asarray([e.get(name, math.nan) for e in self.epochs], dtype=float)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(name in e for e in self.epochs)

    def step_values(self, name: str = "loss") -> np.ndarray:
        """The per-step array of `name` (`"loss"` or a metric)."""
        if self.steps and not any(name in s for s in self.steps):
            names: dict[str, None] = {}
            for s in self.steps:
                names.update(dict.fromkeys(s))
            raise KeyError(f"History has no per-step entry {name!r}; it has {list(names)}.")
        return np.asarray([s.get(name, math.nan) for s in self.steps], dtype=float)

    @property
    def num_epochs(self) -> int:
        return len(self.epochs)

    @property
    def num_steps(self) -> int:
        return len(self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "epochs": self.epochs}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "History":
        return cls(data.get("steps"), data.get("epochs"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, History):
            return NotImplemented
        return _without_time(self.epochs) == _without_time(other.epochs) and (
            self.steps == other.steps
        )

    def __repr__(self) -> str:
        last = self.epochs[-1] if self.epochs else {}
        shown = ", ".join(
            f"{k}={v:.4g}" for k, v in last.items() if isinstance(v, float) and k != "time_s"
        )
        shown = f", {shown}" if shown else ""
        return f"History(epochs={self.num_epochs}, steps={self.num_steps}{shown})"


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _eligible(record: dict, monitor: str) -> bool:
    if monitor not in record or not _finite(record[monitor]):
        return False
    return all(_finite(record[k]) for k in ("train_loss", "test_loss") if k in record)


def _without_time(epochs):
    return [{k: v for k, v in e.items() if k != "time_s"} for e in epochs]


@dataclasses.dataclass(frozen=True)
class EarlyStopping:
    """Stops [`funcdyn.train.BPTT.fit`][] when a per-epoch entry of the history has not
    improved for `patience` epochs.

    It keeps no state: the decision is read from the history, so it survives resuming
    from a checkpoint.

    **Arguments:**

    - `monitor`: a per-epoch history entry, e.g. `"test_loss"` or `"test_accuracy"`
      (entries starting with `test_` need `test_data`).
    - `mode`: `"min"` or `"max"`; `"auto"` (default) is `"max"` for entries containing
      `"acc"`, else `"min"`.
    - `patience`: how many epochs without improvement are tolerated.
    - `min_delta`: the smallest change that counts as an improvement.
    - `restore_best`: return the model of the best epoch instead of the last one.

    A `monitor` that names no entry of the history (say `"test_acc"` for
    `"test_accuracy"`) raises a `ValueError` listing the entries there are, at the end of
    the first epoch. NaN and infinite values never count as an improvement, and an epoch
    with a non-finite loss is never the best one.
    """

    monitor: str = "test_loss"
    mode: str = "auto"
    patience: int = 5
    min_delta: float = 0.0
    restore_best: bool = True

    def __post_init__(self):
        if not isinstance(self.monitor, str) or not self.monitor:
            raise TypeError(
                f"EarlyStopping: `monitor` must be the name of a per-epoch history entry such "
                f"as 'test_loss', got {self.monitor!r}."
            )
        if self.mode not in ("auto", "min", "max"):
            raise ValueError(
                f"EarlyStopping: `mode` must be 'auto', 'min' or 'max', got {self.mode!r}."
            )
        if (
            isinstance(self.patience, bool)
            or not isinstance(self.patience, int)
            or self.patience < 0
        ):
            raise ValueError(
                f"EarlyStopping: `patience` must be an int >= 0, got {self.patience!r}."
            )
        if not self.min_delta >= 0:
            raise ValueError(f"EarlyStopping: `min_delta` must be >= 0, got {self.min_delta!r}.")

    @property
    def resolved_mode(self) -> str:
        if self.mode != "auto":
            return self.mode
        return "max" if "acc" in self.monitor else "min"

    def best_epoch(self, history: History) -> int | None:
        """The index (into `history.epochs`, from 0) of the best epoch so far, or `None`.

        Only finite values count: an epoch whose monitored value is NaN or infinite, or
        whose losses (`train_loss`, `test_loss`) are, is never the best one, so that a
        diverged model is never kept or restored (a diverged network can still score a
        finite accuracy: argmax of NaN outputs is class 0).

        **Raises:** `ValueError` when the history has epochs but none records `monitor`
        (a misspelt name), naming the entries it has.
        """
        if history.epochs and self.monitor not in history:
            available = [k for k in history.keys() if k not in ("epoch", "step", "time_s")]
            raise ValueError(
                f"EarlyStopping: monitor {self.monitor!r} is not a per-epoch entry of the "
                f"history; available: {available}. Train metrics are prefixed `train_`, "
                "test metrics `test_`."
            )
        best, best_value = None, None
        sign = 1.0 if self.resolved_mode == "min" else -1.0
        for i, record in enumerate(history.epochs):
            if not _eligible(record, self.monitor):
                continue
            v = float(record[self.monitor])
            if best_value is None or sign * (best_value - v) > self.min_delta:
                best, best_value = i, v
        return best

    @staticmethod
    def is_finite_model(model: Any) -> bool:
        """Whether every floating-point array of `model` is finite: the check a trainer
        makes before keeping a model as the best one."""
        import equinox as eqx
        import jax
        import jax.numpy as jnp

        leaves = jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_inexact_array))
        return all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in leaves)

    def should_stop(self, history: History) -> bool:
        """Whether the last `patience` epochs brought no improvement."""
        best = self.best_epoch(history)
        if best is None:
            return False
        return len(history.epochs) - 1 - best >= self.patience
