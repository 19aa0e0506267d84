import os

# Tests compile hundreds of small XLA programs and run each briefly: LLVM's optimisation
# passes dominate their time, so the suite skips them (the numerics are unchanged: no
# fast-math either way). Benchmarks and examples run outside pytest keep full
# optimisation. Example subprocesses started by the tests inherit this.
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0"
    ).strip()

import jax  # noqa: E402
import pytest  # noqa: E402

# As equinox does: no silent dtype or rank promotion anywhere in the library.
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "standard_promotion: run with standard dtype promotion (for tests that call optax "
        "optimizers directly: optax's Adam mixes int32 step counts with floats).",
    )


@pytest.fixture(autouse=True)
def _dtype_promotion(request):
    if request.node.get_closest_marker("standard_promotion") is not None:
        with jax.numpy_dtype_promotion("standard"):
            yield
    else:
        yield


@pytest.fixture
def getkey():
    """A fresh PRNG key per call, reproducible within a test."""
    keys = iter(jax.random.split(jax.random.key(0), 1000))
    return lambda: next(keys)
