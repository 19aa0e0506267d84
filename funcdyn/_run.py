"""The time loop: one `lax.scan` over the time axis."""

import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
from jaxtyping import PRNGKeyArray

from ._core._context import Context
from ._core._system import DynamicalSystem
from .typing import Monitors



def _num_steps(xs: Any, time_axis: int) -> int:
    leaves = jtu.tree_leaves(xs)
    if not leaves:
        raise ValueError("run: `xs` has no arrays; pass the inputs with a time axis.")
    lengths = set()
    for leaf in leaves:
        shape = jnp.shape(leaf)
        if len(shape) <= time_axis:
            raise ValueError(
                f"run: an input of shape {shape} has no time axis {time_axis}; inputs "
                "are time-major (T, ...) by default, or (batch, T, ...) with "
                "time_major=False."
            )
        lengths.add(shape[time_axis])
    if len(lengths) != 1:
        raise ValueError(f"run: inputs disagree on the number of steps: {sorted(lengths)}.")
    (n,) = lengths
    if n < 1:
        raise ValueError("run: the time axis is empty.")
    return n


def _infer_batch_size(xs: Any) -> int:
    leaf = jtu.tree_leaves(xs)[0]
    if jnp.ndim(leaf) < 2:
        raise ValueError(
            "run: the model is in a batching mode but the inputs have no batch axis; "
            "pass inputs shaped (T, batch, ...) or give `state=` / `batch_size=`."
        )
    return int(jnp.shape(leaf)[1])


def _record(monitors: Monitors, state: Any) -> Any:
    if monitors is None:
        return {}
    if callable(monitors):
        return monitors(state)
    return {name: fn(state) for name, fn in monitors.items()}


def per_sample_records(model: Any, monitors: Monitors, batch_size: int | None) -> Any:
    """For each leaf of the records, whether it keeps the batch axis (first, like the
    state): found by evaluating the monitors, shapes only, on states of two batch sizes.
    A non-batching model's records have no batch axis."""
    records = jax.eval_shape(lambda: _record(monitors, model.init_state(
        batch_size, key=jax.random.key(0)))) if batch_size is not None else None
    if (batch_size is None or not isinstance(model, DynamicalSystem)
            or not model.mode.is_batching):
        return jtu.tree_map(lambda _: False, records)
    other = jax.eval_shape(lambda: _record(monitors, model.init_state(
        batch_size + 1, key=jax.random.key(0))))
    return jtu.tree_map(
        lambda a, b: len(a.shape) > 0 and a.shape[0] != b.shape[0], records, other
    )


def _scan_body(model, monitors, dt, t0, fit, key):
    def body(state, inputs):
        x, i = inputs
        ctx = Context.for_step(i, dt=dt, t0=t0, fit=fit, key=key)
        state, y = model(state, x, ctx)
        return state, (y, _record(monitors, state))

    return body


def _scan(body, state, inputs, checkpoint, unroll):
    if checkpoint is None or checkpoint is False:
        return jax.lax.scan(body, state, inputs, unroll=unroll)
    if checkpoint is True:
        return jax.lax.scan(jax.checkpoint(body), state, inputs, unroll=unroll)
    # Windows of `checkpoint` steps: only the state at each window boundary is kept for
    # the backward pass; each window is recomputed when its gradient is needed.
    n = jtu.tree_leaves(inputs)[0].shape[0]
    window = int(checkpoint)
    n_windows, tail = divmod(n, window)

    def run_window(carry, window_inputs):
        return jax.lax.scan(body, carry, window_inputs, unroll=unroll)

    head = jtu.tree_map(lambda a: a[: n_windows * window], inputs)
    head = jtu.tree_map(lambda a: a.reshape((n_windows, window) + a.shape[1:]), head)
    state, out = jax.lax.scan(jax.checkpoint(run_window), state, head)
    out = jtu.tree_map(lambda a: a.reshape((n_windows * window,) + a.shape[2:]), out)
    if tail:
        rest = jtu.tree_map(lambda a: a[n_windows * window :], inputs)
        state, out_tail = jax.lax.scan(body, state, rest, unroll=unroll)
        out = jtu.tree_map(lambda a, b: jnp.concatenate([a, b]), out, out_tail)
    return state, out


def run(
    model: DynamicalSystem,
    xs: Any,
    *,
    dt: float,
    state: Any = None,
    batch_size: int | None = None,
    t0: float = 0.0,
    i0: int = 0,
    fit: bool = False,
    key: PRNGKeyArray | None = None,
    monitors: Monitors = None,
    time_major: bool = True,
    checkpoint: bool | int | None = None,
    unroll: int = 1,
    progress_bar: bool = False,
) -> tuple[Any, Any, Any]:
    """Runs `model` over the time axis of `xs` in one `lax.scan`.

    **Arguments:**

    - `model`: any [`funcdyn.DynamicalSystem`][] (or callable with the step signature).
    - `xs`: a pytree of inputs with a time axis: `(T, ...)` (time-major, the default) or
      `(batch, T, ...)` with `time_major=False`.
    - `dt`: the step size (static float, > 0).
    - `state`: the initial state; default `model.init_state(batch_size)`.
    - `batch_size`: used when `state` is `None`; in a batching mode it defaults to the
      size of the inputs' batch axis.
    - `t0`, `i0`: time and index of the first step; step `k` sees `t = t0 + (i0 + k) * dt`
      (and the key `fold_in(key, i0 + k)`). `i0` may be a traced integer.
    - `fit`: the training-phase flag of every step's [`funcdyn.Context`][].
    - `key`: the root key; step `i` gets `fold_in(key, i)`. `None` for no randomness.
    - `monitors`: a function of the state, or a dict of them, recorded after each step.
    - `time_major`: whether the time axis is first (in `xs` and in the outputs).
    - `checkpoint`: `True` rematerialises each step in the backward pass; an int `k`
      keeps only the state at every `k`-th step and recomputes the windows in between
      (memory about `T/k + k` steps instead of `T`). `None` stores everything.
    - `unroll`: passed to `lax.scan`.
    - `progress_bar`: show a tqdm bar; the loop then runs in about 100 compiled chunks
      (for eager calls only).

    **Returns:** `(final_state, ys, records)`: `ys` stacks the per-step outputs, with
    the time axis placed as in `xs`; `records` stacks the monitors (an empty dict when
    there are none): `(T, ...)` for each recorded value, and with `time_major=False`
    `(batch, T, ...)` for the values that keep the batch axis of a batching model's
    state (a batch mean or a scalar stays `(T, ...)`).

    ```python
    final, ys, rec = funcdyn.run(model, xs, dt=0.1, monitors={"V": lambda s: s.V})
    ```
    """
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not dt > 0:
        raise ValueError(f"run: `dt` must be a positive Python float, got {dt!r}.")
    if checkpoint is not None and not isinstance(checkpoint, bool):
        if not isinstance(checkpoint, int) or checkpoint < 1:
            raise ValueError(
                f"run: `checkpoint` must be None, True/False or a window length >= 1, "
                f"got {checkpoint!r}."
            )
    if not isinstance(fit, bool):
        raise TypeError(f"run: `fit` must be a Python bool, got {fit!r}.")
    if not isinstance(time_major, bool):
        raise TypeError(f"run: `time_major` must be a Python bool, got {time_major!r}.")
    dt = float(dt)
    if not time_major:
        _num_steps(xs, 1)
        xs = jtu.tree_map(lambda a: jnp.swapaxes(jnp.asarray(a), 0, 1), xs)
    n = _num_steps(xs, 0)
    if state is None:
        if isinstance(model, DynamicalSystem) and model.mode.is_batching and batch_size is None:
            batch_size = _infer_batch_size(xs)
        state = model.init_state(batch_size)
    # `i0 + arange`: `i0` may be traced (a window's offset inside a compiled loop).
    steps = i0 + jnp.arange(n, dtype=jnp.int32)
    body = _scan_body(model, monitors, dt, t0, fit, key)
    if progress_bar:
        state, (ys, records) = _run_with_progress(body, state, (xs, steps), checkpoint, unroll)
    else:
        state, (ys, records) = _scan(body, state, (xs, steps), checkpoint, unroll)
    if not time_major:
        ys, records = batch_major_outputs(model, monitors, xs, ys, records)
    return state, ys, records


def batch_major_outputs(model: Any, monitors: Monitors, xs: Any, ys: Any,
                        records: Any) -> tuple[Any, Any]:
    """The `(ys, records)` of a time-major run over the inputs `xs` (`(T, batch, ...)`)
    in the batch-major layout of `run(..., time_major=False)`."""
    swap = lambda a: jnp.swapaxes(a, 0, 1) if jnp.ndim(a) >= 2 else a  # noqa: E731
    ys = jtu.tree_map(swap, ys)
    if jtu.tree_leaves(records):
        # Per-sample records become (batch, T, ...) like the inputs; a record without
        # the batch axis (a batch mean, a scalar) stays (T, ...): the time axis never
        # moves by the rank of what a monitor returns.
        leaves = jtu.tree_leaves(xs)
        batch = int(jnp.shape(leaves[0])[1]) if jnp.ndim(leaves[0]) >= 2 else None
        flags = per_sample_records(model, monitors, batch)
        records = jtu.tree_map(lambda a, f: jnp.swapaxes(a, 0, 1) if f else a,
                               records, flags)
    return ys, records


def _run_with_progress(body, state, inputs, checkpoint, unroll):
    from tqdm.auto import tqdm

    leaf = jtu.tree_leaves(inputs)[0]
    if isinstance(leaf, jax.core.Tracer):
        raise ValueError("run: progress_bar=True needs an eager call (not under jit).")
    n = leaf.shape[0]
    chunk = max(1, math.ceil(n / 100))
    scan_chunk = eqx.filter_jit(lambda s, inp: _scan(body, s, inp, checkpoint, unroll))
    outs = []
    with tqdm(total=n, unit="step") as bar:
        for start in range(0, n, chunk):
            part = jtu.tree_map(lambda a: a[start : start + chunk], inputs)
            state, out = scan_chunk(state, part)
            outs.append(out)
            bar.update(jtu.tree_leaves(part)[0].shape[0])
    return state, jtu.tree_map(lambda *a: jnp.concatenate(a), *outs)
