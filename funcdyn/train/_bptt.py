"""BPTT: `fit` / `predict` conveniences over the jitted step, on optax."""

import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
import optax
from jaxtyping import PRNGKeyArray

from .._checks import check_bool, check_dt
from .._run import per_sample_records, run
from ._checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from ._data import DataSource, batch_size_of
from ._distributed import on_main_process
from ._history import EarlyStopping, History
from ._sequence_loss import SequenceLoss
from ._sharding import batch_mesh, check_mesh, replicate, shard_batch
from ._step import (
    check_optimizer,
    make_step,
    NonFiniteError,
    partition_trainable,
    split_loss_output,
)


@dataclasses.dataclass(frozen=True)
class Report:
    """What a callback of [`funcdyn.train.BPTT.fit`][] receives after each epoch."""

    epoch: int
    step: int
    model: Any
    opt_state: Any
    metrics: dict[str, float]
    history: History


def _copy_arrays(tree: Any) -> Any:
    return jtu.tree_map(lambda a: jnp.array(a, copy=True) if eqx.is_array(a) else a, tree)


def _evaluate_impl(fixed, model):
    eval_fn, has_aux, batch, key = fixed
    loss, aux = split_loss_output(eval_fn(model, batch, key), has_aux, "eval_fn")
    return loss, aux


_evaluate_jit = eqx.filter_jit(_evaluate_impl)


def _predict_impl(model, x, key, dt, monitors, time_major):
    _, ys, records = run(model, x, dt=dt, fit=False, key=key, monitors=monitors,
                         time_major=time_major)
    return ys, records


_predict_jit = eqx.filter_jit(_predict_impl)


class BPTT:
    """Backpropagation through time with optax, with `fit` / `predict` conveniences.

    `fit` runs the training loop around the jitted step of
    [`funcdyn.train.make_step`][]: batching and shuffling, a progress bar with the running
    loss and metrics, a test loop, a history, callbacks, early stopping, checkpoints and
    data-parallel sharding. Nothing is changed in place: `fit` returns the trained model,
    and the trainer keeps the model it was given.

    **Data layout.** Data are batch-major: arrays `(X, Y)` hold the samples on their first
    axis, with sequence inputs `X: (num_samples, T, ...)`; each batch is
    `x: (batch, T, ...)`, `y: (batch, ...)`. A [`funcdyn.train.sequence_loss`][] turns
    `x` to the time-major layout of `lax.scan` inside the compiled step and gives the
    outputs back batch-major, `ys: (batch, T, ...)`, so [`funcdyn.losses`][] apply with
    their default `time_axis=1`.

    **Arguments:**

    - `model`: the initial model (modules to train in [`funcdyn.training_mode`][]).
    - `loss_fn`: `loss_fn(model, batch, key) -> loss` (or `(loss, metrics)` with
      `has_aux=True`), as for [`funcdyn.train.make_step`][]; or, most conveniently, a
      [`funcdyn.train.sequence_loss`][] built from a loss on the outputs, `fn(ys, y)`,
      which re-initialises the state with `model.init_state(batch_size)` for each batch.
    - `optimizer`: an optax `GradientTransformation`.
    - `has_aux`: whether `loss_fn` returns `(loss, metrics)`; default `True` for a
      `SequenceLoss`, else `False`. Metrics are a dict of scalars.
    - `eval_fn`: the function scoring test batches and `evaluate`, with the signature of
      `loss_fn`; default `loss_fn` (for a `SequenceLoss`, its `fit=False` variant, so
      dropout is off).
    - `dt`: the step size used by `predict`; default the `SequenceLoss`'s.
    - `filter_spec`: which arrays to train (default [`funcdyn.trainable`][]).
    - `mesh`: `"auto"` (default) shards each batch over all devices when there are
      several (`jax.devices()`, all hosts after `jax.distributed.initialize()`; see
      [`funcdyn.train.batch_mesh`][]) and does nothing on one device; a `Mesh` with a
      `"batch"` axis; or `None` to turn sharding off.
    - `donate`: reuse the memory of the parameters and optimizer state across steps (the
      trainer copies the initial model first, so the caller's model stays valid).
    - `on_nonfinite`: `"raise"` (default), `"skip"` or `"ignore"`: what a step does with a
      NaN or infinite loss, gradient or updated parameter (see
      [`funcdyn.train.make_step`][]).

    ```python
    loss_fn = funcdyn.train.sequence_loss(
        funcdyn.losses.cross_entropy_max_over_time, dt=1.0,
        metrics={"accuracy": funcdyn.losses.accuracy_max_over_time})
    trainer = funcdyn.train.BPTT(model, loss_fn, optax.adam(1e-3))
    trained, history = trainer.fit((X, Y), num_epoch=10, batch_size=128,
                                   test_data=(X_test, Y_test), key=jax.random.key(0))
    ys = trainer.predict(X_test, model=trained)        # (num_samples, T, ...)
    ```
    """

    def __init__(
        self,
        model: Any,
        loss_fn: Callable[..., Any],
        optimizer: optax.GradientTransformation,
        *,
        has_aux: bool | None = None,
        eval_fn: Callable[..., Any] | None = None,
        dt: float | None = None,
        filter_spec: Any = None,
        mesh: Any = "auto",
        donate: bool = True,
        on_nonfinite: str = "raise",
    ):
        if not callable(loss_fn):
            raise TypeError(f"BPTT: `loss_fn` must be callable, got {type(loss_fn).__name__}.")
        check_optimizer(optimizer, "BPTT")
        is_sequence = isinstance(loss_fn, SequenceLoss)
        if has_aux is None:
            has_aux = is_sequence
        elif is_sequence and not has_aux:
            raise ValueError(
                "BPTT: a sequence_loss returns (loss, metrics): has_aux must be True."
            )
        if eval_fn is None:
            eval_fn = dataclasses.replace(loss_fn, fit=False) if is_sequence else loss_fn
        if dt is None and is_sequence:
            dt = loss_fn.dt
        if isinstance(mesh, str):
            if mesh != "auto":
                raise ValueError(f"BPTT: `mesh` must be 'auto', a Mesh or None, got {mesh!r}.")
            mesh = batch_mesh() if jax.device_count() > 1 else None
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.has_aux = has_aux
        self.eval_fn = eval_fn
        self.dt = None if dt is None else check_dt(dt, "BPTT")
        self.filter_spec = filter_spec
        self.mesh = check_mesh(mesh, "BPTT")
        self.donate = check_bool(donate, "donate", "BPTT")
        self.on_nonfinite = on_nonfinite
        self.init, self.step = self._make_step()

    def _make_step(self):
        return make_step(
            self.loss_fn,
            self.optimizer,
            filter_spec=self.filter_spec,
            has_aux=self.has_aux,
            mesh=self.mesh,
            donate=self.donate,
            on_nonfinite=self.on_nonfinite,
        )

    # -- evaluation ----------------------------------------------------------------------

    def _place(self, model, batch):
        if self.mesh is None:
            return model, batch
        return replicate(model, self.mesh), shard_batch(batch, self.mesh)

    def _evaluate_batch(self, model, batch, key):
        model, batch = self._place(model, batch)
        return _evaluate_jit((self.eval_fn, self.has_aux, batch, key), model)

    def evaluate(
        self,
        data: Any,
        *,
        model: Any = None,
        batch_size: int | None = None,
        key: PRNGKeyArray | None = None,
        check_finite: bool = True,
    ) -> dict[str, float]:
        """The loss and metrics of `eval_fn` over `data`, averaged over the samples.

        **Arguments:**

        - `data`: arrays `(X, Y)`, an iterable of `(x, y)` batches or a function
          returning one (as for `fit`).
        - `model`: the model to score; default the trainer's (initial) model.
        - `batch_size`: for array data; default all samples at once.
        - `key`: passed to `eval_fn` (batch `i` gets `fold_in(key, i)`).

        **Returns:** `{"loss": ..., <metric>: ...}` as Python floats.
        """
        model = self.model if model is None else model
        if batch_size is None and isinstance(data, tuple) and len(data) == 2:
            leaves = jtu.tree_leaves(data[0])
            batch_size = int(np.shape(leaves[0])[0]) if leaves else None
        source = DataSource(
            data, name="data", batch_size=batch_size, shuffle=False, drop_last=False,
            num_epoch=1, check_finite=check_finite,
        )
        return self._evaluate_source(model, source, key)

    def _evaluate_source(self, model, source: DataSource, key) -> dict[str, float]:
        totals: dict[str, Any] = {}
        count = 0
        for i, batch in enumerate(source.epoch(None)):
            k = None if key is None else jax.random.fold_in(key, i)
            loss, aux = self._evaluate_batch(model, batch, k)
            n = batch_size_of(batch)
            for name, value in {"loss": loss, **aux}.items():
                totals[name] = totals.get(name, 0.0) + n * value
            count += n
        if count == 0:
            raise ValueError(f"{source.name} holds no batches.")
        return {name: float(value) / count for name, value in jax.device_get(totals).items()}

    # -- prediction ----------------------------------------------------------------------

    def predict(
        self,
        xs: Any,
        *,
        model: Any = None,
        batch_size: int | None = None,
        key: PRNGKeyArray | None = None,
        dt: float | None = None,
        time_major: bool = False,
    ) -> Any:
        """Runs the model over inputs with `fit=False` (dropout off) and returns the
        outputs `ys`, in the layout of `xs`. The arguments are those of
        [`funcdyn.train.BPTT.predict_and_record`][], less `monitors`."""
        ys, _ = self.predict_and_record(
            xs, model=model, batch_size=batch_size, key=key, monitors=None, dt=dt,
            time_major=time_major,
        )
        return ys

    def predict_and_record(
        self,
        xs: Any,
        *,
        monitors: Any,
        model: Any = None,
        batch_size: int | None = None,
        key: PRNGKeyArray | None = None,
        dt: float | None = None,
        time_major: bool = False,
    ) -> tuple[Any, Any]:
        """Runs the model over inputs with `fit=False` (dropout off) and returns the
        outputs and the monitored values.

        **Arguments:**

        - `xs`: inputs `(num_samples, T, ...)` (or `(T, num_samples, ...)` with
          `time_major=True`).
        - `model`: the model to run: pass the one `fit` returned; default the trainer's
          initial model.
        - `batch_size`: run in chunks of this many samples; default all at once.
        - `key`: for models that draw random numbers when not training.
        - `monitors`: as for [`funcdyn.run`][] (`None` records nothing).
        - `dt`: default the trainer's.

        **Returns:** `(ys, records)`, both in the layout of `xs`.
        """
        model = self.model if model is None else model
        dt = self.dt if dt is None else dt
        if dt is None:
            raise ValueError(
                "BPTT.predict needs the step size: pass `dt` here or to BPTT (it is taken "
                "from a sequence_loss automatically)."
            )
        leaves = jtu.tree_leaves(xs)
        if not leaves:
            raise ValueError("BPTT.predict: `xs` holds no arrays.")
        axis = 1 if time_major else 0
        for leaf in leaves:
            if np.ndim(leaf) < 2:
                raise ValueError(
                    "BPTT.predict: inputs must be sequences (num_samples, T, ...); got "
                    f"shape {np.shape(leaf)}."
                )
        n = int(np.shape(leaves[0])[axis])
        size = n if batch_size is None else int(batch_size)
        if monitors is not None and not callable(monitors):
            monitors = dict(monitors)
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, type(None))) or (
                batch_size is not None and batch_size < 1):
            raise ValueError(f"BPTT.predict: `batch_size` must be a positive int or None, "
                             f"got {batch_size!r}.")
        if n == 0:
            raise ValueError("BPTT.predict: `xs` holds no samples.")
        if monitors is not None and size < n:
            flags = per_sample_records(model, monitors, size)
            shared = [jtu.keystr(p) for p, f in jtu.tree_flatten_with_path(flags)[0] if not f]
            if shared:
                raise ValueError(
                    f"BPTT.predict_and_record: the records {shared} do not keep the batch "
                    f"axis (a batch mean, a scalar), so batches of {size} samples cannot be "
                    "joined into one record: record per-sample values, or pass no "
                    "batch_size."
                )
        outs = []
        for start in range(0, n, size):
            chunk = jtu.tree_map(
                lambda a: a[:, start : start + size] if time_major else a[start : start + size],
                xs,
            )
            k = None if key is None else jax.random.fold_in(key, start)
            outs.append(_predict_jit(model, chunk, k, float(dt), monitors, time_major))
        ys = jtu.tree_map(lambda *a: jnp.concatenate(a, axis=axis), *(o[0] for o in outs))
        # Per-sample records are (batch, T, ...) or, time-major, (T, batch, ...).
        records = jtu.tree_map(lambda *a: jnp.concatenate(a, axis=axis), *(o[1] for o in outs))
        return ys, records

    # -- training ------------------------------------------------------------------------

    def _trace_loss(self):
        return self.loss_fn

    def _check_compatible(self, model, batch, key, name):
        """Traces (without compiling) the loss on one batch, so that a model / data
        mismatch is reported before any compilation."""
        loss_fn = self._trace_loss()

        def trace(m, b, k):
            return split_loss_output(loss_fn(m, b, k), self.has_aux)

        try:
            eqx.filter_eval_shape(trace, model, batch, key)
        except (ValueError, TypeError) as err:
            shapes = jtu.tree_map(lambda a: tuple(np.shape(a)), batch)
            raise type(err)(
                f"fit: the model and loss do not accept a batch of {name} (shapes x, y = "
                f"{shapes}): {err}"
            ) from err

    def fit(
        self,
        train_data: Any,
        *,
        num_epoch: int,
        key: PRNGKeyArray | None = None,
        batch_size: int | None = None,
        shuffle: bool = True,
        drop_last: bool = False,
        test_data: Any = None,
        test_batch_size: int | None = None,
        progress: bool | None = None,
        callbacks: Sequence[Callable[[Report], Any]] = (),
        early_stopping: EarlyStopping | None = None,
        checkpoint_path: str | None = None,
        checkpoint_every: int = 1,
        resume: str | Checkpoint | None = None,
        check_finite: bool = True,
    ) -> tuple[Any, History]:
        """Trains the model and returns `(trained_model, history)`.

        **Arguments:**

        - `train_data`: arrays `(X, Y)` with `X: (num_samples, T, ...)` and
          `Y: (num_samples, ...)` (shuffled with `key` each epoch and cut into batches of
          `batch_size`); a sequence of `(x, y)` batches (re-iterated each epoch); or a
          function of no arguments returning an iterable of batches (called each epoch).
          It is checked before anything is compiled: `x` and `y` must agree on the number
          of samples, `x` needs a time axis, and NaN / inf are refused
          (`check_finite=False` skips that scan); then the loss is traced on the first
          batch, so that a model / data shape mismatch is reported at once.
        - `num_epoch`: the total number of epochs (when resuming, training continues
          until this many are done).
        - `key`: the root PRNG key: epoch `e` is shuffled with a key derived from
          `(key, e)` and step `s` gets a key derived from `(key, s)`, so a resumed run
          draws the same numbers as an uninterrupted one. Taken from the checkpoint when
          resuming.
        - `batch_size`, `shuffle`, `drop_last`: for array data.
        - `test_data`, `test_batch_size`: evaluated with `eval_fn` after each epoch; without
          `test_batch_size`, batches of `batch_size`, or the whole set when it is smaller
          (entries `test_loss`, `test_<metric>` of the history).
        - `progress`: show a tqdm bar per epoch with the running loss and metrics; default
          when stderr is a terminal.
        - `callbacks`: functions called after each epoch's report with a
          [`funcdyn.train.Report`][]; returning `True` stops training. With
          `donate=True` the next step reuses the buffers of `report.model` and
          `report.opt_state`: copy them (`jax.tree.map(jnp.copy, ...)`) to keep them.
        - `early_stopping`: a [`funcdyn.train.EarlyStopping`][].
        - `checkpoint_path`, `checkpoint_every`: save the run (see
          [`funcdyn.train.save_checkpoint`][]) every `checkpoint_every` epochs and at the
          end.
        - `resume`: a checkpoint path (or loaded [`funcdyn.train.Checkpoint`][]) to
          continue from: model, optimizer state, counters, key and history are restored,
          and the result equals never having stopped. A loaded `Checkpoint` is copied,
          never consumed by donation.

        A non-finite loss, gradient or update follows the trainer's `on_nonfinite`
        policy; with `"raise"` the [`funcdyn.train.NonFiniteError`][] names the epoch,
        the step and the leaves, and carries the last finite model.

        **Returns:** `(model, history)`: the trained model (the best one with
        `early_stopping.restore_best`) and a [`funcdyn.train.History`][].
        """
        check_fit_arguments(num_epoch, checkpoint_every, callbacks, early_stopping, test_data)
        train, test = fit_data_sources(train_data, test_data, batch_size, test_batch_size,
                                       shuffle, drop_last, num_epoch, check_finite)
        model, opt_state, step, start_epoch, history, key = self._start(resume, key)
        if key is None and (shuffle and train.arrays is not None):
            raise ValueError("fit: pass `key=jax.random.key(...)`: it shuffles the data.")
        keys = _FitKeys(key)
        if progress is None:
            progress = sys.stderr.isatty()
        best_model = model
        for epoch in range(start_epoch, num_epoch):
            started = time.perf_counter()
            first, batches = train.peek(keys.shuffle(epoch))
            if epoch == start_epoch:
                self._check_compatible(model, first, keys.step(step), "train_data")
            bar = _progress_bar(progress, train.num_batches, epoch, num_epoch)
            model, opt_state, step, losses, auxes, sizes = self._train_epoch(
                model, opt_state, step, epoch, batches, keys, bar
            )
            record = self._record_epoch(history, epoch, step, losses, auxes, sizes, test,
                                        model, keys, started, bar)
            if (
                early_stopping is not None
                and early_stopping.restore_best
                and early_stopping.best_epoch(history) == len(history.epochs) - 1
                and EarlyStopping.is_finite_model(model)
            ):
                # A copy: with donation the next step reuses the buffers of `model`.
                best_model = _copy_arrays(model) if self.donate else model
            last = epoch == num_epoch - 1
            if checkpoint_path is not None and ((epoch + 1) % checkpoint_every == 0 or last):
                # Written once, by process 0, on a multi-process run; every process waits.
                on_main_process(lambda: save_checkpoint(
                    checkpoint_path, model=model, opt_state=opt_state, step=step,
                    epoch=epoch + 1, key=key, history=history,
                ), name=f"funcdyn-checkpoint:{checkpoint_path}:{epoch}")
            report = Report(epoch, step, model, opt_state, dict(record), history)
            stop = any([cb(report) is True for cb in callbacks])
            if stop or (early_stopping is not None and early_stopping.should_stop(history)):
                break
        if early_stopping is not None and early_stopping.restore_best:
            if early_stopping.best_epoch(history) is not None:
                model = best_model
        return model, history

    # -- the named steps of fit ------------------------------------------------------------

    def _start(self, resume, key):
        """`(model, opt_state, step, epoch, history, key)` to start from: a checkpoint's
        (copied, so donation never consumes the caller's), or the trainer's model."""
        model = self.model
        if resume is None:
            if self.donate:
                params, rest = partition_trainable(model, self.filter_spec)
                model = eqx.combine(_copy_arrays(params), rest)
            return model, self.init(model), 0, 0, History(), key
        ckpt = resume
        if not isinstance(ckpt, Checkpoint):
            ckpt = load_checkpoint(resume, model=model, opt_state=self.init(model))
        model, opt_state = ckpt.model, ckpt.opt_state
        if self.donate:
            model, opt_state = _copy_arrays(model), _copy_arrays(opt_state)
        key = ckpt.key if ckpt.key is not None else key
        return model, opt_state, ckpt.step, ckpt.epoch, ckpt.history, key

    def _train_epoch(self, model, opt_state, step, epoch, batches, keys, bar):
        """One pass over the batches; the losses stay on the device until the epoch
        ends (the bar reads them at most four times a second)."""
        losses, auxes, sizes = [], [], []
        last_refresh = 0.0
        for batch in batches:
            try:
                model, opt_state, loss, aux = self.step(model, opt_state, batch, keys.step(step))
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
            if bar is not None:
                bar.update(1)
                now = time.perf_counter()
                if now - last_refresh > 0.25:
                    last_refresh = now
                    bar.set_postfix(_running(losses, auxes, sizes), refresh=False)
        return model, opt_state, step, losses, auxes, sizes

    def _record_epoch(self, history, epoch, step, losses, auxes, sizes, test, model, keys,
                      started, bar) -> dict[str, Any]:
        """Appends the per-step and per-epoch records (train means, test scores, time)."""
        losses, auxes = jax.device_get((losses, auxes))
        first_step = step - len(losses)
        for i, (loss, aux) in enumerate(zip(losses, auxes)):
            history.steps.append(
                {"epoch": epoch, "step": first_step + i, "loss": float(loss),
                 **{k: float(v) for k, v in aux.items()}}
            )
        record = {"epoch": epoch, "step": step}
        record.update(
            {f"train_{k}": v for k, v in _weighted_mean(losses, auxes, sizes).items()}
        )
        if test is not None:
            scores = self._evaluate_source(model, test, keys.test(epoch))
            record.update({f"test_{k}": v for k, v in scores.items()})
        record["time_s"] = time.perf_counter() - started
        history.epochs.append(record)
        if bar is not None:
            bar.set_postfix(
                {k: v for k, v in record.items() if k not in ("epoch", "step", "time_s")}
            )
            bar.close()
        return record


class _FitKeys:
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
