"""The functional core of training: a jitted optax step over the trainable arrays."""

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import optax
from jaxtyping import Array, PRNGKeyArray

from .._core._trainable import trainable
from ..typing import LossFn
from ._sequence_loss import SequenceLoss
from ._sharding import check_mesh, replicate, shard_batch



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


ON_NONFINITE = ("raise", "skip", "ignore")


class NonFiniteError(FloatingPointError):
    """A training step produced a NaN or an infinity in the loss, a gradient or an
    updated parameter (`on_nonfinite="raise"`).

    **Attributes:** `model` and `opt_state` (the last finite ones: the offending update
    was dropped), `leaves` (the paths of the first non-finite values, e.g.
    `"grad[1].W"`), `step` and `epoch` (where known, else `None`).
    """

    def __init__(self, message: str, *, model: Any, opt_state: Any, leaves: list[str],
                 step: int | None = None, epoch: int | None = None):
        super().__init__(message)
        self.model, self.opt_state, self.leaves = model, opt_state, leaves
        self.step, self.epoch = step, epoch


class _ByIdentity:
    """A static value that cannot be hashed, compared by identity (a new object means
    a new compilation, as for any static argument)."""

    def __init__(self, value: Any):
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, _ByIdentity) and other.value is self.value


def _static(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return _ByIdentity(value)
    return value


def _unwrap(value: Any) -> Any:
    return value.value if isinstance(value, _ByIdentity) else value


class _Plan(NamedTuple):
    """How one model structure splits into trainable leaves, the other arrays and the
    non-array leaves; and the paths that name its trainable leaves in errors."""

    treedef: Any
    trainable: tuple[int, ...]  # positions of the trainable leaves
    frozen: tuple[int, ...]  # positions of the other array leaves
    static: tuple[tuple[int, Any], ...]  # (position, value) of the non-array leaves
    paths: tuple[str, ...]  # the trainable leaves' paths in the model


def _assemble(plan: _Plan, trainable_leaves, frozen_leaves, with_static: bool = True):
    leaves: list[Any] = [None] * plan.treedef.num_leaves
    for i, leaf in zip(plan.trainable, trainable_leaves):
        leaves[i] = leaf
    for i, leaf in zip(plan.frozen, frozen_leaves):
        leaves[i] = leaf
    if with_static:
        for i, leaf in plan.static:
            leaves[i] = _unwrap(leaf)
    return plan.treedef.unflatten(leaves)


def _all_finite(tree: Any) -> list[Array]:
    return [jnp.all(jnp.isfinite(x)) for x in jtu.tree_leaves(tree) if eqx.is_inexact_array(x)]


def apply_update(objective, optimizer, params, opt_state, check: bool):
    """One optimizer update of `params`: `objective(params) -> (loss, aux)` is
    differentiated, `optimizer` transforms the gradients and they are applied. With
    `check`, one fused reduction flags the loss, every gradient and every updated
    parameter, and a non-finite update is dropped (the old `params` and `opt_state` are
    returned). **Returns:** `(params, opt_state, loss, aux, flags)`."""
    (loss, aux), grads = jax.value_and_grad(objective, has_aux=True)(params)
    with optax_promotion():
        updates, new_opt_state = optimizer.update(grads, opt_state, params)
    new_params = eqx.apply_updates(params, updates)
    if not check:
        return new_params, new_opt_state, loss, aux, jnp.ones((1,), bool)
    flags = jnp.stack([jnp.all(jnp.isfinite(loss))] + _all_finite(grads) + _all_finite(new_params))
    new_params, new_opt_state = keep_if_finite(
        jnp.all(flags), (new_params, new_opt_state), (params, opt_state))
    return new_params, new_opt_state, loss, aux, flags


def one_update(loss_fn, has_aux, params, rest, opt_state, batch, key, update):
    """The update scheme of [`funcdyn.train.make_step`][]: one update per batch.
    (A scheme gets the loss, the split model, the batch and `update(objective, params,
    opt_state)`, and returns what `update` returns; truncated BPTT's makes one update
    per window.)"""

    def objective(p):
        return split_loss_output(loss_fn(eqx.combine(p, rest), batch, key), has_aux)

    return update(objective, params, opt_state)


def _update(static, trainable_leaves, frozen_leaves, loss_arrays, opt_state, batch, key):
    plan, loss_static, optimizer, has_aux, check, scheme = static
    # The same pytree `init` gave the optimizer: the model with None off the trainables.
    params = _assemble(plan, trainable_leaves, [None] * len(plan.frozen), with_static=False)
    rest = _assemble(plan, [None] * len(plan.trainable), frozen_leaves)
    loss_fn = eqx.combine(loss_arrays, _unwrap(loss_static))

    def update(objective, params, opt_state):
        return apply_update(objective, _unwrap(optimizer), params, opt_state, check)

    new_params, new_opt_state, loss, aux, flags = scheme(
        loss_fn, has_aux, params, rest, opt_state, batch, key, update
    )
    return jtu.tree_leaves(new_params), new_opt_state, loss, aux, flags


def keep_if_finite(ok: Array, new: Any, old: Any) -> Any:
    """`new` where the traced flag `ok` holds, else `old` (array leaf by array leaf)."""
    return jtu.tree_map(
        lambda n, o: jnp.where(ok, n, o) if eqx.is_array(n) else n, new, old)


# One compiled step for every loss: the structure, the non-array leaves, the optimizer
# and the non-array part of the loss are one hashable static argument; the arrays (the
# trainable and frozen leaves, the loss's own arrays, the batch) are traced. With
# donation only the trainable leaves and the optimizer state give up their buffers.
_update_jit = jax.jit(_update, static_argnums=0)
_update_jit_donate = jax.jit(_update, static_argnums=0, donate_argnums=(1, 4))


@jax.jit
def _to_time_major(x: Any) -> Any:
    return jtu.tree_map(lambda a: jnp.swapaxes(a, 0, 1), x)


def _has_sequences(batch: Any) -> bool:
    """Whether `batch` is `(x, y)` with every leaf of `x` an array of rank >= 2 (else
    the loss itself is left to report the layout error)."""
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        return False
    leaves = jtu.tree_leaves(batch[0])
    return bool(leaves) and all(eqx.is_array(a) and a.ndim >= 2 for a in leaves)


def _nonfinite_paths(flags: Any, plan: _Plan) -> list[str]:
    """The names of the non-finite entries of the flag vector of one step: the loss,
    the gradients, then the updated parameters (in the order of the trainable leaves)."""
    names = ["loss"] + [f"grad{p}" for p in plan.paths] + [f"param{p}" for p in plan.paths]
    bad = [name for name, ok in zip(names, jax.device_get(flags)) if not ok]
    return bad[:5]


def make_step(
    loss_fn: LossFn,
    optimizer: optax.GradientTransformation,
    *,
    filter_spec: Any = None,
    has_aux: bool = False,
    mesh: jax.sharding.Mesh | None = None,
    donate: bool = False,
    on_nonfinite: str = "raise",
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

    - `on_nonfinite`: what a step does when the loss, a gradient or an updated parameter
      is NaN or infinite (checked inside the compiled step by one fused reduction):
        - `"raise"` (default): the update is dropped and a
          [`funcdyn.train.NonFiniteError`][] names the first non-finite leaves by path;
          it carries the last finite `model` and `opt_state`. This reads one boolean
          from the device per step.
        - `"skip"`: the update is dropped (model and optimizer state stay as they were)
          and training goes on; the returned loss is the non-finite one, so it shows.
        - `"ignore"`: no check; non-finite values propagate into the model.

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
    return build_step(loss_fn, optimizer, filter_spec=filter_spec, has_aux=has_aux,
                      mesh=mesh, donate=donate, on_nonfinite=on_nonfinite,
                      scheme=one_update, batch_axis=0, who="make_step")


def build_step(loss_fn, optimizer, *, filter_spec, has_aux, mesh, donate, on_nonfinite,
               scheme, batch_axis: int, who: str):
    """`(init, step)` of [`funcdyn.train.make_step`][] with another update `scheme` (see
    `one_update`) and the batch axis `batch_axis` sharded over a mesh: the one compiled
    training step that every trainer uses."""
    if not callable(loss_fn):
        raise TypeError(f"{who}: `loss_fn` must be callable, got {type(loss_fn).__name__}.")
    check_optimizer(optimizer, who)
    if not isinstance(has_aux, bool):
        raise TypeError(f"{who}: `has_aux` must be a bool, got {has_aux!r}.")
    if not isinstance(donate, bool):
        raise TypeError(f"{who}: `donate` must be a bool, got {donate!r}.")
    if on_nonfinite not in ON_NONFINITE:
        raise ValueError(
            f"{who}: `on_nonfinite` must be one of {ON_NONFINITE}, got {on_nonfinite!r}."
        )
    mesh = check_mesh(mesh, who)
    update = _update_jit_donate if donate else _update_jit
    loss_arrays, loss_static = eqx.partition(loss_fn, eqx.is_array)
    loss_static = _static(loss_static)
    # A batch-major sequence loss gets its inputs transposed to time-major by a separate
    # compiled call: with the transpose inside the step, XLA:CPU ran the backward pass
    # of the time loop about 1.6x slower (same HLO loops; 64 vs 38 ms on the
    # bench_train_snn network). Not with a mesh: the batch stays as the user sharded it.
    pre_transpose = (
        isinstance(loss_fn, SequenceLoss) and not loss_fn.time_major
        and scheme is one_update and mesh is None
    )
    if pre_transpose:
        # The flag is a static field: the loss's arrays stay `loss_arrays`.
        tm_static = _static(eqx.partition(
            dataclasses.replace(loss_fn, inputs_time_major=True), eqx.is_array
        )[1])
    static_optimizer = _static(optimizer)
    check = on_nonfinite != "ignore"
    plans: dict[Any, _Plan] = {}

    def plan_of(model: Any, leaves: list, treedef: Any) -> _Plan:
        kinds = tuple(
            2 if eqx.is_inexact_array(leaf) else 1 if eqx.is_array(leaf) else 0
            for leaf in leaves
        )
        cache_key = (treedef, kinds)
        plan = plans.get(cache_key)
        if plan is None:
            params, _ = partition_trainable(model, filter_spec)
            marks = [leaf is not None for leaf in treedef.flatten_up_to(params)]
            paths = [jtu.keystr(p) for p, _ in jtu.tree_flatten_with_path(model)[0]]
            trainable = tuple(i for i, m in enumerate(marks) if m)
            plan = _Plan(
                treedef=treedef,
                trainable=trainable,
                frozen=tuple(i for i, (m, k) in enumerate(zip(marks, kinds)) if not m and k),
                static=tuple((i, _static(leaves[i])) for i, k in enumerate(kinds) if not k),
                paths=tuple(paths[i] for i in trainable),
            )
            plans[cache_key] = plan
        elif plan.static:
            # Non-array leaves may change value under the same structure.
            current = tuple((i, _static(leaves[i])) for i, _ in plan.static)
            if current != plan.static:
                plan = plan._replace(static=current)
        return plan

    def init(model: Any) -> Any:
        params, _ = partition_trainable(model, filter_spec)
        if not jtu.tree_leaves(params):
            raise ValueError(
                f"{who}: the model has no trainable arrays. Build the modules to train "
                "in funcdyn.training_mode (or inside funcdyn.training_environment()), or "
                "pass `filter_spec`."
            )
        with optax_promotion():
            opt_state = optimizer.init(params)
        return opt_state if mesh is None else replicate(opt_state, mesh)

    def step(model: Any, opt_state: Any, batch: Any, key: PRNGKeyArray | None):
        leaves, treedef = jtu.tree_flatten(model)
        plan = plan_of(model, leaves, treedef)
        trainable_leaves = [leaves[i] for i in plan.trainable]
        frozen_leaves = [leaves[i] for i in plan.frozen]
        arrays, static_loss = loss_arrays, loss_static
        if pre_transpose and _has_sequences(batch):
            batch = (_to_time_major(batch[0]), batch[1])
            static_loss = tm_static
        if mesh is not None:
            batch = shard_batch(batch, mesh, axis=batch_axis)
            trainable_leaves, frozen_leaves, arrays, opt_state = replicate(
                (trainable_leaves, frozen_leaves, arrays, opt_state), mesh
            )
        new_leaves, opt_state, loss, aux, flags = update(
            (plan, static_loss, static_optimizer, has_aux, check, scheme),
            trainable_leaves, frozen_leaves, arrays, opt_state, batch, key,
        )
        for i, leaf in zip(plan.trainable, new_leaves):
            leaves[i] = leaf
        model = treedef.unflatten(leaves)
        if on_nonfinite == "raise" and not bool(flags.all()):
            bad = _nonfinite_paths(flags, plan)
            raise NonFiniteError(
                f"{who}: the training step produced non-finite values in {', '.join(bad)}"
                f" (loss {float(loss)}); the update was dropped and the error carries the "
                "last finite model (`err.model`, `err.opt_state`). Lower the learning rate, "
                "clip gradients (optax.clip_by_global_norm), check the data for NaN, or "
                "pass on_nonfinite='skip'.",
                model=model, opt_state=opt_state, leaves=bad,
            )
        return model, opt_state, loss, aux

    return init, step
