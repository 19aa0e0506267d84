"""Shared pieces of the recurrent cells: activations by name, initial states, checks."""

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from ..init import Initializer, parameter
from ..init._parameter import ParamSpec


def resolve_activation(activation, cls: str, arg: str = "activation") -> Callable:
    """A callable, or the name of a function of `jax.nn` / `jax.numpy` (e.g. `"tanh"`)."""
    if isinstance(activation, str):
        for namespace in (jax.nn, jnp):
            fn = getattr(namespace, activation, None)
            if callable(fn):
                return fn
        raise ValueError(
            f"{cls}: `{arg}` {activation!r} is not a function of jax.nn or jax.numpy; "
            "pass a callable or a name such as 'tanh' or 'relu'."
        )
    if not callable(activation):
        raise TypeError(f"{cls}: `{arg}` must be a callable or a name, got {activation!r}.")
    return activation


def split_key(key: PRNGKeyArray | None, n: int) -> list:
    if key is None:
        return [None] * n
    return list(jax.random.split(key, n))


def trainable_initial_state(
    train_state: bool, state_initializer: ParamSpec, shape: tuple[int, ...], cls: str,
    key: PRNGKeyArray | None,
) -> Array | None:
    """The learned initial state (no batch axis) when `train_state`, else `None`."""
    if not isinstance(train_state, bool):
        raise TypeError(f"{cls}: `train_state` must be a bool, got {train_state!r}.")
    if state_initializer is None:
        raise ValueError(f"{cls}: `state_initializer` cannot be None.")
    if not train_state:
        if isinstance(
            state_initializer, (jax.Array, np.ndarray, np.generic, list, tuple, int, float)
        ):
            # A fixed array state must fit one example; it is broadcast over the batch.
            parameter(state_initializer, shape, name="state_initializer", broadcast=True)
        return None
    value = parameter(state_initializer, shape, name="state_initializer", key=key,
                      broadcast=True)
    return jnp.broadcast_to(value, shape)


def static_initializer(state_initializer: ParamSpec) -> ParamSpec:
    """`state_initializer` in a hashable form, so that it can be a static field (an array
    becomes a nested tuple: a fixed initial state is not a parameter)."""
    if isinstance(state_initializer, (jax.Array, np.ndarray, list)):
        return _as_tuple(np.asarray(state_initializer))
    return state_initializer


def _as_tuple(a: np.ndarray):
    return a.item() if a.ndim == 0 else tuple(_as_tuple(r) for r in a)


def initial_state(
    learned: Array | None, state_initializer: ParamSpec, shape: tuple[int, ...],
    batch_size: int | None, cls: str, key: PRNGKeyArray | None,
) -> Array:
    """The initial value of one state array: the learned state broadcast over the batch,
    or `state_initializer` drawn at the full (batch, *shape) shape."""
    full = tuple(shape) if batch_size is None else (int(batch_size),) + tuple(shape)
    if learned is not None:
        return jnp.broadcast_to(learned, full)
    if isinstance(state_initializer, Initializer) and state_initializer.needs_key and key is None:
        raise ValueError(
            f"{cls}: `state_initializer` {type(state_initializer).__name__} is random: call "
            "init_state(batch_size, key=jax.random.key(...)), or pass the state yourself."
        )
    if isinstance(state_initializer, tuple):
        state_initializer = jnp.asarray(state_initializer)
    value = parameter(state_initializer, full, name="state_initializer", key=key, broadcast=True)
    return jnp.broadcast_to(value, full)


def check_state(cls: str, name: str, value: Array, expected: Sequence[int]) -> None:
    if jnp.shape(value) != tuple(expected):
        raise ValueError(
            f"{cls}: the state `{name}` has shape {jnp.shape(value)} but the input needs "
            f"{tuple(expected)}; build the state with init_state(batch_size) for this input."
        )
