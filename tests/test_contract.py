"""The one contract test, over the registry of every public concrete model
(`tests/model_registry.py`): eager = jit, vmap = loop, scan = unrolled, finite non-zero
gradients, no recompilation, immutability. A second test walks the public API and fails
when a public `DynamicalSystem` is missing from the registry.

Compiling every model in every mode takes several minutes on two cores: by default each
model runs in one mode (its training mode where it has one, else its first), except the
models whose family test file already runs that same check by default (`COVERED`); every
other combination runs with `-m slow`.
"""

import inspect

import pytest

import funcdyn as fd
from model_registry import MODELS

MODES = {"nonbatching": fd.nonbatching_mode, "batching": fd.batching_mode,
         "training": fd.training_mode}
PUBLIC_PACKAGES = ("funcdyn", "funcdyn.layers", "funcdyn.neurons", "funcdyn.synapses",
                   "funcdyn.encoding", "funcdyn.synouts", "funcdyn.conn", "funcdyn.train",
                   "funcdyn.measure", "funcdyn.losses", "funcdyn.init", "funcdyn.surrogate", "funcdyn.nir",
                   "funcdyn.parallel")
BATCH = 2
# (name, mode) checked by default in the family's own test file (test_neurons.py,
# test_synapses.py, test_rate_layers.py, test_dense_dropout.py, test_encoding.py).
COVERED = {
    *((n, "training") for n in ("InputGroup", "LIF", "IF", "ALIF", "LeakyIntegrator", "ExpIF",
                                "AdExIF", "QuaIF", "Izhikevich", "GIF", "HH", "Exponential",
                                "RNNCell", "GRUCell", "LSTMCell", "Conv3d", "MaxPool",
                                "BatchNorm1d", "Identity", "Dense")),
    *((n, "nonbatching") for n in ("PoissonEncoder", "LatencyEncoder")),
}


def _public_models() -> dict[type, str]:
    found = {}
    for package in PUBLIC_PACKAGES:
        module = __import__(package, fromlist=["_"])
        for name in dir(module):
            obj = getattr(module, name)
            if (inspect.isclass(obj) and issubclass(obj, fd.DynamicalSystem)
                    and not inspect.isabstract(obj) and not obj.__name__.startswith("Abstract")
                    and obj is not fd.DynamicalSystem):
                found.setdefault(obj, f"{package}.{name}")
    return found


def test_registry_lists_every_public_model():
    registered = {case.cls for case in MODELS.values()}
    missing = sorted(name for cls, name in _public_models().items() if cls not in registered)
    assert not missing, f"public models missing from tests/model_registry.py: {missing}"


def test_registry_builds_what_it_names():
    for name, case in MODELS.items():
        assert type(case.make(MODES[case.modes[0]])) is case.cls, name


def _cases():
    params = []
    for name, case in sorted(MODELS.items()):
        default = "training" if "training" in case.modes else case.modes[0]
        for mode in case.modes:
            fast = mode == default and (name, mode) not in COVERED
            marks = () if fast else pytest.mark.slow
            params.append(pytest.param(name, mode, id=f"{name}-{mode}", marks=marks))
    return params


@pytest.mark.parametrize("name, mode", _cases())
def test_contract(name, mode):
    case = MODELS[name]
    model = case.make(MODES[mode])
    batch = BATCH if MODES[mode].is_batching else None
    fd.testing.check_contract(model, case.example(batch), dt=0.5, batch_size=batch, steps=3,
                              **case.check)
