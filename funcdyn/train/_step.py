"""The functional core of training: a jitted optax step over the trainable arrays."""

from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import optax
from jaxtyping import Array, PRNGKeyArray

from .._core._trainable import trainable
from ._sharding import check_mesh, replicate, shard_batch

LossFn = Callable[[Any, Any, PRNGKeyArray | None], Any]


def check_optimizer(optimizer: Any, who: str) -> None:
    """A `TypeError` unless `optimizer` looks like an optax `GradientTransformation`."""
    if not (callable(getattr(optimizer, "init", None)) and callable(
        getattr(optimizer, "update", None)
    )):
        raise TypeError(
            f"{who}: `optimizer` must be an optax GradientTransformation (with `init` and "
            f"`update`), e.g. optax.adam(1e-3); got {type(optimizer).__name__}."
        )


def optax_promotion():
    """The dtype-promotion rules optax is written for. Optax mixes Python floats with
    integer step counts, which `jax_numpy_dtype_promotion="strict"` refuses; the user's
    setting still applies to the loss and the model."""
    return jax.numpy_dtype_promotion("standard")


def split_loss_output(out: Any, has_aux: bool, who: str = "loss_fn") -> tuple[Array, Any]:
    """`(loss, aux)` from what a loss function returned, checking that the loss is a
    scalar; `aux` is `{}` when `has_aux` is `False`."""
    if has_aux:
        if not (isinstance(out, tuple) and len(out) == 2):
            raise ValueError(
                f"{who} was declared with has_aux=True, so it must return (loss, aux); got "
                f"{type(out).__name__}."
            )
        loss, aux = out
    else:
        if isinstance(out, tuple):
            raise ValueError(
                f"{who} returned a tuple: if it returns (loss, aux), pass has_aux=True."
            )
        loss, aux = out, {}
    if jnp.shape(loss) != ():
        raise ValueError(
            f"{who} must return a scalar loss (average over the batch), got shape "
            f"{jnp.shape(loss)}."
        )
    return loss, aux


def partition_trainable(model: Any, filter_spec: Any = None) -> tuple[Any, Any]:
    """Splits `model` into `(params, rest)`: `params` holds the floating-point arrays
    selected by `filter_spec` (default [`funcdyn.trainable`][]`(model)`), `rest`
    everything else; `eqx.combine(params, rest)` is `model` again."""
    spec = trainable(model) if filter_spec is None else filter_spec
    params, rest = eqx.partition(model, spec)
    # A filter may select integer arrays or non-arrays; only floats can be trained.
    params, frozen = eqx.partition(params, eqx.is_inexact_array)
    return params, eqx.combine(frozen, rest)


def _update(fixed, params, opt_state):
    loss_fn, optimizer, has_aux, rest, batch, key = fixed

    def objective(p):
        return split_loss_output(loss_fn(eqx.combine(p, rest), batch, key), has_aux)

    (loss, aux), grads = eqx.filter_value_and_grad(objective, has_aux=True)(params)
    with optax_promotion():
        updates, opt_state = optimizer.update(grads, opt_state, params)
    params = eqx.apply_updates(params, updates)
    return params, opt_state, loss, aux


# Module-level jits: the cache lives as long as the process, keyed on the loss function,
# the optimizer and the shapes. With donation only `params` and `opt_state` (arguments 2
# and 3) give up their buffers; the loss function, the frozen arrays and the batch do not.
# This general path serves loss functions that hold arrays (and so cannot be hashed).
_update_jit = eqx.filter_jit(_update)
_update_jit_donate = eqx.filter_jit(_update, donate="all-except-first")


class _Plan(NamedTuple):
    """How one model structure splits into trainable leaves and the rest."""

    treedef: Any
    trainable: tuple[int, ...]  # positions of the trainable leaves
    frozen: tuple[int, ...]  # positions of the other array leaves
    static: tuple[tuple[int, Any], ...]  # (position, value) of the non-array leaves


def _assemble(plan: _Plan, trainable_leaves, frozen_leaves, with_static: bool = True):
    leaves: list[Any] = [None] * plan.treedef.num_leaves
    for i, leaf in zip(plan.trainable, trainable_leaves):
        leaves[i] = leaf
    for i, leaf in zip(plan.frozen, frozen_leaves):
        leaves[i] = leaf
    if with_static:
        for i, leaf in plan.static:
            leaves[i] = leaf
    return plan.treedef.unflatten(leaves)


def _fast_update(static, trainable_leaves, frozen_leaves, opt_state, batch, key):
    plan, loss_fn, optimizer, has_aux = static
    # The same pytree `init` gave the optimizer: the model with None off the trainables.
    params = _assemble(plan, trainable_leaves, [None] * len(plan.frozen), with_static=False)
    rest = _assemble(plan, [None] * len(plan.trainable), frozen_leaves)

    def objective(p):
        return split_loss_output(loss_fn(eqx.combine(p, rest), batch, key), has_aux)

    (loss, aux), grads = jax.value_and_grad(objective, has_aux=True)(params)
    with optax_promotion():
        updates, opt_state = optimizer.update(grads, opt_state, params)
    params = eqx.apply_updates(params, updates)
    return jtu.tree_leaves(params), opt_state, loss, aux


# The fast path: plain `jax.jit` on flat leaf lists, with the structure, the non-array
# leaves, the loss and the optimizer as one hashable static argument. Its dispatch costs
# about what a hand-written jitted step costs, which matters for short steps.
_fast_jit = jax.jit(_fast_update, static_argnums=0)
_fast_jit_donate = jax.jit(_fast_update, static_argnums=0, donate_argnums=(1, 3))


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def make_step(
    loss_fn: LossFn,
    optimizer: optax.GradientTransformation,
    *,
    filter_spec: Any = None,
    has_aux: bool = False,
    mesh: jax.sharding.Mesh | None = None,
    donate: bool = False,
) -> tuple[Callable[[Any], Any], Callable[..., tuple[Any, Any, Array, Any]]]:
    """Builds a jitted optax training step, as an `(init, step)` pair.

    Each step computes `loss, grads = value_and_grad(loss_fn)(model, batch, key)` with
    respect to the trainable arrays only, transforms the gradients with `optimizer` and
    applies the updates; the rest of the model (hyperparameters, arrays of modules not in
    [`funcdyn.TrainingMode`][]) is left exactly as it is. The step is one compiled call:
    a sequence loss that runs the model through [`funcdyn.run`][] backpropagates through
    the whole `lax.scan` (BPTT). It compiles on the first call and reuses that compilation
    for every later call with inputs of the same shapes and dtypes.

    **Arguments:**

    - `loss_fn`: `loss_fn(model, batch, key) -> loss` (a scalar), or `-> (loss, aux)` with
      `has_aux=True`, where `aux` is a pytree of arrays (e.g. a dict of metrics). `batch`
      and `key` are passed through from `step`. See [`funcdyn.train.sequence_loss`][]
      for a loss written on the outputs of [`funcdyn.run`][].
    - `optimizer`: any optax `GradientTransformation`: a chain with clipping, a learning-
      rate schedule, `optax.MultiSteps` gradient accumulation, ...
    - `filter_spec`: which arrays to train: an Equinox filter spec (a pytree of bools
      with the structure of the model, or a per-leaf callable). Default
      [`funcdyn.trainable`][]`(model)`: the arrays of modules in `TrainingMode`. Only
      floating-point arrays are ever trained.
    - `has_aux`: whether `loss_fn` returns `(loss, aux)`.
    - `mesh`: a device mesh with a `"batch"` axis ([`funcdyn.train.batch_mesh`][]) for
      data-parallel training: every array of `batch` is split along its first axis over
      the devices and the parameters and optimizer state are replicated (see
      [`funcdyn.train.shard_batch`][] for multi-host use). `None`: no placement.
    - `donate`: donate the buffers of the trainable arrays and of `opt_state` to the step,
      so the updated ones reuse their memory. The `model` and `opt_state` passed to `step`
      are then consumed: use only the returned ones.

    **Returns:** `(init, step)`:

    - `init(model) -> opt_state`: the optimizer state of the trainable arrays.
    - `step(model, opt_state, batch, key) -> (model, opt_state, loss, aux)`: one update;
      `aux` is `{}` when `has_aux=False`.

    ```python
    def loss_fn(model, batch, key):
        x, y = batch                                   # x: (T, batch, n_in)
        _, ys, _ = funcdyn.run(model, x, dt=1.0, fit=True, key=key)
        return funcdyn.losses.cross_entropy_max_over_time(ys, y, time_axis=0)

    init, step = funcdyn.train.make_step(loss_fn, optax.adam(1e-3))
    opt_state = init(model)
    for i, batch in enumerate(batches):
        model, opt_state, loss, _ = step(model, opt_state, batch, jax.random.fold_in(key, i))
    ```
    """
    if not callable(loss_fn):
        raise TypeError(f"make_step: `loss_fn` must be callable, got {type(loss_fn).__name__}.")
    check_optimizer(optimizer, "make_step")
    if not isinstance(has_aux, bool):
        raise TypeError(f"make_step: `has_aux` must be a bool, got {has_aux!r}.")
    mesh = check_mesh(mesh, "make_step")
    update = _update_jit_donate if donate else _update_jit
    fast = _fast_jit_donate if donate else _fast_jit
    fast_ok = _hashable(loss_fn) and _hashable(optimizer)
    plans: dict[Any, _Plan | None] = {}

    def plan_of(model: Any, leaves: list, treedef: Any) -> _Plan | None:
        kinds = tuple(
            2 if eqx.is_inexact_array(leaf) else 1 if eqx.is_array(leaf) else 0
            for leaf in leaves
        )
        cache_key = (treedef, kinds)
        plan = plans.get(cache_key)
        if plan is None and cache_key not in plans:
            params, _ = partition_trainable(model, filter_spec)
            try:
                marks = [leaf is not None for leaf in treedef.flatten_up_to(params)]
            except (ValueError, TypeError):
                marks = []
            plan = _Plan(
                treedef=treedef,
                trainable=tuple(i for i, m in enumerate(marks) if m),
                frozen=tuple(i for i, (m, k) in enumerate(zip(marks, kinds)) if not m and k),
                static=tuple((i, leaves[i]) for i, k in enumerate(kinds) if not k),
            )
            if len(marks) != len(leaves) or not _hashable(plan.static):
                plan = None  # unusual structure or unhashable leaves: the general path
            plans[cache_key] = plan
        if plan is not None and plan.static:
            # Non-array leaves may change value under the same structure.
            current = tuple((i, leaves[i]) for i, _ in plan.static)
            if current != plan.static:
                if not _hashable(current):
                    return None
                plan = plan._replace(static=current)
        return plan

    def init(model: Any) -> Any:
        params, _ = partition_trainable(model, filter_spec)
        if not jtu.tree_leaves(params):
            raise ValueError(
                "make_step: the model has no trainable arrays. Build the modules to train "
                "in funcdyn.training_mode (or inside funcdyn.training_environment()), or "
                "pass `filter_spec`."
            )
        with optax_promotion():
            opt_state = optimizer.init(params)
        return opt_state if mesh is None else replicate(opt_state, mesh)

    def step(model: Any, opt_state: Any, batch: Any, key: PRNGKeyArray | None):
        if fast_ok:
            leaves, treedef = jtu.tree_flatten(model)
            plan = plan_of(model, leaves, treedef)
            if plan is not None:
                trainable_leaves = [leaves[i] for i in plan.trainable]
                frozen_leaves = [leaves[i] for i in plan.frozen]
                if mesh is not None:
                    batch = shard_batch(batch, mesh)
                    trainable_leaves, frozen_leaves, opt_state = replicate(
                        (trainable_leaves, frozen_leaves, opt_state), mesh
                    )
                new_leaves, opt_state, loss, aux = fast(
                    (plan, loss_fn, optimizer, has_aux),
                    trainable_leaves, frozen_leaves, opt_state, batch, key,
                )
                for i, leaf in zip(plan.trainable, new_leaves):
                    leaves[i] = leaf
                return treedef.unflatten(leaves), opt_state, loss, aux
        params, rest = partition_trainable(model, filter_spec)
        if mesh is not None:
            batch = shard_batch(batch, mesh)
            params, rest, opt_state = replicate((params, rest, opt_state), mesh)
        fixed = (loss_fn, optimizer, has_aux, rest, batch, key)
        params, opt_state, loss, aux = update(fixed, params, opt_state)
        return eqx.combine(params, rest), opt_state, loss, aux

    return init, step
