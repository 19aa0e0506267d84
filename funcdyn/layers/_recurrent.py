"""Shared pieces of the recurrent cells: activations by name, initial states, checks."""

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from .._checks import split_key as split_key
from .._initial_state import (
    initial_value,
    learned_initial_state,
    static_initializer as static_initializer,
)
from ..typing import ParamSpec


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


def trainable_initial_state(
    train_state: bool, state_initializer: ParamSpec, shape: tuple[int, ...], cls: str,
    key: PRNGKeyArray | None,
) -> Array | None:
    """The learned initial state (no batch axis) when `train_state`, else `None`: the
    one rule of `funcdyn._initial_state`, for the argument `state_initializer`."""
    return learned_initial_state(train_state, state_initializer, shape, cls,
                                 "state_initializer", key)


def initial_state(
    learned: Array | None, state_initializer: ParamSpec, shape: tuple[int, ...],
    batch_size: int | None, cls: str, key: PRNGKeyArray | None,
) -> Array:
    """The initial value of one state array: the learned state broadcast over the batch,
    or `state_initializer` drawn at the full (batch, *shape) shape."""
    return initial_value(learned, state_initializer, shape, batch_size, cls,
                         "state_initializer", key)


def check_state(cls: str, name: str, value: Array, expected: Sequence[int]) -> None:
    if jnp.shape(value) != tuple(expected):
        raise ValueError(
            f"{cls}: the state `{name}` has shape {jnp.shape(value)} but the input needs "
            f"{tuple(expected)}; build the state with init_state(batch_size) for this input."
        )
