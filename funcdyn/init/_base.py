"""The base class of initialisers."""

import abc
from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray


def default_float_dtype():
    """float32, or float64 when `jax_enable_x64` is on."""
    return jnp.result_type(float)


class Initializer(eqx.Module):
    """Base class of parameter initialisers: `init(key, shape, dtype) -> array`.

    To write your own, subclass it, store hyperparameters as fields, set the class
    variable `needs_key = False` when no random numbers are drawn, and implement
    `__call__`:

    ```python
    class Sparse(funcdyn.init.Initializer):
        density: float

        def __call__(self, key, shape, dtype=None):
            dtype = dtype or funcdyn.init.default_float_dtype()
            keep = jax.random.bernoulli(key, self.density, shape)
            return jnp.where(keep, jax.random.normal(key, shape, dtype), 0.0)
    ```
    """

    needs_key = True

    @abc.abstractmethod
    def __call__(
        self, key: PRNGKeyArray | None, shape: Sequence[int], dtype=None
    ) -> Array:
        """**Arguments:** `key` (a PRNG key; may be `None` when `needs_key` is False),
        `shape`, `dtype` (default: the default float dtype).

        **Returns:** an array of `shape` and `dtype`."""


def _dtype(dtype):
    return default_float_dtype() if dtype is None else dtype


def _shape(shape: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(s) for s in shape)


def _key(key, who: str):
    if key is None:
        raise ValueError(f"{who} draws random numbers: pass a PRNG key.")
    return key


