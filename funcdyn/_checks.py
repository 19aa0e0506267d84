"""The validation and broadcasting rules every package shares, written once.

Each check takes the value, the argument's name and the owner (a class or function
name) and raises a `ValueError`/`TypeError` that names both and says the fix.
"""

import math
import numbers
import zlib
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray


def concrete(value) -> np.ndarray | None:
    """The numpy value of a concrete array, or `None` for a tracer (values are only
    checked where they are known)."""
    try:
        return np.asarray(value)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


def check_bool(value, name: str, owner: str) -> bool:
    """A Python (or numpy) bool; a string such as `"no"` or an int is refused, never
    read as truthy."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{owner}: `{name}` must be True or False, got {value!r}.")


def check_positive_int(value, name: str, owner: str) -> int:
    """An int >= 1 (numpy integers too; bools, floats and strings refused)."""
    if (isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer))
            or value < 1):
        raise ValueError(f"{owner}: `{name}` must be a positive int, got {value!r}.")
    return int(value)


def check_dt(dt, owner: str, name: str = "dt") -> float:
    """A step size: a finite Python or numpy float > 0."""
    if isinstance(dt, bool) or not isinstance(dt, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{owner}: `{name}` must be a positive float (ms), got {dt!r}.")
    dt = float(dt)
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"{owner}: `{name}` must be a finite float > 0 (ms), got {dt!r}.")
    return dt


def check_finite_values(array: Array, name: str, owner: str) -> None:
    """A `ValueError` when a concrete parameter holds NaN or infinity."""
    values = concrete(array)
    if values is not None and np.issubdtype(values.dtype, np.inexact):
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{owner}: `{name}` must be finite, got {values!r}.")


def bcast(p: Array, shape: Sequence[int]) -> Array:
    """`p` broadcast explicitly to `shape` (scalars stay scalars: they need no rank
    promotion), so that per-neuron parameters combine with batched states."""
    shape = tuple(shape)
    if p.ndim == 0 or p.shape == shape:
        return p
    return jnp.broadcast_to(p, shape)


def split_key(key: PRNGKeyArray | None, n: int) -> list:
    """`n` independent keys, or `n` Nones when `key` is None."""
    if key is None:
        return [None] * n
    return list(jax.random.split(key, n)) if n else []


def named_key(key: PRNGKeyArray | None, name: str) -> PRNGKeyArray | None:
    """The key of one named parameter: `key` folded with a stable hash of `name`, so
    that every random parameter of a model draws its own numbers (two parameters given
    the same initialiser differ) and adding a parameter does not shift the others."""
    if key is None:
        return None
    return jax.random.fold_in(key, zlib.crc32(name.encode()) & 0x7FFFFFFF)
