"""Training forward in time: RTRL, e-prop and the presynaptic-trace rule, with a
one-step streaming API and `fit` / `predict` conveniences."""

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
import optax
from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from .._run import run
from ._data import batch_size_of
from ._eprop import EPropRule, check_eprop_model
from ._fit_loop import (
    check_fit_arguments,
    evaluation_source,
    fit_data_sources,
    fit_loop,
    fit_start,
    mean_over_samples,
)
from ._rtrl import RTRLRule, rtrl_bytes, rtrl_sizes
from ._trace_rule import TraceRule, check_trace_model
from ._step import NonFiniteError

_METHODS = ("rtrl", "eprop", "trace")
_POLICIES = ("raise", "skip", "ignore")


class OnlineCarry(eqx.Module):
    """Everything a [`funcdyn.train.ForwardTrainer`][] carries from one time step to the
    next besides the model: the model's `state`, the method's `traces` (influence
    matrix, eligibility traces), the gradient accumulated since the last update (`acc`,
    over `count` steps, with `loss_sum`), the optimizer state, the step counter `t`, the
    number of optimizer `updates` done and `skipped`, the loss summed over all steps
(`total_loss`), and where the first non-finite
    update happened (`bad_update`, `bad_t`: -1 when none; `bad_leaves`: which of the
    loss, gradients and updated parameters were non-finite)."""

    state: Any
    traces: Any
    acc: Any
    count: Array
    loss_sum: Array
    total_loss: Array
    opt_state: Any
    t: Array
    updates: Array
    skipped: Array
    bad_update: Array
    bad_t: Array
    bad_leaves: Array


class _Config(eqx.Module):
    """The static part of the compiled step."""

    rule: Any
    loss_fn: Callable = eqx.field(static=True)
    optimizer: Any = eqx.field(static=True)
    k: int | None = eqx.field(static=True)
    dt: float = eqx.field(static=True)
    policy: str = eqx.field(static=True)
    per_step_targets: bool = eqx.field(static=True)


def _finite_flags(loss_sum, grads, params) -> Array:
    leaves = [loss_sum] + jtu.tree_leaves(grads) + jtu.tree_leaves(params)
    return jnp.stack([jnp.all(jnp.isfinite(a)) for a in leaves])


def _apply_update(cfg: _Config, params, carry: OnlineCarry):
    """One optimizer update from the mean gradient of the window, under the non-finite
    policy. The flags of every leaf are reduced in one fused `all`."""
    count = jnp.maximum(carry.count, 1).astype(carry.loss_sum.dtype)
    grads = jtu.tree_map(lambda a: a / count, carry.acc)
    with jax.numpy_dtype_promotion("standard"):
        updates, opt_state = cfg.optimizer.update(grads, carry.opt_state, params)
    new_params = eqx.apply_updates(params, updates)
    flags = _finite_flags(carry.loss_sum, grads, new_params)
    ok = jnp.all(flags)
    first_bad = (~ok) & (carry.bad_update < 0)
    if cfg.policy == "ignore":
        take = jnp.asarray(True)
    elif cfg.policy == "skip":
        take = ok
    else:  # "raise": keep the last finite model and stop updating once one is bad
        take = ok & (carry.bad_update < 0)

    def choose(new, old):
        return jnp.where(take, new, old)

    params = jtu.tree_map(choose, new_params, params)
    opt_state = jtu.tree_map(choose, opt_state, carry.opt_state)
    carry = dataclasses.replace(
        carry,
        acc=jtu.tree_map(jnp.zeros_like, carry.acc),
        count=jnp.zeros_like(carry.count),
        loss_sum=jnp.zeros_like(carry.loss_sum),
        opt_state=opt_state,
        updates=carry.updates + 1,
        skipped=carry.skipped + jnp.where(take, 0, 1).astype(carry.skipped.dtype),
        bad_update=jnp.where(first_bad, carry.updates, carry.bad_update),
        bad_t=jnp.where(first_bad, carry.t - 1, carry.bad_t),
        bad_leaves=jnp.where(first_bad, ~flags, carry.bad_leaves),
    )
    return params, carry


def _flush(cfg: _Config, params, carry: OnlineCarry):
    return jax.lax.cond(
        carry.count > 0,
        lambda p, c: _apply_update(cfg, p, c),
        lambda p, c: (p, c),
        params, carry,
    )


def _core_step(cfg: _Config, params, rest, carry: OnlineCarry, x, target, key, fixed):
    ctx = Context(t=carry.t.astype(jnp.result_type(float)) * cfg.dt, i=carry.t, dt=cfg.dt,
                  fit=True, key=key)
    state, traces, y, loss, grads = cfg.rule.step(
        params, rest, carry.state, carry.traces, x, target, ctx, cfg.loss_fn, fixed
    )
    carry = dataclasses.replace(
        carry,
        state=state,
        traces=traces,
        acc=jtu.tree_map(jnp.add, carry.acc, grads),
        count=carry.count + 1,
        loss_sum=carry.loss_sum + loss,
        total_loss=carry.total_loss + loss,
        t=carry.t + 1,
    )
    if cfg.k is not None:
        params, carry = jax.lax.cond(
            carry.count >= cfg.k,
            lambda p, c: _apply_update(cfg, p, c),
            lambda p, c: (p, c),
            params, carry,
        )
    return params, carry, y, loss


def _new_carry(cfg: _Config, params, rest, state, opt_state, num_flags: int) -> OnlineCarry:
    if isinstance(cfg.rule, EPropRule):
        traces = cfg.rule.init(params, rest, state, cfg.dt)
    else:
        traces = cfg.rule.init(params, rest, state)
    leaves = jtu.tree_leaves(params)
    dtype = leaves[0].dtype
    int32 = jnp.int32
    return OnlineCarry(
        state=state,
        traces=traces,
        acc=jtu.tree_map(jnp.zeros_like, params),
        count=jnp.zeros((), int32),
        loss_sum=jnp.zeros((), dtype),
        total_loss=jnp.zeros((), dtype),
        opt_state=opt_state,
        t=jnp.zeros((), int32),
        updates=jnp.zeros((), int32),
        skipped=jnp.zeros((), int32),
        bad_update=jnp.full((), -1, int32),
        bad_t=jnp.full((), -1, int32),
        bad_leaves=jnp.zeros((num_flags,), bool),
    )


def _time_slice(tree, t):
    return jtu.tree_map(lambda a: jax.lax.dynamic_index_in_dim(a, t, axis=1, keepdims=False),
                        tree)



def _metric_values(cfg_metrics, ys, y):
    return {name: metric(ys, y) for name, metric in cfg_metrics}


def _scan(cfg: _Config, params, rest, carry, x, y, key, fixed, collect: bool):
    """Runs the online step over the time axis (axis 1) of `x`, from `carry`."""
    T = int(jtu.tree_leaves(x)[0].shape[1])

    def body(inner, _):
        params, carry = inner
        t = carry.t
        x_t = _time_slice(x, t - t0)
        target = _time_slice(y, t - t0) if cfg.per_step_targets else y
        k_t = None if key is None else jax.random.fold_in(key, t)
        params, carry, y_t, loss = _core_step(cfg, params, rest, carry, x_t, target, k_t,
                                              fixed)
        return (params, carry), ((y_t, loss) if collect else None)

    t0 = carry.t
    # Inputs are read in place one step at a time (no transposed copy), and nothing per
    # step is stacked unless asked for: memory does not grow with T.
    (params, carry), out = jax.lax.scan(body, (params, carry), None, length=T)
    if collect:
        ys, losses = out
        return params, carry, jtu.tree_map(lambda a: jnp.swapaxes(a, 0, 1), ys), losses
    return params, carry, None, None


def _train_sequence(cfg: _Config, metrics, params, rest, opt_state, batch, key, fixed):
    x, y = batch
    model = eqx.combine(params, rest)
    B = batch_size_of(batch)
    T = int(jtu.tree_leaves(x)[0].shape[1])
    num_flags = 1 + 2 * len(jtu.tree_leaves(params))
    carry = _new_carry(cfg, params, rest, model.init_state(B), opt_state, num_flags)
    params, carry, ys, _ = _scan(cfg, params, rest, carry, x, y, key, fixed, bool(metrics))
    params, carry = _flush(cfg, params, carry)
    aux = _metric_values(metrics, ys, y) if metrics else {}
    info = (carry.updates, carry.skipped, carry.bad_update, carry.bad_t, carry.bad_leaves)
    return params, carry.opt_state, carry.total_loss / T, aux, info


def _run_stream(cfg: _Config, params, rest, carry, x, y, key, fixed):
    return _scan(cfg, params, rest, carry, x, y, key, fixed, True)


_run_stream_jit = eqx.filter_jit(_run_stream)
_train_sequence_jit = eqx.filter_jit(_train_sequence)


def _stream_step(cfg: _Config, params, rest, carry, x, target, key, fixed):
    return _core_step(cfg, params, rest, carry, x, target, key, fixed)


_stream_step_jit = eqx.filter_jit(_stream_step)
_flush_jit = eqx.filter_jit(_flush)


def _evaluate(cfg: _Config, metrics, model, batch, key):
    x, y = batch
    _, ys, _ = run(model, x, dt=cfg.dt, fit=False, key=key, time_major=False)
    per_step = jax.vmap(cfg.loss_fn, in_axes=(1, 1 if cfg.per_step_targets else None))(ys, y)
    return jnp.mean(per_step), _metric_values(metrics, ys, y)


_evaluate_jit = eqx.filter_jit(_evaluate)


def _predict(model, x, key, dt):
    _, ys, _ = run(model, x, dt=dt, fit=False, key=key, time_major=False)
    return ys


_predict_jit = eqx.filter_jit(_predict)


def _positive_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1


def _leaf_names(params) -> list[str]:
    paths = [jtu.keystr(p) for p, _ in jtu.tree_flatten_with_path(params)[0]]
    return ["loss"] + [f"gradient{p}" for p in paths] + [f"updated parameter{p}" for p in paths]


class ForwardTrainer:
    """Trains a model with gradients computed forward in time, while it runs: memory does
    not grow with the sequence length, and learning can happen inside a stream.

    Unlike [`funcdyn.train.OnlineTrainer`][] (which fits a linear *readout* by RLS / LMS
    on the states of a fixed reservoir), this trainer updates every trainable array of a
    recurrent or spiking network, like [`funcdyn.train.BPTT`][], but without
    back-propagating through time. `method` says how the gradient is carried forward:

    - `"rtrl"`: real-time recurrent learning, the exact gradient of the loss (equal to
      BPTT's), for any model, through the influence matrix of the state with respect to
      the parameters (memory `O(S P)` for `S` state values and `P` parameters: small
      networks only; larger ones are refused with the estimated size, see
      `max_memory`). See [`funcdyn.train.RTRLRule`][].
    - `"eprop"`: e-prop (Bellec et al. 2020) on a [`funcdyn.train.EPropNetwork`][]:
      eligibility traces per synapse from the Jacobians of the neuron's own step, times a
      learning signal from the readout error, with symmetric (`W_out`) or random
      feedback. Memory `O(synapses)`. See [`funcdyn.train.EPropRule`][].
    - `"trace"`: the presynaptic-trace rule for a feed-forward [`funcdyn.Sequential`][]
      of `Dense` and neuron layers: one trace per presynaptic neuron, and the gradient of
      the current step back-propagated through the layers only. Memory `O(neurons)`. See
      [`funcdyn.train.TraceRule`][].

    **The objective** is the mean over time of a per-step loss,
    $L = \\frac{1}{T}\\sum_t \\ell(y_t, \\hat y_t)$, where `loss_fn(y_t, target_t)`
    returns the batch mean at one step (e.g. [`funcdyn.losses.cross_entropy`][] or
    [`funcdyn.losses.mean_squared_error`][]). [`funcdyn.train.ForwardTrainer.bptt_loss`][]
    gives the same objective for `BPTT`.

    **Updates.** The per-step gradients are accumulated and their mean is applied by
    `optimizer` every `k` steps (online learning: the weights change while the sequence
    runs, and the traces carry on), or once at the end of each sequence with `k=None`.
    A window left incomplete at the end of a sequence is applied there.

    **Arguments:**

    - `model`: the initial model (modules to train in [`funcdyn.training_mode`][]).
    - `loss_fn`: `loss_fn(y_t, target_t) -> scalar`, the loss of one step.
    - `optimizer`: an optax `GradientTransformation`.
    - `method`: `"rtrl"`, `"eprop"` or `"trace"`.
    - `dt`: the step size.
    - `k`: update every `k` steps (an int >= 1), or `None`: at the end of each sequence.
    - `targets`: `"sequence"` (default): `y` of a batch is one target per sequence (a
      label), used at every step; `"step"`: `y` is `(batch, T, ...)`, one per step.
    - `feedback`: e-prop's learning signal: `"symmetric"` (through `W_out`) or
      `"random"` (a fixed random matrix drawn from `feedback_key`).
    - `trace_decay`: for `"trace"`: the decay of the presynaptic traces (a float, or one
      per `Dense` layer); default $e^{-\\Delta t/\\tau}$ of the neuron layer each drives.
    - `metrics`: `{name: metric(ys, y)}` scored on the whole sequence's outputs
      `ys: (batch, T, ...)` (e.g. [`funcdyn.losses.accuracy_mean_over_time`][]); in
      training the outputs are then kept for the sequence (`O(T * outputs)` memory).
    - `filter_spec`: which arrays to train (default [`funcdyn.trainable`][]).
    - `on_nonfinite`: what a non-finite loss, gradient or updated parameter does at an
      update (checked inside the compiled step with one fused reduction): `"raise"`
      (default) keeps the last finite parameters and raises a [`funcdyn.train.NonFiniteError`][] naming
      the update, the time step and the first non-finite leaves by path (the model is in
      `trainer.last_finite_model`); `"skip"` drops that update and counts it
      (`skipped_updates` in the history); `"ignore"` applies it.
    - `max_memory`: the largest trace memory (bytes) that `"rtrl"` may use; above it the
      trainer refuses with the estimate (default 2 GiB).

    ```python
    cell = funcdyn.neurons.LIF(100, tau=20.0, V_th=1.0, V_reset=0.0,
                               mode=funcdyn.batching_mode)
    net = funcdyn.train.EPropNetwork(cell, num_in=64, num_out=10, tau_out=20.0,
                                     mode=funcdyn.training_mode, key=jax.random.key(0))
    trainer = funcdyn.train.ForwardTrainer(net, funcdyn.losses.cross_entropy,
                                           optax.adam(1e-3), method="eprop",
                                           metrics={"acc": funcdyn.losses.accuracy_mean_over_time})
    trained, history = trainer.fit((X, Y), num_epoch=10, batch_size=32,
                                   key=jax.random.key(1))
    ```
    """

    def __init__(
        self,
        model: Any,
        loss_fn: Callable[[Any, Any], Array],
        optimizer: optax.GradientTransformation,
        *,
        method: str = "eprop",
        dt: float = 1.0,
        k: int | None = None,
        targets: str = "sequence",
        feedback: str = "symmetric",
        feedback_key: PRNGKeyArray | None = None,
        trace_decay: Any = None,
        metrics: Mapping[str, Callable[..., Array]] | None = None,
        filter_spec: Any = None,
        on_nonfinite: str = "raise",
        max_memory: int = 2**31,
    ):
        who = "ForwardTrainer"
        if not callable(loss_fn):
            raise TypeError(f"{who}: `loss_fn` must be callable, got {type(loss_fn).__name__}.")
        if not (callable(getattr(optimizer, "init", None))
                and callable(getattr(optimizer, "update", None))):
            raise TypeError(
                f"{who}: `optimizer` must be an optax GradientTransformation (with `init` and "
                f"`update`), e.g. optax.adam(1e-3); got {type(optimizer).__name__}."
            )
        if method not in _METHODS:
            raise ValueError(f"{who}: `method` must be one of {_METHODS}, got {method!r}.")
        if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not dt > 0:
            raise ValueError(f"{who}: `dt` must be a positive float, got {dt!r}.")
        if k is not None and not _positive_int(k):
            raise ValueError(
                f"{who}: `k` (update every k steps) must be an int >= 1, or None to update "
                f"at the end of each sequence; got {k!r}."
            )
        if targets not in ("sequence", "step"):
            raise ValueError(f"{who}: `targets` must be 'sequence' or 'step', got {targets!r}.")
        if feedback not in ("symmetric", "random"):
            raise ValueError(
                f"{who}: `feedback` must be 'symmetric' or 'random', got {feedback!r}."
            )
        if feedback == "random" and method != "eprop":
            raise ValueError(f"{who}: feedback='random' applies to method='eprop' only.")
        if trace_decay is not None and method != "trace":
            raise ValueError(f"{who}: `trace_decay` applies to method='trace' only.")
        if on_nonfinite not in _POLICIES:
            raise ValueError(
                f"{who}: `on_nonfinite` must be one of {_POLICIES}, got {on_nonfinite!r}."
            )
        if not _positive_int(max_memory):
            raise ValueError(f"{who}: `max_memory` must be a positive int (bytes).")
        metrics = {} if metrics is None else dict(metrics)
        for name, metric in metrics.items():
            if not isinstance(name, str) or not callable(metric):
                raise TypeError(
                    f"{who}: `metrics` must map names (str) to functions of (ys, y); got "
                    f"{name!r}: {metric!r}."
                )
        from . import partition_trainable

        params, rest = partition_trainable(model, filter_spec)
        if not jtu.tree_leaves(params):
            raise ValueError(
                f"{who}: the model has no trainable arrays. Build the modules to train in "
                "funcdyn.training_mode (or inside funcdyn.training_environment()), or pass "
                "`filter_spec`."
            )
        fixed = None
        if method == "eprop":
            check_eprop_model(model, params, who)
            rule: Any = EPropRule()
            if feedback == "random":
                if feedback_key is None:
                    raise ValueError(
                        f"{who}: feedback='random' draws the feedback matrix: pass "
                        "`feedback_key=jax.random.key(...)`."
                    )
                fixed = jax.random.normal(
                    feedback_key, (model.num_hidden, model.num_out), model.W_out.dtype
                ) / math.sqrt(model.num_hidden)
        elif method == "trace":
            check_trace_model(model, params, who)
            from ._trace_rule import trace_decays

            rule = TraceRule(decays=trace_decays(model, float(dt), trace_decay, who))
        else:
            rule = RTRLRule()
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.method = method
        self.dt = float(dt)
        self.k = None if k is None else int(k)
        self.targets = targets
        self.feedback = feedback
        self.feedback_matrix = fixed
        self.metrics = metrics
        self.filter_spec = filter_spec
        self.on_nonfinite = on_nonfinite
        self.max_memory = int(max_memory)
        self.last_finite_model = None
        self._cfg = _Config(rule=rule, loss_fn=loss_fn, optimizer=optimizer, k=self.k,
                            dt=self.dt, policy=on_nonfinite,
                            per_step_targets=targets == "step")
        self._metric_items = tuple(metrics.items())

    # -- memory ----------------------------------------------------------------------

    def _split(self, model):
        from . import partition_trainable

        return partition_trainable(model, self.filter_spec)

    def memory_estimate(self, batch_size: int, *, model: Any = None) -> int:
        """The bytes the method's traces take for `batch_size` sequences (for `"rtrl"`,
        with the influence matrix of the step's output; see
        [`funcdyn.train.RTRLRule`][]). Independent of the sequence length."""
        model = self.model if model is None else model
        params, rest = self._split(model)
        state = jax.eval_shape(lambda: model.init_state(batch_size))
        if self.method == "rtrl":
            return rtrl_bytes(params, state)
        traces = jax.eval_shape(lambda: _new_carry(
            self._cfg, params, rest, model.init_state(batch_size), None, 1).traces)
        return sum(int(np.prod(a.shape)) * np.dtype(a.dtype).itemsize
                   for a in jtu.tree_leaves(traces))

    def _check_memory(self, model, batch_size):
        if self.method != "rtrl":
            return
        params, _ = self._split(model)
        state = jax.eval_shape(lambda: model.init_state(batch_size))
        S, P = rtrl_sizes(params, state)
        need = rtrl_bytes(params, state)
        if need > self.max_memory:
            raise ValueError(
                f"ForwardTrainer: method='rtrl' needs influence matrices of {S} state values "
                f"x {P} parameters for batch size {batch_size}: about {need / 2**20:.1f} MiB "
                f"(> max_memory = {self.max_memory / 2**20:.1f} MiB). Use method='eprop' "
                "(memory O(synapses)), a smaller network or batch, or raise `max_memory`."
            )

    # -- the streaming API -----------------------------------------------------------

    def init(self, model: Any = None, batch_size: int | None = None, *,
             opt_state: Any = None, key: PRNGKeyArray | None = None) -> OnlineCarry:
        """The carry of a stream: the model's initial state
        (`model.init_state(batch_size, key=key)`), zero traces, the optimizer state
        (`optimizer.init` of the trainable arrays, or `opt_state`)."""
        model = self.model if model is None else model
        self._check_memory(model, batch_size)
        params, rest = self._split(model)
        if opt_state is None:
            with jax.numpy_dtype_promotion("standard"):
                opt_state = self.optimizer.init(params)
        state = model.init_state(batch_size, key=key) if key is not None else (
            model.init_state(batch_size))
        return _new_carry(self._cfg, params, rest, state, opt_state,
                          1 + 2 * len(jtu.tree_leaves(params)))

    def reset(self, model: Any, carry: OnlineCarry, batch_size: int | None = None) -> OnlineCarry:
        """A new sequence in the same stream: the initial state and zero traces, keeping
        the optimizer state, counters and any pending gradient."""
        params, rest = self._split(model)
        state = model.init_state(batch_size)
        fresh = _new_carry(self._cfg, params, rest, state, carry.opt_state,
                           carry.bad_leaves.shape[0])
        return dataclasses.replace(carry, state=fresh.state, traces=fresh.traces)

    def step(self, model: Any, carry: OnlineCarry, x: Any, target: Any, *,
             key: PRNGKeyArray | None = None) -> tuple[Any, OnlineCarry, Any, Array]:
        """One time step: runs the model on `x` (`(batch, ...)`), updates the traces,
        accumulates the gradient of `loss_fn(y, target)`, and applies an optimizer update
        when `k` steps have gathered (never with `k=None`: call `flush`). With
        `on_nonfinite="raise"` each call reads one flag back from the device to check for
        a non-finite update; `run_stream` checks once per chunk.

        **Returns:** `(model, carry, y, loss)`: the (possibly updated) model, the new
        carry, the step's output and loss.
        """
        params, rest = self._split(model)
        params, carry, y, loss = _stream_step_jit(
            self._cfg, params, rest, carry, x, target, key, self.feedback_matrix
        )
        model = eqx.combine(params, rest)
        self._raise_if_bad(model, carry.bad_update, carry.bad_t, carry.bad_leaves, params)
        return model, carry, y, loss

    def flush(self, model: Any, carry: OnlineCarry) -> tuple[Any, OnlineCarry]:
        """Applies the gradient gathered since the last update (nothing when none)."""
        params, rest = self._split(model)
        params, carry = _flush_jit(self._cfg, params, carry)
        model = eqx.combine(params, rest)
        self._raise_if_bad(model, carry.bad_update, carry.bad_t, carry.bad_leaves, params)
        return model, carry

    def run_stream(self, model: Any, carry: OnlineCarry, xs: Any, targets: Any, *,
                   key: PRNGKeyArray | None = None) -> tuple[Any, OnlineCarry, Any, Array]:
        """Many steps of `step` in one compiled loop: a chunk `xs: (batch, T_chunk, ...)`
        of a stream, continuing from `carry` (the state is not reset, updates every `k`
        steps carry on across chunks). `targets` is `(batch, T_chunk, ...)` with
        `targets="step"`, else one target per stream. Step `t` of the stream draws from
        `fold_in(key, t)`.

        **Returns:** `(model, carry, ys, losses)`: `ys: (batch, T_chunk, ...)` and the
        per-step losses `(T_chunk,)` (memory `O(T_chunk)` for these only).
        """
        leaves = jtu.tree_leaves(xs)
        if not leaves or any(np.ndim(a) < 2 for a in leaves):
            raise ValueError(
                "ForwardTrainer.run_stream: `xs` must be a chunk (batch, T_chunk, ...) with a "
                "time axis."
            )
        params, rest = self._split(model)
        params, carry, ys, losses = _run_stream_jit(
            self._cfg, params, rest, carry, xs, targets, key, self.feedback_matrix
        )
        model = eqx.combine(params, rest)
        self._raise_if_bad(model, carry.bad_update, carry.bad_t, carry.bad_leaves, params)
        return model, carry, ys, losses

    def _raise_if_bad(self, model, bad_update, bad_t, bad_leaves, params, where=""):
        if self.on_nonfinite != "raise":
            return
        bad_update = int(bad_update)
        if bad_update < 0:
            return
        self.last_finite_model = model
        names = [n for n, b in zip(_leaf_names(params), np.asarray(bad_leaves)) if b]
        raise NonFiniteError(
            f"ForwardTrainer: non-finite values at optimizer update {bad_update} (time step "
            f"{int(bad_t)}{where}) in: {', '.join(names[:5])}"
            + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            + ". The update was not applied: the last finite model is in "
            "trainer.last_finite_model. Lower the learning rate, clip gradients, or pass "
            "on_nonfinite='skip'.",
            model=model, opt_state=None, leaves=names[:5], step=bad_update,
        )

    # -- BPTT with the same objective ------------------------------------------------

    def bptt_loss(self, *, checkpoint: bool | int | None = None):
        """The same objective as a [`funcdyn.train.sequence_loss`][], for
        [`funcdyn.train.BPTT`][]: `mean_t loss_fn(ys[:, t], target_t)` and the metrics."""
        from . import sequence_loss

        loss_fn, per_step = self.loss_fn, self.targets == "step"

        def mean_over_time(ys, y):
            return jnp.mean(jax.vmap(loss_fn, in_axes=(1, 1 if per_step else None))(ys, y))

        return sequence_loss(mean_over_time, dt=self.dt, metrics=self.metrics,
                             checkpoint=checkpoint)

    # -- sequences -------------------------------------------------------------------

    def train_batch(self, model: Any, opt_state: Any, batch: Any,
                    key: PRNGKeyArray | None = None) -> tuple[Any, Any, Array, dict]:
        """Trains on one batch of sequences `(x: (batch, T, ...), y)` from the initial
        state, in one compiled loop. **Returns:** `(model, opt_state, loss, metrics)`,
        `loss` the mean per-step loss over the sequence."""
        model, opt_state, loss, aux, _ = self._train_batch(model, opt_state, batch, key)
        return model, opt_state, loss, aux

    def _train_batch(self, model, opt_state, batch, key):
        params, rest = self._split(model)
        params, opt_state, loss, aux, info = _train_sequence_jit(
            self._cfg, self._metric_items, params, rest, opt_state, batch, key,
            self.feedback_matrix,
        )
        model = eqx.combine(params, rest)
        _, skipped, bad_update, bad_t, bad_leaves = info
        self._raise_if_bad(model, bad_update, bad_t, bad_leaves, params, " of the batch")
        return model, opt_state, loss, aux, skipped

    def predict(self, xs: Any, *, model: Any = None, batch_size: int | None = None,
                key: PRNGKeyArray | None = None) -> Any:
        """The outputs `ys: (num_samples, T, ...)` of the model on inputs
        `xs: (num_samples, T, ...)`, with `fit=False`; `batch_size` runs in chunks."""
        model = self.model if model is None else model
        leaves = jtu.tree_leaves(xs)
        if not leaves or any(np.ndim(a) < 2 for a in leaves):
            raise ValueError(
                "ForwardTrainer.predict: inputs must be sequences (num_samples, T, ...)."
            )
        n = int(np.shape(leaves[0])[0])
        size = n if batch_size is None else int(batch_size)
        outs = []
        for start in range(0, n, size):
            chunk = jtu.tree_map(lambda a, s=start: a[s: s + size], xs)
            k = None if key is None else jax.random.fold_in(key, start)
            outs.append(_predict_jit(model, chunk, k, self.dt))
        return jtu.tree_map(lambda *a: jnp.concatenate(a, axis=0), *outs)

    def evaluate(self, data: Any, *, model: Any = None, batch_size: int | None = None,
                 key: PRNGKeyArray | None = None, check_finite: bool = True) -> dict:
        """The mean per-step loss and the metrics over `data` (as for `fit`), averaged
        over the samples. **Returns:** `{"loss": ..., <metric>: ...}` as floats."""
        model = self.model if model is None else model
        return self._evaluate_source(model, evaluation_source(data, batch_size, check_finite),
                                     key)

    def _evaluate_source(self, model, source, key) -> dict:
        return mean_over_samples(source, key, lambda b, k: _evaluate_jit(
            self._cfg, self._metric_items, model, b, k))

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
        callbacks: Sequence[Callable[..., Any]] = (),
        early_stopping: Any = None,
        checkpoint_path: str | None = None,
        checkpoint_every: int = 1,
        resume: Any = None,
        check_finite: bool = True,
    ) -> tuple[Any, Any]:
        """Trains over `train_data` for `num_epoch` epochs, each batch of sequences from
        the initial state. The arguments and the result are those of
        [`funcdyn.train.BPTT.fit`][]: array data `(X, Y)` (`X: (num_samples, T, ...)`),
        an iterable of batches or a function returning one; a test loop on `test_data`
        after each epoch; a progress bar; `callbacks` receiving a
        [`funcdyn.train.Report`][] (returning `True` stops); an
        [`funcdyn.train.EarlyStopping`][]; checkpoints every `checkpoint_every` epochs to
        `checkpoint_path`, and `resume` from one (model, optimizer state, counters, key
        and history; refused on other data than the checkpoint's). Step `s` draws its
        randomness from keys derived from `(key, s)`.

        **Returns:** `(model, history)`; the history's per-epoch records hold
        `train_loss`, `train_<metric>`, `test_loss`, `test_<metric>`, `skipped_updates`
        and `time_s`.
        """
        check_fit_arguments(num_epoch, checkpoint_every, callbacks, early_stopping, test_data)
        train, test = fit_data_sources(train_data, test_data, batch_size, test_batch_size,
                                       shuffle, drop_last, num_epoch, check_finite)

        def fresh_opt_state(model):
            params, _ = self._split(model)
            with jax.numpy_dtype_promotion("standard"):
                return self.optimizer.init(params)

        def train_batch(model, opt_state, batch, key):
            model, opt_state, loss, aux, skipped = self._train_batch(model, opt_state, batch,
                                                                     key)
            return model, opt_state, loss, aux, {"skipped_updates": skipped}

        start = fit_start(resume, self.model, fresh_opt_state, key, copy=False)
        return fit_loop(
            start, train, test, num_epoch=num_epoch, shuffle=shuffle, progress=progress,
            callbacks=callbacks, early_stopping=early_stopping,
            checkpoint_path=checkpoint_path, checkpoint_every=checkpoint_every,
            train_batch=train_batch, evaluate=self._evaluate_source,
            check_first=lambda m, b, k: self._check_memory(m, batch_size_of(b)),
            copy_best=False,
        )
