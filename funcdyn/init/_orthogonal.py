"""Orthogonal initialisation."""

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jaxtyping import Array

from ._base import Initializer, _dtype, _key, _shape


class Orthogonal(Initializer):
    """`scale` times a random (semi-)orthogonal matrix (Saxe et al. 2014).

    Shapes with more than two axes are flattened to `(prod(other axes), shape[axis])`;
    the columns (or rows, whichever are fewer) are orthonormal.
    """

    scale: float = 1.0
    axis: int = -1

    def __call__(self, key, shape: Sequence[int], dtype=None) -> Array:
        shape = _shape(shape)
        if len(shape) < 2:
            raise ValueError(f"Orthogonal needs a shape with >= 2 axes, got {shape}.")
        dtype = _dtype(dtype)
        n_cols = shape[self.axis]
        n_rows = math.prod(shape) // n_cols
        big, small = max(n_rows, n_cols), min(n_rows, n_cols)
        a = jax.random.normal(_key(key, "Orthogonal"), (big, small), dtype)
        q, r = jnp.linalg.qr(a)
        # Sign correction makes the distribution uniform (Haar) over orthogonal matrices.
        q = q * jnp.sign(jnp.diagonal(r))[None, :]
        if n_rows < n_cols:
            q = q.T
        q = q.reshape(tuple(s for i, s in enumerate(shape) if i != self.axis % len(shape)) + (n_cols,))
        q = jnp.moveaxis(q, -1, self.axis)
        return self.scale * q
