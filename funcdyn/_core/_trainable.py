"""The filter spec of the trainable arrays."""

from typing import Any

import equinox as eqx
import jax.tree_util as jtu

from ._system import DynamicalSystem


def _mark(node: Any, inherited: bool) -> Any:
    flag = node.mode.is_trainable if isinstance(node, DynamicalSystem) else inherited

    def is_child_system(x: Any) -> bool:
        return x is not node and isinstance(x, DynamicalSystem)

    def mark_leaf(leaf: Any) -> Any:
        if is_child_system(leaf):
            return _mark(leaf, flag)
        return flag if eqx.is_inexact_array(leaf) else False

    return jtu.tree_map(mark_leaf, node, is_leaf=is_child_system)


def trainable(model: Any) -> Any:
    """The filter spec (a pytree of bools with the structure of `model`) of its trainable
    arrays: the floating-point arrays of modules in [`funcdyn.TrainingMode`][].

    Arrays of plain `equinox.Module`s take the mode of the nearest enclosing
    [`funcdyn.DynamicalSystem`][]; a model mixing modes (an NVAR in batching mode feeding
    a Dense in training mode) selects only the training-mode arrays. Python floats and
    integer arrays are never trainable.

    ```python
    params, static = eqx.partition(model, funcdyn.trainable(model))
    opt_state = optimizer.init(params)
    ...
    model = eqx.combine(params, static)
    ```
    """
    return _mark(model, False)
