"""Offline readout training: run the model once, record the readouts' inputs, solve."""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
from jaxtyping import Array, PRNGKeyArray

from .._run import run
from ._fit_method import OfflineMethod
from ._readouts import (
    _Tap,
    as_target_list,
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
    treedef, others, options = static
    leaves = list(arrays)
    for i, leaf in others:
        leaves.insert(i, leaf)
    model, method, xs, ys, state, key = jtu.tree_unflatten(treedef, leaves)
    fitted = _offline_fit(model, method, xs, ys, state, key, *options)
    return [leaf for leaf in jtu.tree_leaves(fitted) if eqx.is_array(leaf)]


# A plain `jax.jit` keyed on the (hashable) structure: at the paper's NG-RC size the
# whole fit takes a few hundred microseconds, and `eqx.filter_jit`'s per-call
# partitioning of the model added about half of that again.
_fit_from_leaves_jit = jax.jit(_fit_from_leaves, static_argnums=0)


def _fast_fit(model, method, xs, ys, state, key, options):
    """`_offline_fit` through `_fit_from_leaves_jit`, or `None` when a non-array leaf is
    not hashable (then the general path runs)."""
    leaves, treedef = jtu.tree_flatten((model, method, xs, ys, state, key))
    arrays, others = [], []
    for i, leaf in enumerate(leaves):
        if eqx.is_array(leaf):
            arrays.append(leaf)
        else:
            others.append((i, leaf))
    static = (treedef, tuple(others), options)
    try:
        hash(static)
    except TypeError:
        return None
    fitted_arrays = iter(_fit_from_leaves_jit(static, arrays))
    # Only readout weights change: the fitted model has the input model's structure, and
    # its leaves come first in `leaves`.
    model_def = treedef.children()[0]
    out = [
        next(fitted_arrays) if eqx.is_array(leaf) else leaf
        for leaf in leaves[: model_def.num_leaves]
    ]
    return jtu.tree_unflatten(model_def, out)


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
        readouts = readouts_of(self.model)
        targets = as_target_list(ys, readouts, "OfflineTrainer.fit")
        mode = getattr(self.model, "mode", None)
        if batch_size is None and mode is not None and mode.is_batching:
            leaf = jtu.tree_leaves(xs)[0]
            if jnp.ndim(leaf) < 2:
                raise ValueError(
                    "OfflineTrainer.fit: the model is in a batching mode but `xs` has no "
                    "batch axis; pass (T, batch, num_in)."
                )
            batch_size = int(jnp.shape(leaf)[1 if time_major else 0])
        options = (dt, t0, i0, batch_size, time_major)
        fitted = _fast_fit(self.model, self.fit_method, xs, targets, state, key, options)
        if fitted is None:
            fitted = _offline_fit_general(
                self.model, self.fit_method, xs, targets, state, key, *options
            )
        return fitted
