"""A loss on the outputs of `funcdyn.run`, turned into a loss of `(model, batch, key)`."""

from collections.abc import Callable, Mapping
from typing import Any

import equinox as eqx
from jaxtyping import Array, PRNGKeyArray

from .._run import Monitors, batch_major_outputs, run


class SequenceLoss(eqx.Module):
    """A loss of `(model, batch, key)` that runs the model over the batch's sequence with
    [`funcdyn.run`][] and scores the outputs. Build it with
    [`funcdyn.train.sequence_loss`][]; calling it returns `(loss, metrics)`.

    The state starts from `model.init_state(batch_size)` for every batch.

    `inputs_time_major=True` (set by the training step, not by users) means the batch's
    `x` of a batch-major loss arrives already transposed to `(T, batch, ...)`: the
    outputs are still handed to `fn` batch-major. XLA:CPU runs the backward pass about
    1.6x slower when the transpose is inside the compiled step than when its input is a
    time-major array, so the step transposes in a separate call.
    """

    fn: Callable[..., Array]
    dt: float
    metrics: tuple[tuple[str, Callable[..., Array]], ...]
    monitors: Any
    checkpoint: bool | int | None
    fit: bool
    time_major: bool
    unroll: int
    inputs_time_major: bool = False

    def run(self, model: Any, x: Any, key: PRNGKeyArray | None, *, state: Any = None,
            i0: Any = 0, time_major: bool | None = None) -> tuple[Any, Any, Any]:
        """`(final_state, ys, records)` of the model run over the inputs `x` with this
        loss's settings, from `state` (default `model.init_state(batch_size)`) and step
        index `i0` (may be traced); `time_major` overrides the data layout."""
        return run(
            model,
            x,
            dt=self.dt,
            state=state,
            i0=i0,
            fit=self.fit,
            key=key,
            monitors=self.monitors,
            time_major=self.time_major if time_major is None else time_major,
            checkpoint=self.checkpoint,
            unroll=self.unroll,
        )

    def outputs(self, model: Any, x: Any, key: PRNGKeyArray | None) -> tuple[Any, Any]:
        """`(ys, records)` of the model run over the inputs `x` (layout as the data)."""
        _, ys, records = self.run(model, x, key)
        return ys, records

    def score(self, ys: Any, y: Any, records: Any) -> tuple[Array, dict[str, Array]]:
        """The loss and metrics of given outputs."""
        args = (ys, y) if self.monitors is None else (ys, y, records)
        loss = self.fn(*args)
        return loss, {name: metric(*args) for name, metric in self.metrics}

    def __call__(self, model: Any, batch: Any, key: PRNGKeyArray | None):
        x, y = batch
        if self.inputs_time_major and not self.time_major:
            _, ys, records = self.run(model, x, key, time_major=True)
            ys, records = batch_major_outputs(model, self.monitors, x, ys, records)
        else:
            ys, records = self.outputs(model, x, key)
        return self.score(ys, y, records)


def sequence_loss(
    fn: Callable[..., Array],
    *,
    dt: float = 1.0,
    metrics: Mapping[str, Callable[..., Array]] | None = None,
    monitors: Monitors = None,
    checkpoint: bool | int | None = None,
    fit: bool = True,
    time_major: bool = False,
    unroll: int = 1,
) -> SequenceLoss:
    """Turns a loss on model outputs, `fn(ys, y)`, into the `loss_fn(model, batch, key)`
    that [`funcdyn.train.make_step`][] and [`funcdyn.train.BPTT`][] take.

    For a batch `(x, y)`, the returned function runs
    `funcdyn.run(model, x, dt=dt, fit=fit, key=key, monitors=monitors,
    checkpoint=checkpoint, time_major=time_major)` from `model.init_state(batch_size)` and
    returns `(fn(ys, y), {name: metric(ys, y)})`: backpropagation through time is the
    gradient of this one `lax.scan`.

    **Arguments:**

    - `fn`: `fn(ys, y) -> scalar`, e.g. [`funcdyn.losses.cross_entropy_max_over_time`][];
      with `monitors`, `fn(ys, y, records)` (e.g. to add a firing-rate penalty on recorded
      spikes).
    - `dt`: the step size.
    - `metrics`: a dict of `metric(ys, y)` (or `(ys, y, records)`) scalars to report,
      e.g. `{"accuracy": funcdyn.losses.accuracy_max_over_time}`.
    - `monitors`: state functions recorded at each step (see [`funcdyn.run`][]).
    - `checkpoint`: gradient checkpointing of the time loop: `True` recomputes every step
      in the backward pass, an int `k` keeps only every `k`-th state (memory about
      `T/k + k` steps instead of `T`; `k ~ sqrt(T)` is a good choice for long sequences).
    - `fit`: the training-phase flag (dropout active); evaluation uses `fit=False`.
    - `time_major`: `False` (default): `x` is `(batch, T, ...)` and `ys`, `records` are
      `(batch, T, ...)`; `True`: both are `(T, batch, ...)` (then pass `time_axis=0` to
      the losses).
    - `unroll`: passed to `lax.scan`.

    **Returns:** a [`funcdyn.train.SequenceLoss`][], returning `(loss, metrics)`.

    ```python
    loss_fn = funcdyn.train.sequence_loss(
        funcdyn.losses.cross_entropy_max_over_time, dt=1.0,
        metrics={"accuracy": funcdyn.losses.accuracy_max_over_time},
    )
    trainer = funcdyn.train.BPTT(model, loss_fn, optax.adam(1e-3))
    ```
    """
    if not callable(fn):
        raise TypeError(f"sequence_loss: `fn` must be callable, got {type(fn).__name__}.")
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not dt > 0:
        raise ValueError(f"sequence_loss: `dt` must be a positive float, got {dt!r}.")
    metrics = {} if metrics is None else dict(metrics)
    for name, metric in metrics.items():
        if not isinstance(name, str) or not callable(metric):
            raise TypeError(
                "sequence_loss: `metrics` must map names (str) to functions of (ys, y); "
                f"got {name!r}: {metric!r}."
            )
    if monitors is not None and not callable(monitors):
        monitors = dict(monitors)
    if not isinstance(fit, bool):
        raise TypeError(f"sequence_loss: `fit` must be a bool, got {fit!r}.")
    if not isinstance(time_major, bool):
        raise TypeError(f"sequence_loss: `time_major` must be a bool, got {time_major!r}.")
    return SequenceLoss(
        fn=fn,
        dt=float(dt),
        metrics=tuple(metrics.items()),
        monitors=monitors,
        checkpoint=checkpoint,
        fit=fit,
        time_major=time_major,
        unroll=unroll,
    )
