"""BPTT: `fit` / `predict` conveniences over the jitted step, on optax."""

import dataclasses
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
from ..losses._labels import check_traced_labels, recording_label_uses
from ._checkpoint import Checkpoint
from ._data import DataSource
from ._fit_loop import (
    check_fit_arguments,
    evaluation_source,
    fit_data_sources,
    fit_loop,
    fit_start,
    mean_over_samples,
    Report,
)
from ._history import EarlyStopping, History
from ._sequence_loss import SequenceLoss
from ._sharding import batch_mesh, check_mesh, replicate, shard_batch
from ._step import (
    check_optimizer,
    make_step,
    split_loss_output,
)


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
        source = evaluation_source(data, batch_size, check_finite)
        return self._evaluate_source(model, source, key)

    def _evaluate_source(self, model, source: DataSource, key) -> dict[str, float]:
        return mean_over_samples(source, key, lambda b, k: self._evaluate_batch(model, b, k))

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

    def _check_compatible(self, model, batch, key, train, test):
        """Traces (without compiling) the loss on the first batch, so that a model / data
        mismatch is reported before any compilation; then checks on the host the class
        labels that reach funcdyn's classification losses unchanged: all of them for
        array data (train and test), else those of the first batch."""
        loss_fn = self._trace_loss()
        traced_y = []

        def trace(m, b, k):
            traced_y.extend(jtu.tree_leaves(b[1]))
            return split_loss_output(loss_fn(m, b, k), self.has_aux)

        with recording_label_uses() as uses:
            try:
                eqx.filter_eval_shape(trace, model, batch, key)
            except (ValueError, TypeError) as err:
                shapes = jtu.tree_map(lambda a: tuple(np.shape(a)), batch)
                raise type(err)(
                    f"fit: the model and loss do not accept a batch of {train.name} (shapes "
                    f"x, y = {shapes}): {err}"
                ) from err
        if not uses:
            return
        for source in (train, test):
            if source is None:
                continue
            if source.arrays is not None:
                values = jtu.tree_leaves(source.arrays[1])
            elif source is train:
                values = jtu.tree_leaves(batch[1])
            else:
                continue  # test batches: the compiled losses check them
            check_traced_labels(uses, traced_y, values, f"fit: {source.name} labels")

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
          batch, so that a model / data shape mismatch is reported at once, and integer
          class labels that reach funcdyn's classification losses as they are (e.g.
          `cross_entropy_mean_over_time(ys, y)`) are checked on the host against the
          model's number of classes: every label of array data, the first batch of
          other data (later batches by the compiled losses' own check).
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
          never consumed by donation. The checkpoint records the data it was trained on
          (global batch size, sample count, batching options, sample shapes); resuming
          on data that differ in any of these raises a `ValueError` saying which.

        A non-finite loss, gradient or update follows the trainer's `on_nonfinite`
        policy; with `"raise"` the [`funcdyn.train.NonFiniteError`][] names the epoch,
        the step and the leaves, and carries the last finite model.

        **Returns:** `(model, history)`: the trained model (the best one with
        `early_stopping.restore_best`) and a [`funcdyn.train.History`][].
        """
        check_fit_arguments(num_epoch, checkpoint_every, callbacks, early_stopping, test_data)
        train, test = fit_data_sources(train_data, test_data, batch_size, test_batch_size,
                                       shuffle, drop_last, num_epoch, check_finite)
        start = fit_start(resume, self.model, self.init, key, copy=self.donate)
        return fit_loop(
            start, train, test, num_epoch=num_epoch, shuffle=shuffle, progress=progress,
            callbacks=callbacks, early_stopping=early_stopping,
            checkpoint_path=checkpoint_path, checkpoint_every=checkpoint_every,
            train_batch=self._train_batch, evaluate=self._evaluate_source,
            check_first=lambda m, b, k: self._check_compatible(m, b, k, train, test),
            copy_best=self.donate,
        )

    def _train_batch(self, model, opt_state, batch, key):
        model, opt_state, loss, aux = self.step(model, opt_state, batch, key)
        return model, opt_state, loss, aux, {}
