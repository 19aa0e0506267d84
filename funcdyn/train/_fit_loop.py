"""The epoch loop that every trainer's `fit` shares: where a run starts (fresh or from a
checkpoint), the batches of each epoch, the progress bar, the history, test scores,
early stopping, checkpoints and callbacks. A trainer supplies only how one batch is
trained, how a data source is scored and what it checks on the first batch."""

import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jaxtyping import PRNGKeyArray

from ._checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from ._data import DataSource, batch_size_of
from ._distributed import on_main_process
from ._history import EarlyStopping, History
from ._step import NonFiniteError


@dataclasses.dataclass(frozen=True)
class Report:
    """What a callback of [`funcdyn.train.BPTT.fit`][] receives after each epoch."""

    epoch: int
    step: int
    model: Any
    opt_state: Any
    metrics: dict[str, float]
    history: History


class FitStart(NamedTuple):
    """Where a run starts: a fresh model, or a checkpoint's model and counters."""

    model: Any
    opt_state: Any
    step: int
    epoch: int
    history: History
    key: PRNGKeyArray | None
    # The data the checkpointed run was made with (`DataSource.signature`), if known.
    data: dict | None


def copy_arrays(tree: Any) -> Any:
    return jtu.tree_map(lambda a: jnp.array(a, copy=True) if eqx.is_array(a) else a, tree)


def fit_start(resume: Any, model: Any, fresh_opt_state: Callable[[Any], Any],
              key: PRNGKeyArray | None, *, copy: bool) -> FitStart:
    """The start of a run: `model` and `fresh_opt_state(model)`, or the checkpoint
    `resume` (a path or a loaded [`funcdyn.train.Checkpoint`][]). With `copy` (a trainer
    that donates its buffers) the arrays are copied, so a caller's `Checkpoint` or model
    is never consumed."""
    if resume is None:
        if copy:
            model = copy_arrays(model)
        return FitStart(model, fresh_opt_state(model), 0, 0, History(), key, None)
    ckpt = resume
    if not isinstance(ckpt, Checkpoint):
        ckpt = load_checkpoint(resume, model=model, opt_state=fresh_opt_state(model))
    model, opt_state = ckpt.model, ckpt.opt_state
    if copy:
        model, opt_state = copy_arrays(model), copy_arrays(opt_state)
    key = ckpt.key if ckpt.key is not None else key
    return FitStart(model, opt_state, ckpt.step, ckpt.epoch, ckpt.history, key, ckpt.data)


def check_resumable(saved: dict | None, current: dict) -> None:
    """Refuses to resume a run on other data than it was checkpointed with: a resumed run
    equals an uninterrupted one only when every epoch has the same batches."""
    if saved is None:
        return  # a checkpoint saved by hand, without a record of its data
    differ = [
        f"{name} {saved[name]!r} in the checkpoint, {current[name]!r} now"
        for name in current
        if name in saved and saved[name] != current[name]
    ]
    if differ:
        raise ValueError(
            "fit: cannot resume: the checkpoint was made on other training data ("
            + "; ".join(differ)
            + "). Resuming continues the same run, so it needs the same data, batch size "
            "and batching options; to train further on new data, load the model with "
            "funcdyn.train.load_checkpoint and start a new fit without `resume`."
        )


class FitKeys:
    """The keys of a run, derived from its root so that a resumed run draws the same
    numbers as an uninterrupted one: epoch `e` shuffles with `shuffle(e)`, step `s`
    trains with `step(s)`, epoch `e` tests with `test(e)`."""

    def __init__(self, key: PRNGKeyArray | None):
        self.roots = [None if key is None else jax.random.fold_in(key, i) for i in range(3)]

    def _derive(self, which: int, i: int):
        root = self.roots[which]
        return None if root is None else jax.random.fold_in(root, i)

    def shuffle(self, epoch: int):
        return self._derive(0, epoch)

    def step(self, step: int):
        return self._derive(1, step)

    def test(self, epoch: int):
        return self._derive(2, epoch)


# `(model, opt_state, batch, key) -> (model, opt_state, loss, aux, counters)`: `counters`
# are per-batch integers summed into the epoch's record (e.g. skipped updates).
TrainBatch = Callable[[Any, Any, Any, Any], tuple[Any, Any, Any, dict, dict[str, Any]]]


def fit_loop(
    start: FitStart,
    train: DataSource,
    test: DataSource | None,
    *,
    num_epoch: int,
    shuffle: bool,
    progress: bool | None,
    callbacks: Sequence[Callable[[Report], Any]],
    early_stopping: EarlyStopping | None,
    checkpoint_path: str | None,
    checkpoint_every: int,
    train_batch: TrainBatch,
    evaluate: Callable[[Any, DataSource, Any], dict[str, float]],
    check_first: Callable[[Any, Any, Any], None],
    copy_best: bool,
) -> tuple[Any, History]:
    """Runs epochs `start.epoch` to `num_epoch - 1` and returns `(model, history)` (the
    best model with `early_stopping.restore_best`)."""
    model, opt_state, step, start_epoch, history, key, saved_data = start
    if key is None and shuffle and train.arrays is not None:
        raise ValueError("fit: pass `key=jax.random.key(...)`: it shuffles the data.")
    keys = FitKeys(key)
    if progress is None:
        progress = sys.stderr.isatty()
    data = None
    best_model = model
    for epoch in range(start_epoch, num_epoch):
        started = time.perf_counter()
        first, batches = train.peek(keys.shuffle(epoch))
        if epoch == start_epoch:
            data = train.signature(first)
            check_resumable(saved_data, data)
            check_first(model, first, keys.step(step))
        bar = _progress_bar(progress, train.num_batches, epoch, num_epoch)
        model, opt_state, step, losses, auxes, sizes, counters = _train_epoch(
            train_batch, model, opt_state, step, epoch, batches, keys, bar
        )
        record = _record_epoch(history, epoch, step, losses, auxes, sizes, counters, test,
                               evaluate, model, keys, started, bar)
        if (
            early_stopping is not None
            and early_stopping.restore_best
            and early_stopping.best_epoch(history) == len(history.epochs) - 1
            and EarlyStopping.is_finite_model(model)
        ):
            # A copy: with donation the next step reuses the buffers of `model`.
            best_model = copy_arrays(model) if copy_best else model
        last = epoch == num_epoch - 1
        if checkpoint_path is not None and ((epoch + 1) % checkpoint_every == 0 or last):
            # Written once, by process 0, on a multi-process run; every process waits.
            on_main_process(lambda: save_checkpoint(
                checkpoint_path, model=model, opt_state=opt_state, step=step,
                epoch=epoch + 1, key=key, history=history, data=data,
            ), name=f"funcdyn-checkpoint:{checkpoint_path}:{epoch}")
        report = Report(epoch, step, model, opt_state, dict(record), history)
        stop = any([cb(report) is True for cb in callbacks])
        if stop or (early_stopping is not None and early_stopping.should_stop(history)):
            break
    if early_stopping is not None and early_stopping.restore_best:
        if early_stopping.best_epoch(history) is not None:
            model = best_model
    return model, history


def _train_epoch(train_batch, model, opt_state, step, epoch, batches, keys, bar):
    """One pass over the batches; the losses stay on the device until the epoch ends
    (the bar reads them at most four times a second)."""
    losses, auxes, sizes, counters = [], [], [], []
    last_refresh = 0.0
    for batch in batches:
        try:
            model, opt_state, loss, aux, counted = train_batch(
                model, opt_state, batch, keys.step(step)
            )
        except NonFiniteError as err:
            if bar is not None:
                bar.close()
            raise NonFiniteError(
                f"fit: epoch {epoch}, step {step}: {err}", model=err.model,
                opt_state=err.opt_state, leaves=err.leaves, step=step, epoch=epoch,
            ) from None
        step += 1
        losses.append(loss)
        auxes.append(aux)
        sizes.append(batch_size_of(batch))
        counters.append(counted)
        if bar is not None:
            bar.update(1)
            now = time.perf_counter()
            if now - last_refresh > 0.25:
                last_refresh = now
                bar.set_postfix(_running(losses, auxes, sizes), refresh=False)
    return model, opt_state, step, losses, auxes, sizes, counters


def _record_epoch(history, epoch, step, losses, auxes, sizes, counters, test, evaluate,
                  model, keys, started, bar) -> dict[str, Any]:
    """Appends the per-step and per-epoch records (train means, counters, test scores,
    time)."""
    losses, auxes, counters = jax.device_get((losses, auxes, counters))
    first_step = step - len(losses)
    for i, (loss, aux) in enumerate(zip(losses, auxes)):
        history.steps.append(
            {"epoch": epoch, "step": first_step + i, "loss": float(loss),
             **{k: float(v) for k, v in aux.items()}}
        )
    record = {"epoch": epoch, "step": step}
    record.update({f"train_{k}": v for k, v in _weighted_mean(losses, auxes, sizes).items()})
    if test is not None:
        scores = evaluate(model, test, keys.test(epoch))
        record.update({f"test_{k}": v for k, v in scores.items()})
    for name in counters[0] if counters else {}:
        record[name] = int(sum(int(c[name]) for c in counters))
    record["time_s"] = time.perf_counter() - started
    history.epochs.append(record)
    if bar is not None:
        bar.set_postfix(
            {k: f"{v:.4g}" for k, v in record.items() if k not in ("epoch", "step", "time_s")}
        )
        bar.close()
    return record


def check_fit_arguments(num_epoch, checkpoint_every, callbacks, early_stopping,
                        test_data) -> None:
    """The checks of `fit`'s counters, callbacks and early stopping (every trainer's)."""
    if not _positive_int(num_epoch):
        raise ValueError(f"fit: `num_epoch` must be a positive int, got {num_epoch!r}.")
    if not _positive_int(checkpoint_every):
        raise ValueError(
            f"fit: `checkpoint_every` must be a positive int, got {checkpoint_every!r}."
        )
    for cb in callbacks:
        if not callable(cb):
            raise TypeError(f"fit: callbacks must be callable, got {cb!r}.")
    if early_stopping is not None:
        if not isinstance(early_stopping, EarlyStopping):
            raise TypeError("fit: `early_stopping` must be a funcdyn.train.EarlyStopping.")
        if early_stopping.monitor.startswith("test_") and test_data is None:
            raise ValueError(
                f"fit: early stopping monitors {early_stopping.monitor!r}, which needs "
                "`test_data`."
            )


def fit_data_sources(train_data, test_data, batch_size, test_batch_size, shuffle,
                     drop_last, num_epoch, check_finite):
    """The training and test data as batch sources, checked before compiling."""
    train = DataSource(
        train_data, name="train_data", batch_size=batch_size, shuffle=shuffle,
        drop_last=drop_last, num_epoch=num_epoch, check_finite=check_finite,
    )
    test = None
    if test_data is not None:
        test = DataSource(
            test_data, name="test_data",
            batch_size=test_batch_size if test_batch_size is not None else batch_size,
            shuffle=False, drop_last=False, num_epoch=num_epoch, check_finite=check_finite,
            shrink_batch=test_batch_size is None,
        )
    return train, test


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def evaluation_source(data: Any, batch_size: int | None, check_finite: bool) -> DataSource:
    """The data of a trainer's `evaluate`, in order; array data default to one batch."""
    if batch_size is None and isinstance(data, tuple) and len(data) == 2:
        leaves = jtu.tree_leaves(data[0])
        batch_size = int(np.shape(leaves[0])[0]) if leaves else None
    return DataSource(data, name="data", batch_size=batch_size, shuffle=False,
                      drop_last=False, num_epoch=1, check_finite=check_finite)


def mean_over_samples(source: DataSource, key: PRNGKeyArray | None,
                      score: Callable[[Any, Any], tuple[Any, dict]]) -> dict[str, float]:
    """`{"loss": ..., <metric>: ...}`: `score(batch, key_i) -> (loss, metrics)` over the
    batches of `source` (batch `i` gets `fold_in(key, i)`), averaged over the samples;
    read from the device once."""
    totals: dict[str, Any] = {}
    count = 0
    for i, batch in enumerate(source.epoch(None)):
        k = None if key is None else jax.random.fold_in(key, i)
        loss, aux = score(batch, k)
        n = batch_size_of(batch)
        for name, value in {"loss": loss, **aux}.items():
            totals[name] = totals.get(name, 0.0) + n * value
        count += n
    if count == 0:
        raise ValueError(f"{source.name} holds no batches.")
    return {name: float(value) / count for name, value in jax.device_get(totals).items()}


def _weighted_mean(losses, auxes, sizes) -> dict[str, float]:
    total = float(sum(sizes))
    out = {"loss": sum(float(v) * n for v, n in zip(losses, sizes)) / total}
    for name in auxes[0] if auxes else {}:
        out[name] = sum(float(a[name]) * n for a, n in zip(auxes, sizes)) / total
    return out


def _running(losses, auxes, sizes) -> dict[str, str]:
    values = _weighted_mean(*jax.device_get((losses, auxes)), sizes)
    return {k: f"{v:.4g}" for k, v in values.items()}


def _progress_bar(progress: bool, total: int | None, epoch: int, num_epoch: int):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"epoch {epoch + 1}/{num_epoch}", unit="batch", leave=True)
