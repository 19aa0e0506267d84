"""Shared validation of layer arguments and inputs."""

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array


def check_positive_int(value, arg: str, cls: str) -> None:
    """A `ValueError` unless `value` is an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{cls}: `{arg}` must be a positive int, got {value!r}.")


def check_features(model, x, num_features: int) -> Array:
    """Checks that `x` has `num_features` on its last axis and a batch axis exactly when
    the model's mode has one; returns `x` as an array."""
    x = jnp.asarray(x)
    cls = type(model).__name__
    expected_ndim = 2 if model.mode.is_batching else 1
    if x.ndim != expected_ndim or x.shape[-1] != num_features:
        expected = "(batch, {n})" if model.mode.is_batching else "({n},)"
        hint = (
            " (NonBatchingMode takes one example; use a batching mode or jax.vmap)"
            if not model.mode.is_batching
            else " (batching modes need a leading batch axis)"
        )
        raise ValueError(
            f"{cls} in {model.mode} expects input of shape "
            f"{expected.format(n=num_features)}, got {x.shape}{hint}."
        )
    return x
