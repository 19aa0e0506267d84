"""The one rule for initial states: fixed unless the model is built with `train_state=True`.

A fixed initial state (an array, an initialiser, a callable) is kept in a hashable,
static form, so it is never selected by `funcdyn.trainable` and never updated by an
optimiser. With `train_state=True` it is resolved once to a parameter array (no batch
axis) that every `init_state` broadcasts over the batch: it survives every reset.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from ._checks import check_bool
from .init import Initializer, parameter
from .typing import ParamSpec


def _as_tuple(a: np.ndarray):
    return a.item() if a.ndim == 0 else tuple(_as_tuple(r) for r in a)


def static_initializer(initializer: ParamSpec) -> ParamSpec:
    """`initializer` in a hashable form for a static field (an array becomes a nested
    tuple of floats)."""
    if isinstance(initializer, (jax.Array, np.ndarray, list)):
        return _as_tuple(np.asarray(initializer))
    return initializer


def learned_initial_state(
    train_state, initializer: ParamSpec, shape: tuple[int, ...], owner: str, name: str,
    key: PRNGKeyArray | None, default: Array | None = None,
) -> Array | None:
    """The learned initial state (shape `shape`, no batch axis) when `train_state`, else
    `None` after checking that a fixed array fits one example. `default` stands for an
    `initializer` of `None`."""
    check_bool(train_state, "train_state", owner)
    if initializer is None:
        if default is None:
            raise ValueError(f"{owner}: `{name}` cannot be None.")
        initializer = default
    if not train_state:
        if isinstance(initializer, (jax.Array, np.ndarray, list, tuple, int, float)):
            try:
                parameter(initializer, shape, name=name, broadcast=True)
            except ValueError as err:
                raise ValueError(f"{owner}: {err} (`{name}` is the initial state of one "
                                 "example; it is broadcast over the batch).") from err
        return None
    try:
        value = parameter(initializer, shape, name=name, key=key, broadcast=True)
    except ValueError as err:
        raise ValueError(f"{owner}: {err}") from err
    return jnp.broadcast_to(value, shape)


def initial_value(
    learned: Array | None, initializer: ParamSpec, shape: tuple[int, ...],
    batch_size: int | None, owner: str, name: str, key: PRNGKeyArray | None,
    default: Array | None = None, dtype=None,
) -> Array:
    """One state array at `init_state`: the learned state broadcast over the batch, else
    `initializer` (or `default` when it is `None`) drawn at the full `(batch, *shape)`."""
    full = tuple(shape) if batch_size is None else (int(batch_size),) + tuple(shape)
    if learned is not None:
        return jnp.broadcast_to(learned, full)
    if initializer is None:
        value = jnp.asarray(default) if dtype is None else jnp.asarray(default, dtype)
        return jnp.broadcast_to(value, full)
    if isinstance(initializer, Initializer) and initializer.needs_key and key is None:
        raise ValueError(
            f"{owner}: `{name}` {type(initializer).__name__} is random: call "
            "init_state(batch_size, key=jax.random.key(...)), or pass the state yourself."
        )
    if isinstance(initializer, tuple):
        initializer = jnp.asarray(initializer)
    try:
        value = parameter(initializer, full, name=name, key=key, broadcast=True, dtype=dtype)
    except ValueError as err:
        raise ValueError(f"{owner}: {err}") from err
    return jnp.broadcast_to(value, full)
