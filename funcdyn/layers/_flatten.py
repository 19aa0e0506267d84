"""Reshaping layers: Flatten and Unflatten."""

import math
from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._core._context import Context
from .._core._modes import Mode, resolve_mode
from .._core._system import DynamicalSystem


def _check_int(value, arg: str, cls: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{cls}: `{arg}` must be an int, got {value!r}.")
    return int(value)


def _example_axis(model, x: Array, dim: int, arg: str) -> int:
    """The axis of `x` that example axis `dim` refers to (the batch axis is skipped)."""
    batch = 1 if model.mode.is_batching else 0
    ndim = x.ndim - batch
    if ndim < 1 or not -ndim <= dim < ndim:
        raise ValueError(
            f"{type(model).__name__}: `{arg}={dim}` is out of range for an input of shape "
            f"{x.shape} in {model.mode} ({max(ndim, 0)} axes per example; the batch axis "
            "is not counted)."
        )
    return batch + dim % ndim


class Flatten(DynamicalSystem):
    """Flattens the axes `start_dim` to `end_dim` (inclusive) of each example into one.
    Stateless.

    The axes are counted per example: the batch axis of a batching mode is never
    flattened, so the same layer works in every mode.

    **Arguments:**

    - `start_dim`, `end_dim`: the first and last example axes to flatten (default: all
      of them, `0` and `-1`).
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][].

    ```python
    flat = funcdyn.layers.Flatten(mode=funcdyn.batching_mode)
    _, y = flat(None, x, ctx)     # (batch, 7, 7, 16) -> (batch, 784)
    ```
    """

    start_dim: int = eqx.field(static=True)
    end_dim: int = eqx.field(static=True)

    def __init__(self, start_dim: int = 0, end_dim: int = -1, *, mode: Mode | None = None,
                 name: str | None = None):
        self.start_dim = _check_int(start_dim, "start_dim", "Flatten")
        self.end_dim = _check_int(end_dim, "end_dim", "Flatten")
        if start_dim >= 0 and end_dim >= 0 and start_dim > end_dim:
            raise ValueError(
                f"Flatten: `start_dim` ({start_dim}) must not come after `end_dim` ({end_dim})."
            )
        self.mode = resolve_mode(mode)
        self.name = name

    def init_state(self, batch_size: int | None = None, *, key=None) -> None:
        """Flatten has no state: returns `None`."""
        self.check_batch_size(batch_size)
        return None

    def __call__(self, state: None, x: Array, ctx: Context) -> tuple[None, Array]:
        x = jnp.asarray(x)
        start = _example_axis(self, x, self.start_dim, "start_dim")
        end = _example_axis(self, x, self.end_dim, "end_dim")
        if start > end:
            raise ValueError(
                f"Flatten: `start_dim` ({self.start_dim}) comes after `end_dim` "
                f"({self.end_dim}) for an input of shape {x.shape}."
            )
        shape = x.shape[:start] + (math.prod(x.shape[start : end + 1]),) + x.shape[end + 1 :]
        return state, x.reshape(shape)


class Unflatten(DynamicalSystem):
    """Splits example axis `dim` into the axes `sizes`; the inverse of
    [`funcdyn.layers.Flatten`][]. Stateless.

    **Arguments:**

    - `dim`: the example axis to split (the batch axis is not counted).
    - `sizes`: the new axes' sizes; their product must equal the size of axis `dim`.
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][].

    ```python
    unflat = funcdyn.layers.Unflatten(0, (7, 7, 16), mode=funcdyn.batching_mode)
    _, y = unflat(None, x, ctx)   # (batch, 784) -> (batch, 7, 7, 16)
    ```
    """

    dim: int = eqx.field(static=True)
    sizes: tuple[int, ...] = eqx.field(static=True)

    def __init__(self, dim: int, sizes: Sequence[int], *, mode: Mode | None = None,
                 name: str | None = None):
        self.dim = _check_int(dim, "dim", "Unflatten")
        if (
            not isinstance(sizes, Sequence)
            or isinstance(sizes, str)
            or len(sizes) == 0
            or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1
                   for s in sizes)
        ):
            raise ValueError(
                f"Unflatten: `sizes` must be a non-empty sequence of positive ints, got "
                f"{sizes!r}."
            )
        self.sizes = tuple(int(s) for s in sizes)
        self.mode = resolve_mode(mode)
        self.name = name

    def init_state(self, batch_size: int | None = None, *, key=None) -> None:
        """Unflatten has no state: returns `None`."""
        self.check_batch_size(batch_size)
        return None

    def __call__(self, state: None, x: Array, ctx: Context) -> tuple[None, Array]:
        x = jnp.asarray(x)
        axis = _example_axis(self, x, self.dim, "dim")
        if x.shape[axis] != math.prod(self.sizes):
            raise ValueError(
                f"Unflatten: axis {self.dim} of the input has size {x.shape[axis]}, which "
                f"cannot be split into {self.sizes} (product {math.prod(self.sizes)})."
            )
        return state, x.reshape(x.shape[:axis] + self.sizes + x.shape[axis + 1 :])
