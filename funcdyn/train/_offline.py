"""Offline readout training: run the model once, record the readouts' inputs, solve."""

import functools
import inspect
import weakref
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from .._run import run
from ._fit_method import OfflineMethod
from ._over_time import readout_inputs_over_time
from ._readouts import (
    _Tap,
    is_readout,
    targets_by_name,
    readout_names,
    readouts_of,
    replace_readouts,
    tap_readouts,
    tap_state,
    tapped_inputs,
)
from ._ridge import RidgeRegression


def prepare_targets(y: Any, inputs_shape: tuple, readout, who: str) -> Array:
    """The targets of one readout as `(..., num_out)` floats matching the recorded inputs
    `inputs_shape = (..., num_in)`; integer class labels of shape `(...)` become one-hot
    rows."""
    y = jnp.asarray(y)
    lead = tuple(inputs_shape[:-1])
    if y.shape == lead and jnp.issubdtype(y.dtype, jnp.integer):
        return jax.nn.one_hot(y, readout.num_out, dtype=readout.W.dtype)
    if y.shape != lead + (readout.num_out,):
        raise ValueError(
            f"{who}: the targets of readout {readout.name or ''}(num_out="
            f"{readout.num_out}) have shape {y.shape}, but the recorded inputs have shape "
            f"{tuple(inputs_shape)}: pass {lead + (readout.num_out,)} (or integer labels of "
            f"shape {lead}), time axis placed as in the inputs."
        )
    return y.astype(readout.W.dtype)


def _offline_fit(model, method, xs, ys, state, key, dt, t0, i0, batch_size, time_major):
    tapped, readouts = tap_readouts(model)
    state = tap_state(tapped, state, batch_size)
    num = len(readouts)
    records = None
    if time_major and isinstance(dt, (int, float)) and not isinstance(dt, bool) and dt > 0:
        # A feed-forward map of the input window (NVAR >> readout): all steps at once.
        records = readout_inputs_over_time(tapped, state, xs, num, dt=float(dt), t0=t0,
                                           i0=i0, key=key)
    if records is None:
        _, _, records = run(
            tapped,
            xs,
            dt=dt,
            state=state,
            t0=t0,
            i0=i0,
            fit=True,
            key=key,
            monitors=lambda s: tapped_inputs(s, num),
            time_major=time_major,
        )
    fitted = []
    for readout, X, Y in zip(readouts, records, ys):
        Y = prepare_targets(Y, X.shape, readout, "OfflineTrainer.fit")
        X = X.reshape(-1, readout.num_in)
        Y = Y.reshape(-1, readout.num_out)
        W, b = method(X, Y, bias=readout.b is not None)
        W = W.astype(readout.W.dtype)
        if readout.b is None:
            fitted.append(eqx.tree_at(lambda d: d.W, readout, W))
        else:
            fitted.append(eqx.tree_at(lambda d: (d.W, d.b), readout, (W, b.astype(W.dtype))))
    if isinstance(tapped, _Tap):  # the model is the readout itself
        return fitted[0]
    return replace_readouts(model, fitted)


_offline_fit_general = eqx.filter_jit(_offline_fit)


def _fit_from_leaves(static, arrays):
    token, rest_def, rest_others, options = static
    fixed_def, fixed_others = _STRUCTURES[token]
    num_fixed = fixed_def.num_leaves - len(fixed_others)
    model, method = jtu.tree_unflatten(fixed_def, _merge(arrays[:num_fixed], fixed_others))
    xs, ys, state, key = jtu.tree_unflatten(rest_def, _merge(arrays[num_fixed:], rest_others))
    fitted = _offline_fit(model, method, xs, ys, state, key, *options)
    # Only the readouts' arrays come out: the rest of the model is unchanged, and
    # returning it would copy (say) a reservoir's weight matrices on every fit.
    return [
        leaf
        for readout in readouts_of(fitted)
        for leaf in jtu.tree_leaves(readout)
        if eqx.is_array(leaf)
    ]


def _merge(arrays, others):
    leaves = list(arrays)
    for i, leaf in others:
        leaves.insert(i, leaf)
    return leaves


def _split(leaves):
    arrays, others = [], []
    for i, leaf in enumerate(leaves):
        if eqx.is_array(leaf):
            arrays.append(leaf)
        else:
            others.append((i, leaf))
    return arrays, tuple(others)


# A plain `jax.jit` keyed on the (hashable) structure: at the paper's NG-RC size the
# whole fit takes about a hundred microseconds, and `eqx.filter_jit`'s per-call
# partitioning of the model added more than that again.
_fit_from_leaves_jit = jax.jit(_fit_from_leaves, static_argnums=0)

# The structures (treedef and non-array leaves) of a trainer's model and fit method by a
# small integer, which stands for them in the jit key: hashing and comparing the model's
# treedef on every call cost as much as the rest of the dispatch. Entries are never
# reused; one per distinct structure, held as long as the jit cache would have held them.
_STRUCTURES: dict[int, tuple] = {}
_TOKENS: dict = {}


def _structure_token(fixed_def, fixed_others) -> int | None:
    """The integer standing for a structure, or `None` if it is not hashable."""
    try:
        token = _TOKENS.get((fixed_def, fixed_others))
    except TypeError:
        return None
    if token is None:
        token = len(_STRUCTURES)
        _STRUCTURES[token] = (fixed_def, fixed_others)
        _TOKENS[(fixed_def, fixed_others)] = token
    return token


class _Prepared(NamedTuple):
    trainer: weakref.ref
    shell_def: Any
    shell_leaves: list
    readout_slots: list[tuple[int, Any, tuple, int]]
    fixed_arrays: list
    names: list[str]
    token: int | None
    batching: bool


# What a trainer's fits share, by `id(trainer)`: a trainer is immutable, so its model and
# fit method never change, and a repeated fit need not flatten them or walk the model for
# the readouts again. The entry goes when the trainer does.
_PREPARED: dict[int, _Prepared] = {}


def _prepare(trainer) -> _Prepared:
    entry = _PREPARED.get(id(trainer))
    if entry is not None and entry.trainer() is trainer:
        return entry
    model = trainer.model
    fixed_leaves, fixed_def = jtu.tree_flatten((model, trainer.fit_method))
    fixed_arrays, fixed_others = _split(fixed_leaves)

    # The fitted model is rebuilt around the fitted readouts: the model's "shell" stops
    # at each readout and at each module without one, which is reused as it is.
    def is_kept_whole(node):
        return is_readout(node) or (isinstance(node, eqx.Module) and not readouts_of(node))

    shell_leaves, shell_def = jtu.tree_flatten(model, is_leaf=is_kept_whole)
    readout_slots = []
    for position, node in enumerate(shell_leaves):
        if is_readout(node):
            leaves, readout_def = jtu.tree_flatten(node)
            arrays, others = _split(leaves)
            readout_slots.append((position, readout_def, others, len(arrays)))
    mode = getattr(model, "mode", None)
    key = id(trainer)
    entry = _Prepared(
        trainer=weakref.ref(trainer, lambda _, key=key: _PREPARED.pop(key, None)),
        shell_def=shell_def,
        shell_leaves=shell_leaves,
        readout_slots=readout_slots,
        fixed_arrays=fixed_arrays,
        names=readout_names(readouts_of(model)),
        token=_structure_token(fixed_def, fixed_others),
        batching=mode is not None and mode.is_batching,
    )
    _PREPARED[key] = entry
    return entry


def _fast_fit(prepared: _Prepared, xs, ys, state, key, options):
    """`_offline_fit` through `_fit_from_leaves_jit`, or `None` when a non-array leaf is
    not hashable (then the general path runs)."""
    if prepared.token is None:
        return None
    rest_leaves, rest_def = jtu.tree_flatten((xs, ys, state, key))
    rest_arrays, rest_others = _split(rest_leaves)
    static = (prepared.token, rest_def, rest_others, options)
    try:
        hash(static)
    except TypeError:
        return None
    fitted_arrays = _fit_from_leaves_jit(static, prepared.fixed_arrays + rest_arrays)
    leaves = list(prepared.shell_leaves)
    start = 0
    for position, readout_def, others, num_arrays in prepared.readout_slots:
        arrays = fitted_arrays[start : start + num_arrays]
        start += num_arrays
        leaves[position] = jtu.tree_unflatten(readout_def, _merge(arrays, others))
    return jtu.tree_unflatten(prepared.shell_def, leaves)


class _PlainMethod:
    """A method whose binding is a small `_Bound` callable, not a `types.MethodType`.

    `eqx.Module.__getattribute__` turns every bound method into an `eqx.BoundMethod`
    pytree, a Module built on each attribute access (about 25 us measured, a sixth of
    a whole fit at the NG-RC paper size). `OfflineTrainer.fit` is not meant to be passed
    through a JAX transformation as a pytree, so it skips that."""

    def __init__(self, fn):
        self.fn = fn
        functools.update_wrapper(self, fn)

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self.fn
        return _Bound(self.fn, obj)


class _Bound:
    __slots__ = ("__func__", "__self__")

    def __init__(self, fn, obj):
        self.__func__ = fn
        self.__self__ = obj

    def __call__(self, *args, **kwargs):
        return self.__func__(self.__self__, *args, **kwargs)

    @property
    def __doc__(self):
        return self.__func__.__doc__

    @property
    def __name__(self):
        return self.__func__.__name__

    @property
    def __signature__(self):
        sig = inspect.signature(self.__func__)
        return sig.replace(parameters=list(sig.parameters.values())[1:])

    def __repr__(self):
        return f"<bound method {self.__func__.__qualname__} of {self.__self__!r}>"


class OfflineTrainer(eqx.Module):
    """Trains the readouts of a model offline: runs the model over the data with
    `fit=True` in one compiled loop, records the inputs of its readouts, solves for their
    weights with `fit_method`, and returns a new model with the fitted weights.

    The readouts are the [`funcdyn.layers.Dense`][] layers in [`funcdyn.TrainingMode`][]
    anywhere in the model (found by walking its pytree); every other part (an
    [`funcdyn.layers.NVAR`][] or [`funcdyn.layers.Reservoir`][] in
    [`funcdyn.batching_mode`][]) is left as it is. Since training mode is a batching
    mode, the model runs with a batch axis (a batch of one sequence is fine).

    **Arguments:**

    - `model`: the model.
    - `fit_method`: an [`funcdyn.train.OfflineMethod`][]: default
      [`funcdyn.train.RidgeRegression`][]`()`; also
      [`funcdyn.train.LinearRegression`][], [`funcdyn.train.LassoRegression`][],
      [`funcdyn.train.LogisticRegression`][].

    **Limitations:** all readouts are fitted from one run with their current weights, so
    a readout's output should not feed the layers in front of another readout (nor itself
    through feedback); the usual model, with readouts at the end, is exact. A readout's
    input is recorded through the readout's state, so a hand-written network must give
    each readout the state that `init_state` built for it. All recorded inputs are kept
    (memory `T * batch * num_in` per readout) before the solve; for very long data, fit
    on chunks or accumulate the normal equations yourself.

    ```python
    nvar = funcdyn.layers.NVAR(3, delay=2, order=2, constant=True, mode=funcdyn.batching_mode)
    readout = funcdyn.layers.Dense(nvar.num_out, 3, b_initializer=None,
                                   mode=funcdyn.training_mode, key=key)
    trainer = funcdyn.train.OfflineTrainer(nvar >> readout,
                                           funcdyn.train.RidgeRegression(alpha=2.5e-6))
    model = trainer.fit(xs, ys, dt=0.025)   # xs: (T, batch, 3), ys: (T, batch, 3)
    ```
    """

    model: Any
    fit_method: OfflineMethod

    def __init__(self, model: Any, fit_method: OfflineMethod | None = None):
        fit_method = RidgeRegression() if fit_method is None else fit_method
        if not isinstance(fit_method, OfflineMethod):
            raise TypeError(
                "OfflineTrainer: `fit_method` must be a funcdyn.train.OfflineMethod such as "
                f"funcdyn.train.RidgeRegression(alpha=1e-6), got {fit_method!r}."
            )
        tap_readouts(model)  # a clear error now when there is no readout
        self.model = model
        self.fit_method = fit_method

    @_PlainMethod
    def fit(
        self,
        xs: Any,
        ys: Any,
        *,
        dt: float = 1.0,
        state: Any = None,
        batch_size: int | None = None,
        t0: float = 0.0,
        i0: int = 0,
        key: PRNGKeyArray | None = None,
        time_major: bool = True,
    ) -> Any:
        """Fits the readouts and returns the new model (the trainer is unchanged).

        **Arguments:**

        - `xs`: the inputs, `(T, batch, num_in)` in a batching mode or `(T, num_in)`
          (with `time_major=False`: `(batch, T, num_in)`); any pytree that
          [`funcdyn.run`][] takes.
        - `ys`: the targets of the readout, with the inputs' leading axes and the
          readout's `num_out` last (integer class labels without that axis are one-hot
          encoded); for several readouts a dict keyed by their `name` (or position) or a
          list in pytree order.
        - `dt`, `t0`, `i0`, `key`, `time_major`: as in [`funcdyn.run`][].
        - `state`: the model's initial state, e.g. the final state of a warm-up run
          (default `init_state`). Every step of `xs` is a training sample, so warm up
          first to leave transients out.
        - `batch_size`: used when `state` is `None`.

        **Returns:** the model with fitted readout weights.
        """
        prepared = _prepare(self)
        targets = targets_by_name(ys, prepared.names, "OfflineTrainer.fit")
        if batch_size is None and prepared.batching:
            shape = getattr(xs, "shape", None)  # an array, or a pytree of them
            if shape is None:
                shape = np.shape(jtu.tree_leaves(xs)[0])
            if len(shape) < 2:
                raise ValueError(
                    "OfflineTrainer.fit: the model is in a batching mode but `xs` has no "
                    "batch axis; pass (T, batch, num_in)."
                )
            batch_size = int(shape[1 if time_major else 0])
        options = (dt, t0, i0, batch_size, time_major)
        fitted = _fast_fit(prepared, xs, targets, state, key, options)
        if fitted is None:
            fitted = _offline_fit_general(
                self.model, self.fit_method, xs, targets, state, key, *options
            )
        return fitted
