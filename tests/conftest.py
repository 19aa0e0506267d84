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


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    # Parallel by default where pytest-xdist is installed (the suite is dominated by XLA
    # compilation, single-threaded per test), serial where it is not. This lives here
    # rather than in `addopts`, where `-n` breaks a pytest without xdist. `-n 0` (or any
    # `-n N`) given by the user wins; runs before xdist's own hook turns "auto" into a count.
    if hasattr(config, "workerinput"):  # an xdist worker (its -n is reset to None)
        return
    # Never inside an xdist worker (PYTEST_XDIST_WORKER is set there): a worker that
    # turned `-n auto` on again would start workers of its own, recursively.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    if config.pluginmanager.hasplugin("xdist") and config.getoption("numprocesses") is None:
        if not config.getoption("usepdb", False) and not config.getoption("collectonly"):
            config.option.numprocesses = "auto"


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "standard_promotion: run with standard dtype promotion (for tests that call optax "
        "optimizers directly: optax's Adam mixes int32 step counts with floats).",
    )
    config.stash[_SLOW_DESELECTED] = 0


_SLOW_DESELECTED = pytest.StashKey[int]()


def pytest_deselected(items):
    # Under xdist this runs in every worker (each collects the whole suite), so the
    # count is taken from one of them: the controller reads it in `_report_slow`.
    config = items[0].config if items else None
    if config is not None:
        config.stash[_SLOW_DESELECTED] = config.stash.get(_SLOW_DESELECTED, 0) + sum(
            1 for item in items if item.get_closest_marker("slow") is not None
        )


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    # xdist controller: each worker sends its count back in `workeroutput`.
    count = getattr(node, "workeroutput", {}).get("slow_deselected")
    if count is not None:
        config = node.config
        config.stash[_SLOW_DESELECTED] = max(config.stash.get(_SLOW_DESELECTED, 0), count)


def pytest_sessionfinish(session):
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker
        workeroutput["slow_deselected"] = session.config.stash.get(_SLOW_DESELECTED, 0)


def pytest_terminal_summary(terminalreporter, config):
    count = config.stash.get(_SLOW_DESELECTED, 0)
    if count:
        terminalreporter.write_line(
            f"{count} slow test{'s' if count != 1 else ''} deselected by the default "
            "`-m 'not slow'`; run them with `python -m pytest -m slow` (or everything with "
            "`python -m pytest -m ''`).",
            yellow=True,
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
