"""The one rule every model uses to turn a parameter argument into an array."""

import inspect
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from ..typing import ParamSpec
from ._base import Initializer, _dtype



def _positional_arity(fn: Callable) -> int | None:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    params = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    return len(params)


def parameter(
    value: ParamSpec,
    shape: Sequence[int],
    *,
    name: str | None = None,
    key: PRNGKeyArray | None = None,
    dtype=None,
    allow_none: bool = False,
    broadcast: bool = False,
) -> Array | None:
    """Resolves a parameter argument to an array of `shape`.

    **Arguments:**

    - `value`: one of
        - an array (or nested list / Python number): used as is, after its shape is
          checked (exactly `shape`, or broadcastable to it when `broadcast=True`);
        - an [`funcdyn.init.Initializer`][]: called as `value(key, shape, dtype)`;
        - a user callable taking `shape` (BrainPy's convention) or `(key, shape)`;
        - `None`: no parameter (allowed only with `allow_none=True`, e.g. a bias).
    - `shape`: the expected shape.
    - `name`: the argument's name, used only in error messages (optional, as in BrainPy;
      without it they say "The parameter").
    - `key`: the PRNG key for random initialisers (a clear error if needed and missing).
    - `dtype`: default: the default float dtype.
    - `allow_none`: whether `None` may omit the parameter.
    - `broadcast`: accept arrays broadcastable to `shape` (scalars, per-neuron vectors)
      and keep them at their own shape.

    **Returns:** the array, or `None`.
    """
    shape = tuple(int(s) for s in shape)
    label = "The parameter" if name is None else f"`{name}`"
    if value is None:
        if allow_none:
            return None
        raise ValueError(f"{label} cannot be None; pass an array or an initialiser.")
    if isinstance(value, Initializer):
        if value.needs_key and key is None:
            raise ValueError(
                f"{label} uses the random initialiser {type(value).__name__}: pass "
                "`key=jax.random.key(...)` to the constructor."
            )
        array = value(key, shape, _dtype(dtype))
    elif callable(value) and not isinstance(value, (jax.Array, np.ndarray)):
        arity = _positional_arity(value)
        if arity == 2:
            if key is None:
                raise ValueError(
                    f"{label} is a callable taking (key, shape): pass `key=...` to the "
                    "constructor."
                )
            array = value(key, shape)
        elif arity == 1 or arity is None:
            array = value(shape)
        else:
            raise TypeError(
                f"{label}: a callable initialiser must take `shape` or `(key, shape)`, "
                f"got one with {arity} required positional arguments."
            )
        array = jnp.asarray(array, dtype=_dtype(dtype))
    else:
        try:
            array = jnp.asarray(value, dtype=_dtype(dtype))
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"{label} must be an array, an Initializer, a callable or None; got "
                f"{type(value).__name__}."
            ) from err
        if broadcast:
            try:
                np.broadcast_shapes(array.shape, shape)
                ok = np.broadcast_shapes(array.shape, shape) == shape
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(
                    f"{label} has shape {array.shape}, which does not broadcast to {shape}."
                )
            return array
    if array.shape != shape:
        raise ValueError(f"{label} must have shape {shape}, got {array.shape}.")
    return array
