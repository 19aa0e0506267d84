"""The record of a training run, and early stopping read from it."""

import dataclasses
import math
from typing import Any

import numpy as np


class History:
    """Per-step and per-epoch losses and metrics of a training run.

    - `history.steps`: one dict per optimizer step: `{"epoch", "step", "loss", <metric>...}`
      (training batches).
    - `history.epochs`: one dict per epoch: `{"epoch", "step", "train_loss",
      "train_<metric>"..., "test_loss", "test_<metric>"..., "time_s"}`: train values are
      means over the epoch's batches, test values means over the test batches (weighted
      by batch size); `step` is the number of optimizer steps done so far.

    `history["test_loss"]` is the per-epoch array of one entry (NaN where absent) and
    `history.step_values("loss")` the per-step array; `to_dict` / `from_dict` give a
    JSON-ready form (used by [`funcdyn.train.save_checkpoint`][]).
    """

    def __init__(self, steps: list[dict] | None = None, epochs: list[dict] | None = None):
        self.steps = [] if steps is None else [dict(s) for s in steps]
        self.epochs = [] if epochs is None else [dict(e) for e in epochs]

    def __getitem__(self, name: str) -> np.ndarray:
        if not any(name in e for e in self.epochs):
            raise KeyError(f"History has no per-epoch entry {name!r}; it has {self.keys()}.")
        return np.asarray([e.get(name, math.nan) for e in self.epochs], dtype=float)

    def keys(self) -> list[str]:
        """The names of the per-epoch entries."""
        names: dict[str, None] = {}
        for e in self.epochs:
            names.update(dict.fromkeys(e))
        return list(names)

    def step_values(self, name: str = "loss") -> np.ndarray:
        """The per-step array of `name` (`"loss"` or a metric)."""
        if self.steps and not any(name in s for s in self.steps):
            raise KeyError(f"History has no per-step entry {name!r}.")
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
    """

    monitor: str = "test_loss"
    mode: str = "auto"
    patience: int = 5
    min_delta: float = 0.0
    restore_best: bool = True

    def __post_init__(self):
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
        """The index (into `history.epochs`) of the best epoch so far, or `None`."""
        values = [e.get(self.monitor) for e in history.epochs]
        best, best_value = None, None
        sign = 1.0 if self.resolved_mode == "min" else -1.0
        for i, v in enumerate(values):
            if v is None or math.isnan(v):
                continue
            if best_value is None or sign * (best_value - v) > self.min_delta:
                best, best_value = i, v
        return best

    def should_stop(self, history: History) -> bool:
        """Whether the last `patience` epochs brought no improvement."""
        best = self.best_epoch(history)
        if best is None:
            return False
        return len(history.epochs) - 1 - best >= self.patience
