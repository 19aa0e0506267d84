"""Shared validation of Python-level arguments (flags, scalars, probabilities).

Every function takes the value, the argument `name` and the `owner` (the class or function
the argument belongs to, used as the message prefix), accepts Python and numpy scalars
alike, and raises a `TypeError` for a value of the wrong kind or a `ValueError` for a value
out of range. Messages have the form

    Dropout: `p` must be in [0, 1), got 1.5. Pass a probability such as 0.1.

The scalar checks return the value as a Python `float` (`bool` for `check_bool`), so that a
numpy scalar never leaks a fixed dtype into traced arithmetic (under strict dtype promotion
`np.float32(0.3) * x` fails for a float64 `x`; the Python float is weakly typed).

The array helpers (`concrete`, `check_finite_values`, `bcast`) and the key helpers
(`split_key`, `named_key`) are the other rules every package shares.

`check_param` also accepts arrays (per-neuron parameters): a concrete array is checked
element by element and returned unchanged; a traced array cannot be checked here and is
returned as is.
"""

import math
import numbers
import zlib
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_real_scalar(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, numbers.Real):
        return True
    # 0-d numpy arrays of a real dtype (e.g. `np.asarray(0.3)`).
    return (
        isinstance(value, np.ndarray)
        and value.ndim == 0
        and (np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.integer))
    )


def check_bool(value: Any, name: str, owner: str) -> bool:
    """`value` as a Python `bool`; a `TypeError` unless it is `True`/`False` (or a numpy
    bool). Strings, ints and `None` are refused: `"no"` is never read as true."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(
        f"{owner}: `{name}` must be a bool (True or False), got {_describe(value)} of type "
        f"{type(value).__name__}."
    )


def check_real(value: Any, name: str, owner: str) -> float:
    """`value` as a Python `float`; a `TypeError` unless it is a real Python or numpy
    scalar (bools and strings are refused)."""
    if not _is_real_scalar(value):
        raise TypeError(
            f"{owner}: `{name}` must be a real number (a Python or numpy scalar), got "
            f"{_describe(value)} of type {type(value).__name__}."
        )
    return float(value)


def _range_text(low, high, low_open, high_open) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high:g}"
    return "finite"


def _in_range(v, low, high, low_open, high_open):
    """Elementwise (numpy): finite and inside the range."""
    v = np.asarray(v, dtype=np.float64)
    ok = np.isfinite(v)
    if low is not None:
        ok &= (v > low) if low_open else (v >= low)
    if high is not None:
        ok &= (v < high) if high_open else (v <= high)
    return ok


def check_range(
    value: Any,
    name: str,
    owner: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    hint: str = "",
) -> float:
    """`value` as a Python `float`, checked to be finite and inside the range given by
    `low`/`high` (closed ends unless `low_open`/`high_open`). NaN and infinities are
    always refused. `hint` is appended to the message (the fix)."""
    v = check_real(value, name, owner)
    if not bool(_in_range(v, low, high, low_open, high_open)):
        raise ValueError(
            f"{owner}: `{name}` must be {_range_text(low, high, low_open, high_open)}, got "
            f"{_describe(value)}.{(' ' + hint) if hint else ''}"
        )
    return v


def check_finite(value: Any, name: str, owner: str) -> float:
    """`value` as a Python `float`; a `ValueError` for NaN or an infinity."""
    return check_range(value, name, owner)


def check_positive(value: Any, name: str, owner: str, *, allow_zero: bool = False) -> float:
    """`value` as a Python `float`, finite and `> 0` (`>= 0` with `allow_zero=True`)."""
    return check_range(value, name, owner, low=0.0, low_open=not allow_zero)


def check_probability(
    value: Any,
    name: str,
    owner: str,
    *,
    allow_zero: bool = True,
    allow_one: bool = True,
) -> float:
    """`value` as a Python `float` in `[0, 1]` (ends excluded with `allow_zero=False` /
    `allow_one=False`); NaN is refused."""
    return check_range(
        value,
        name,
        owner,
        low=0.0,
        high=1.0,
        low_open=not allow_zero,
        high_open=not allow_one,
        hint="Pass a probability.",
    )


def check_param(
    value: Any,
    name: str,
    owner: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
):
    """A scalar-or-array parameter (e.g. a surrogate's `alpha`, one per neuron).

    A Python or numpy scalar is checked as in `check_range` and returned as a Python
    `float`. A concrete array (numpy or JAX) of a real dtype is checked element by element
    and returned unchanged; a traced array (construction inside `jax.jit`) is returned
    unchecked. Anything else is a `TypeError`."""
    if _is_real_scalar(value):
        return check_range(
            value, name, owner, low=low, high=high, low_open=low_open, high_open=high_open
        )
    if isinstance(value, (np.ndarray, jax.Array)):
        if isinstance(value, jax.core.Tracer):
            return value
        dtype = value.dtype
        if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
            raise TypeError(
                f"{owner}: `{name}` must be a real number or an array of real numbers, got "
                f"an array of dtype {dtype}."
            )
        ok = _in_range(np.asarray(value), low, high, low_open, high_open)
        if not ok.all():
            index = tuple(int(i) for i in np.argwhere(~ok)[0])
            bad = np.asarray(value)[index]
            raise ValueError(
                f"{owner}: every element of `{name}` must be "
                f"{_range_text(low, high, low_open, high_open)}, got {bad!r} at index {index}."
            )
        return value
    raise TypeError(
        f"{owner}: `{name}` must be a real number or an array, got {_describe(value)} of "
        f"type {type(value).__name__}."
    )



def is_real(value: Any) -> bool:
    """Whether `value` is a real Python or numpy scalar (not a bool)."""
    return _is_real_scalar(value)


def as_python_scalar(value: Any) -> Any:
    """Field converter: a numpy integer becomes a Python `int`, a numpy float (or 0-d
    real array) a Python `float`; anything else is returned unchanged, for the
    validation that follows to judge. (Static fields are hashed and compared: a numpy
    scalar there would make `FixedProb(np.float32(0.3)) != FixedProb(0.3)`.)"""
    if isinstance(value, np.bool_):
        return value
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "fiu":
        return value.item()
    return value


def concrete(value) -> np.ndarray | None:
    """The numpy value of a concrete array, or `None` for a tracer (values are only
    checked where they are known)."""
    try:
        return np.asarray(value)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


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
