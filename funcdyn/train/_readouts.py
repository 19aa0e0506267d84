"""Finding the trainable readouts of a model and recording their inputs in one run.

The readouts are the [`funcdyn.layers.Dense`][] layers in [`funcdyn.TrainingMode`][]. To
record what they see in one compiled loop, each one is wrapped in a `_Tap` whose state
carries the readout's latest input next to the readout's own state; a monitor of
[`funcdyn.run`][] then collects the taps' inputs from the model state at every step.
"""

from typing import Any

import equinox as eqx
import jax.numpy as jnp
import jax.tree_util as jtu
from jaxtyping import Array

from .._core._context import Context
from .._core._system import DynamicalSystem
from ..layers._dense import Dense


def is_readout(node: Any) -> bool:
    """Whether `node` is a trainable readout: a `Dense` in a training mode."""
    return isinstance(node, Dense) and node.mode.is_trainable


def find_readouts(model: Any) -> list[Dense]:
    """The trainable readouts of `model`, in pytree order."""
    nodes = jtu.tree_leaves(model, is_leaf=is_readout)
    return [node for node in nodes if is_readout(node)]


def readouts_of(model: Any) -> list[Dense]:
    """The readouts, counting a bare readout as the model itself."""
    return [model] if is_readout(model) else find_readouts(model)


def replace_readouts(model: Any, new: list[Any]) -> Any:
    """`model` with its readouts (in pytree order) replaced by `new`."""
    supply = iter(new)
    return jtu.tree_map(
        lambda node: next(supply) if is_readout(node) else node, model, is_leaf=is_readout
    )


def readout_names(readouts: list[Dense]) -> list[str]:
    """The keys of a dict of targets: each readout's `name`, or its position."""
    return [d.name if d.name is not None else str(k) for k, d in enumerate(readouts)]


class _TapState(eqx.Module):
    inner: Any
    x: Array
    tag: int = eqx.field(static=True)


class _Tap(DynamicalSystem):
    """Runs a readout unchanged and keeps its input in the state."""

    layer: Dense
    tag: int = eqx.field(static=True)

    def __init__(self, layer: Dense, tag: int):
        self.layer = layer
        self.tag = tag
        self.mode = layer.mode
        self.name = layer.name

    def init_state(self, batch_size: int | None = None, *, key=None) -> _TapState:
        inner = self.layer.init_state(batch_size, key=key)
        shape = (self.layer.num_in,) if batch_size is None else (batch_size, self.layer.num_in)
        return _TapState(inner, jnp.zeros(shape, self.layer.W.dtype), self.tag)

    def __call__(self, state: _TapState, x: Array, ctx: Context) -> tuple[_TapState, Array]:
        if not isinstance(state, _TapState):
            raise ValueError(
                "funcdyn.train records a readout's input through the readout's state, but "
                f"readout {self.tag} was called with {type(state).__name__} as its state. "
                "Pass each layer the state that init_state built for it (a network's "
                "__call__ must not replace the readout's state by None)."
            )
        inner, y = self.layer(state.inner, x, ctx)
        x = jnp.asarray(x).astype(state.x.dtype)
        return _TapState(inner, jnp.broadcast_to(x, state.x.shape), self.tag), y


def _is_tap_state(node: Any) -> bool:
    return isinstance(node, _TapState)


def tap_readouts(model: Any) -> tuple[Any, list[Dense]]:
    """`(tapped_model, readouts)`: `model` with each readout wrapped in a `_Tap`."""
    if is_readout(model):
        return _Tap(model, 0), [model]
    readouts = find_readouts(model)
    if not readouts:
        raise ValueError(
            "funcdyn.train: the model has no trainable readout. Readouts are "
            "funcdyn.layers.Dense layers built in funcdyn.training_mode (the other layers, "
            "e.g. NVAR or Reservoir, in funcdyn.batching_mode)."
        )
    return replace_readouts(model, [_Tap(d, k) for k, d in enumerate(readouts)]), readouts


def tap_state(tapped: Any, state: Any, batch_size: int | None) -> Any:
    """Turns a state of the original model into one of the tapped model.

    The readouts' own states (`None` for `Dense`) sit where the tapped model keeps a
    `_TapState`; everything else is kept."""
    fresh = tapped.init_state(batch_size)
    if state is None:
        return fresh
    try:
        return jtu.tree_map(
            lambda t, s: _TapState(s, t.x, t.tag) if _is_tap_state(t) else s,
            fresh,
            state,
            is_leaf=_is_tap_state,
        )
    except (ValueError, TypeError) as err:
        raise ValueError(
            "funcdyn.train: `state` does not have the structure of the model's "
            f"init_state({batch_size!r}): {err}"
        ) from err


def untap_state(state: Any) -> Any:
    """The inverse of `tap_state`: the state of the original model."""
    return jtu.tree_map(
        lambda s: s.inner if _is_tap_state(s) else s, state, is_leaf=_is_tap_state
    )


def tapped_inputs(state: Any, num: int) -> list[Array]:
    """The latest input of each of the `num` readouts, from a tapped model's state."""
    found = {}
    for node in jtu.tree_leaves(state, is_leaf=_is_tap_state):
        if _is_tap_state(node):
            found[node.tag] = node.x
    missing = [k for k in range(num) if k not in found]
    if missing:
        raise ValueError(
            f"funcdyn.train: the inputs of readouts {missing} are not in the model state; "
            "the model's init_state must include each readout's state."
        )
    return [found[k] for k in range(num)]


def as_target_list(ys: Any, readouts: list[Dense], who: str) -> list[Any]:
    """The targets as a list aligned with `readouts`: an array for a single readout, or
    a dict keyed by the readouts' names (or positions), or a list/tuple in order."""
    return targets_by_name(ys, readout_names(readouts), who)


def targets_by_name(ys: Any, names: list[str], who: str) -> list[Any]:
    """`as_target_list` given the readouts' names (`readout_names`)."""
    n = len(names)
    if isinstance(ys, dict):
        if set(ys) != set(names):
            raise ValueError(
                f"{who}: the targets dict has keys {sorted(ys)}, but the readouts are named "
                f"{names} (a readout's `name`, else its position in the model)."
            )
        return [ys[k] for k in names]
    if isinstance(ys, (list, tuple)):
        if len(ys) != n:
            raise ValueError(f"{who}: got {len(ys)} targets for {n} readouts.")
        return list(ys)
    if n != 1:
        raise ValueError(
            f"{who}: the model has {n} readouts; pass the targets as a dict keyed by "
            f"{names} or a list in that order."
        )
    return [ys]
