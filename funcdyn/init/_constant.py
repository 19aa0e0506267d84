"""Deterministic initialisers: zeros, ones, constants, identity."""

from collections.abc import Sequence

import jax.numpy as jnp
from jaxtyping import Array

from ._base import Initializer, _dtype, _shape


class Constant(Initializer):
    """Fills the array with `value`."""

    value: float = 0.0
    needs_key = False

    def __call__(self, key, shape: Sequence[int], dtype=None) -> Array:
        return jnp.full(_shape(shape), self.value, dtype=_dtype(dtype))


class ZeroInit(Constant):
    """Fills the array with zeros."""

    def __init__(self):
        self.value = 0.0


class OneInit(Constant):
    """Fills the array with `value` (default 1)."""

    def __init__(self, value: float = 1.0):
        self.value = value


class IdentityMatrix(Initializer):
    """`value` times the identity matrix (2-d shapes; rectangular allowed).

    (Named `IdentityMatrix` so that `Identity` means one thing in funcdyn: the layer
    [`funcdyn.layers.Identity`][]. `funcdyn.init.Identity` is kept as an alias of this
    class, its former name.)"""

    value: float = 1.0
    needs_key = False

    def __call__(self, key, shape: Sequence[int], dtype=None) -> Array:
        shape = _shape(shape)
        if len(shape) != 2:
            raise ValueError(f"IdentityMatrix initialises 2-d arrays, got shape {shape}.")
        return self.value * jnp.eye(shape[0], shape[1], dtype=_dtype(dtype))
