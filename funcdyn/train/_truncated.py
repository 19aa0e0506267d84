"""Truncated BPTT: optimizer updates over windows of k steps, the state carried between
windows without gradients."""

import dataclasses
import functools
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import optax
from jaxtyping import PRNGKeyArray

from ._bptt import BPTT
from ._sequence_loss import SequenceLoss
from ._step import build_step


def _check_window(window: Any, who: str) -> int:
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"{who}: `window` must be a positive int (steps), got {window!r}.")
    return window


def _time_major(tree: Any, time_major: bool) -> Any:
    return tree if time_major else jtu.tree_map(lambda a: jnp.swapaxes(a, 0, 1), tree)


def _check_targets(x: Any, y: Any, who: str) -> int:
    """The number of steps, after checking that every target has the time axis of `x`
    (both time-major here)."""
    n = {a.shape[0] for a in jtu.tree_leaves(x)}
    if len(n) != 1:
        raise ValueError(f"{who}: the inputs disagree on the number of steps: {sorted(n)}.")
    (steps,) = n
    for a in jtu.tree_leaves(y):
        if a.ndim < 2 or a.shape[0] != steps:
            raise ValueError(
                f"{who}: truncated BPTT scores each window against its own targets, so y "
                f"needs the time axis of x ({steps} steps): (batch, T, ...) batch-major or "
                f"(T, batch, ...) time-major; got a target of shape (time-major) {a.shape}."
            )
    return steps


def _windows(tree: Any, n_windows: int, window: int) -> Any:
    return jtu.tree_map(
        lambda a: a[: n_windows * window].reshape((n_windows, window) + a.shape[1:]), tree
    )


class TruncatedLoss(eqx.Module):
    """The truncated-BPTT objective evaluated without updates: the model runs over the
    whole sequence and `loss.fn` scores each window of `window` steps against its
    targets; the scores are averaged over windows weighted by their lengths. It has the
    `loss_fn(model, batch, key) -> (loss, metrics)` signature (used to score test data)."""

    loss: SequenceLoss
    window: int = eqx.field(static=True)

    def __call__(self, model: Any, batch: Any, key: PRNGKeyArray | None):
        x, y = batch
        ys, records = self.loss.outputs(model, x, key)
        ys, records, y = _time_major((ys, records, y), self.loss.time_major)
        steps = _check_targets(ys, y, "TruncatedLoss")
        totals = None
        for start in range(0, steps, self.window):
            part = jtu.tree_map(lambda a: a[start : start + self.window], (ys, y, records))
            part = _time_major(part, self.loss.time_major)
            loss, aux = self.loss.score(*part)
            length = min(self.window, steps - start)
            scores = jtu.tree_map(lambda v: v * (length / steps), (loss, aux))
            totals = scores if totals is None else jtu.tree_map(jnp.add, totals, scores)
        return totals


@dataclasses.dataclass(frozen=True)
class _WindowUpdates:
    """The update scheme of truncated BPTT for the one training step (`build_step`):
    the batch runs window by window, each window from the state the previous one
    reached (held constant: no gradient flows into earlier windows), with one optimizer
    update per window. The loss and metrics are averaged over the windows, weighted by
    their lengths."""

    window: int

    def __call__(self, loss: SequenceLoss, has_aux, params, rest, opt_state, batch, key,
                 update):
        x, y = _time_major(batch, loss.time_major)
        steps = _check_targets(x, y, "make_truncated_step")
        n_windows, tail = divmod(steps, self.window)
        batch_size = jtu.tree_leaves(x)[0].shape[1]
        state = eqx.combine(params, rest).init_state(batch_size)

        def window_update(carry, inputs):
            params, opt_state, state = carry
            xw, yw, i0 = inputs

            def objective(p):
                final, ys, records = loss.run(
                    eqx.combine(p, rest), xw, key, state=jax.lax.stop_gradient(state),
                    i0=i0, time_major=True,
                )
                value, aux = loss.score(*_time_major((ys, yw, records), loss.time_major))
                return value, (aux, final)

            params, opt_state, value, (aux, final), flags = update(objective, params,
                                                                   opt_state)
            return (params, opt_state, final), (value, aux, flags)

        carry = (params, opt_state, state)
        scores, flags = [], []
        if n_windows:
            heads = _windows((x, y), n_windows, self.window)
            starts = jnp.arange(n_windows, dtype=jnp.int32) * self.window
            carry, (value, aux, f) = jax.lax.scan(window_update, carry, (*heads, starts))
            scores.append(jtu.tree_map(lambda v: jnp.sum(v) * (self.window / steps),
                                       (value, aux)))
            flags.append(jnp.all(f, axis=0))
        if tail:
            rest_inputs = jtu.tree_map(lambda a: a[n_windows * self.window:], (x, y))
            carry, (value, aux, f) = window_update(
                carry, (*rest_inputs, jnp.int32(n_windows * self.window))
            )
            scores.append(jtu.tree_map(lambda v: v * (tail / steps), (value, aux)))
            flags.append(f)
        value, aux = functools.reduce(lambda a, b: jtu.tree_map(jnp.add, a, b), scores)
        params, opt_state, _ = carry
        return params, opt_state, value, aux, functools.reduce(jnp.logical_and, flags)


def make_truncated_step(
    loss: SequenceLoss,
    optimizer: optax.GradientTransformation,
    *,
    window: int,
    filter_spec: Any = None,
    mesh: jax.sharding.Mesh | None = None,
    donate: bool = False,
    on_nonfinite: str = "raise",
):
    """Builds a jitted truncated-BPTT step, as an `(init, step)` pair.

    One call of `step` processes a batch of sequences window by window: for window `w`
    (steps `[w k, (w+1) k)`), the model runs from the state reached at the end of window
    `w-1`, held constant (`lax.stop_gradient`: no gradient flows into earlier windows),
    the loss of that window is differentiated and the optimizer updates the parameters;
    the next window starts from the final state of this one and uses the updated
    parameters. The whole sequence is one compiled `lax.scan` over windows, and the
    memory of the backward pass is that of `k` steps, not `T`. The state starts from
    `model.init_state(batch_size)` for every batch. A last window shorter than `k` gets
    its own update.

    **Arguments:**

    - `loss`: a [`funcdyn.train.sequence_loss`][] (its `dt`, `monitors`, `metrics`,
      `fit`, `time_major` and `checkpoint` apply to each window): `fn(ys_w, y_w)` scores
      the outputs of one window against its targets, so `y` must have the time axis:
      `(batch, T, ...)` (or `(T, batch, ...)` with `time_major=True`).
    - `optimizer`: an optax `GradientTransformation` (updated once per window).
    - `window`: `k`, the window length in steps.
    - `filter_spec`, `mesh`, `donate`: as for [`funcdyn.train.make_step`][].
    - `on_nonfinite`: as for [`funcdyn.train.make_step`][], checked at every window's
      update (loss, gradients, updated parameters): a non-finite window's update is
      dropped; `"raise"` raises after the batch, with the model of the finite updates.
      The windows after a non-finite state are non-finite too, so their updates are
      dropped as well.

    **Returns:** `(init, step)` with `step(model, opt_state, batch, key) -> (model,
    opt_state, loss, metrics)`: `loss` and `metrics` are averages over the windows,
    weighted by window length.
    """
    if not isinstance(loss, SequenceLoss):
        raise TypeError(
            "make_truncated_step: `loss` must be a funcdyn.train.sequence_loss(fn, ...) "
            f"scoring each window's outputs, got {type(loss).__name__}."
        )
    window = _check_window(window, "make_truncated_step")
    return build_step(
        loss, optimizer, filter_spec=filter_spec, has_aux=True, mesh=mesh, donate=donate,
        on_nonfinite=on_nonfinite, scheme=_WindowUpdates(window),
        batch_axis=1 if loss.time_major else 0, who="make_truncated_step",
    )


class TruncatedBPTT(BPTT):
    """[`funcdyn.train.BPTT`][] with truncated backpropagation through time: every batch
    is processed in windows of `window` steps, with one optimizer update per window and
    the state carried between windows without gradients (see
    [`funcdyn.train.make_truncated_step`][]).

    **Arguments:** as for `BPTT`, except:

    - `loss_fn`: a [`funcdyn.train.sequence_loss`][] whose `fn(ys_w, y_w)` scores one
      window; targets `Y` are per step, `(num_samples, T, ...)`.
    - `window`: the window length in steps.

    Test data are scored with [`funcdyn.train.TruncatedLoss`][]: the same windowed
    objective over a full run, without updates. A history step is one batch (with
    `T / window` optimizer updates in it).

    ```python
    loss_fn = funcdyn.train.sequence_loss(funcdyn.losses.mean_squared_error, dt=1.0)
    trainer = funcdyn.train.TruncatedBPTT(model, loss_fn, optax.adam(1e-3), window=50)
    trained, history = trainer.fit((X, Y), num_epoch=5, batch_size=16, key=key)
    ```
    """

    def __init__(self, model: Any, loss_fn: SequenceLoss, optimizer, *, window: int, **kwargs):
        if not isinstance(loss_fn, SequenceLoss):
            raise TypeError(
                "TruncatedBPTT: `loss_fn` must be a funcdyn.train.sequence_loss(fn, ...) "
                f"scoring each window's outputs, got {type(loss_fn).__name__}."
            )
        self.window = _check_window(window, "TruncatedBPTT")
        if kwargs.get("eval_fn") is None:
            kwargs["eval_fn"] = TruncatedLoss(dataclasses.replace(loss_fn, fit=False), self.window)
        super().__init__(model, loss_fn, optimizer, **kwargs)

    def _make_step(self):
        return make_truncated_step(
            self.loss_fn,
            self.optimizer,
            window=self.window,
            filter_spec=self.filter_spec,
            mesh=self.mesh,
            donate=self.donate,
            on_nonfinite=self.on_nonfinite,
        )

    def _trace_loss(self):
        return TruncatedLoss(self.loss_fn, self.window)
