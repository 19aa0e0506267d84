import jax
import pytest

# As equinox does: no silent dtype or rank promotion anywhere in the library.
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def getkey():
    """A fresh PRNG key per call, reproducible within a test."""
    keys = iter(jax.random.split(jax.random.key(0), 1000))
    return lambda: next(keys)
