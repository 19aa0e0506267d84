"""Every example runs in its `--quick` mode, and its printed results are checked.

Each example is run as a user runs it, `python examples/<name>.py --quick`, in a
subprocess (so that its jax configuration and matplotlib backend are its own), and the
values it prints are parsed and compared with thresholds: an example that runs but stops
learning fails here. Examples owned by other areas (`coba_ei.py`, `ngrc_lorenz.py`,
`esn_mackey_glass.py`) are tested with their areas.
"""

import os
import pathlib
import re
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


# Each example runs as its own process. The processes of the selected tests are started
# together (at most one per CPU at a time) and each test waits for its own, so the suite
# takes about the total CPU time divided by the number of cores, not the sum of the runs.
EXAMPLE_ARGS = {
    "train_snn.py": ["--quick", "--out", "{out}"],
    "build_training_models.py": ["--quick"],
    "deep_rnn.py": ["--quick"],
    "hh_neuron.py": ["--quick", "--out", "{out}"],
    "equinox_compose.py": ["--quick"],
    "custom_neuron.py": ["--quick", "--out", "{out}"],
}
TEST_OF = {name: f"test_{name[:-3]}_quick" for name in EXAMPLE_ARGS}


class _Runner:
    def __init__(self, names, root: pathlib.Path, slots: int):
        self.root, self.slots = root, max(1, slots)
        self.queue = list(names)
        self.running: dict[str, tuple[subprocess.Popen, float]] = {}
        self.done: dict[str, subprocess.CompletedProcess] = {}
        self._fill()

    def out_dir(self, name: str) -> pathlib.Path:
        return self.root / name[:-3]

    def _start(self, name: str) -> None:
        env = dict(os.environ)
        env["MPLBACKEND"] = "Agg"
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        out = self.out_dir(name)
        out.mkdir(parents=True, exist_ok=True)
        args = [a.format(out=out) for a in EXAMPLE_ARGS[name]]
        with open(out / "stdout.txt", "w") as so, open(out / "stderr.txt", "w") as se:
            proc = subprocess.Popen([sys.executable, str(EXAMPLES / name), *args],
                                    cwd=ROOT, env=env, stdout=so, stderr=se)
        self.running[name] = (proc, time.monotonic())

    def _fill(self) -> None:
        while self.queue and len(self.running) < self.slots:
            self._start(self.queue.pop(0))

    def _reap(self, timeout: float) -> None:
        for name, (proc, started) in list(self.running.items()):
            if proc.poll() is None and time.monotonic() - started > timeout:
                proc.kill()
                proc.wait()
            if proc.poll() is not None:
                out = self.out_dir(name)
                self.done[name] = subprocess.CompletedProcess(
                    proc.args, proc.returncode, (out / "stdout.txt").read_text(),
                    (out / "stderr.txt").read_text())
                del self.running[name]
        self._fill()

    def result(self, name: str, timeout: float = 900) -> subprocess.CompletedProcess:
        if name not in self.done and name not in self.running:
            if name in self.queue:
                self.queue.remove(name)
            self._start(name)
        while name not in self.done:
            self._reap(timeout)
            time.sleep(0.1)
        return self.done[name]


@pytest.fixture(scope="module")
def runner(request, tmp_path_factory):
    selected = {item.name for item in request.session.items}
    names = [name for name, test in TEST_OF.items() if test in selected]
    r = _Runner(names, tmp_path_factory.mktemp("examples"), slots=os.cpu_count() or 2)
    yield r
    for proc, _ in r.running.values():
        proc.kill()
        proc.wait()


def run_example(runner: _Runner, name: str) -> str:
    result = runner.result(name)
    assert result.returncode == 0, (
        f"{name} {' '.join(EXAMPLE_ARGS[name])} failed ({result.returncode}):\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    )
    return result.stdout


def value(pattern: str, text: str) -> float:
    """The number captured by `pattern` in the last line that matches it."""
    matches = re.findall(pattern, text)
    assert matches, f"no line matching {pattern!r} in the output:\n{text[-3000:]}"
    return float(matches[-1])


def test_train_snn_quick(runner):
    out = run_example(runner, "train_snn.py")
    epochs = re.findall(r"epoch\s+\d+.*train acc ([\d.]+).*test acc ([\d.]+)", out)
    assert len(epochs) >= 2, out
    final = value(r"final test accuracy: ([\d.]+)", out)
    # Chance is 0.1; the quick run reaches about 0.9 (0.97 with the default epochs).
    assert final >= 0.8, out
    assert final == pytest.approx(float(epochs[-1][1]), abs=1e-3)
    assert (runner.out_dir("train_snn.py") / "train_snn.png").stat().st_size > 10_000


def test_build_training_models_quick(runner):
    out = run_example(runner, "build_training_models.py")
    # The sections the tutorial gets wrong show the correct behaviour.
    assert re.search(r"refused: NVAR.*does not support TrainingMode", out), out
    assert re.search(r"init_state\(batch_size=5\) -> \(5, 100\)", out)
    dropout = r"drops (19|20|21)\.\d% .*identity when fit=False: True"
    assert re.search(r"MyDropout\(p=0.2\) " + dropout, out), out
    assert re.search(r"(?<!My)Dropout\(p=0.2\) drops (19|20|21)\.\d%", out)
    # A mode never changes the maths: LIF in non-batching and training mode agree.
    assert "identical potentials: True  identical spikes: True" in out
    assert "passes funcdyn.testing.check_contract" in out
    assert "NVAR unchanged by training: True" in out
    # Each of the three models trains: its loss falls.
    for model in ("DeepRNN", "NG-RC", "SNN"):
        first = value(rf"{model} loss: ([\d.eE+-]+) ->", out)
        last = value(rf"{model} loss: [\d.eE+-]+ -> ([\d.eE+-]+)", out)
        assert last < first, f"{model} did not learn:\n{out}"


def test_deep_rnn_quick(runner):
    out = run_example(runner, "deep_rnn.py")
    assert value(r"final test accuracy: ([\d.]+)", out) >= 0.5, out


def test_hh_neuron_quick(runner):
    out = run_example(runner, "hh_neuron.py")
    # A Hodgkin-Huxley neuron under a 10 uA/cm^2 step fires regularly, near 70 Hz.
    rate = value(r"firing rate: ([\d.]+) Hz", out)
    assert 40.0 < rate < 120.0, out
    assert value(r"peak membrane potential: ([-\d.]+) mV", out) > 20.0
    assert value(r"adaptive steps: (\d+)", out) > 0
    assert (runner.out_dir("hh_neuron.py") / "hh_neuron.png").exists()


def test_equinox_compose_quick(runner):
    out = run_example(runner, "equinox_compose.py")
    assert value(r"mlp-in-sequential test accuracy: ([\d.]+)", out) >= 0.8, out
    assert value(r"funcdyn-in-equinox test accuracy: ([\d.]+)", out) >= 0.8, out


def test_custom_neuron_quick(runner):
    out = run_example(runner, "custom_neuron.py")
    # Tsit5 steps of 0.1 ms against the closed-form QIF trajectory: about 1e-5.
    assert value(r"max \|exact - simulated\|: ([\d.eE+-]+)", out) < 1e-3, out
    assert "passes funcdyn.testing.check_contract" in out
    NUM = r"([\d.eE+-]+)"
    assert value(rf"loss: [\d.eE+-]+ -> {NUM}", out) < 0.1 * value(rf"loss: {NUM} ->", out)
    assert abs(value(rf"learned tau: {NUM}", out) - 10.0) < 0.5, out
    assert (runner.out_dir("custom_neuron.py") / "custom_neuron.png").exists()


OWNED = list(EXAMPLE_ARGS)


@pytest.mark.parametrize("name", OWNED)
def test_example_has_quick_mode_and_description(name):
    text = (EXAMPLES / name).read_text()
    # A module docstring, or (the notebook-style tutorial) a leading markdown cell.
    assert text.startswith('"""') or text.startswith("# %% [markdown]\n# # "), name
    assert "--quick" in text, f"{name} has no --quick mode"
    assert name in (EXAMPLES / "README.md").read_text(), f"{name} is not in examples/README.md"


def _script_cells(text: str) -> list[tuple[str, str]]:
    chunks = re.split(r"^# %%(.*)$", text, flags=re.M)
    cells = []
    for marker, body in zip(chunks[1::2], chunks[2::2]):
        body = body.strip("\n")
        if "[markdown]" in marker:
            lines = [ln[2:] if ln.startswith("# ") else ln.lstrip("#") for ln in body.splitlines()]
            cells.append(("markdown", "\n".join(lines)))
        else:
            cells.append(("code", body))
    return cells


def test_notebook_matches_script():
    """The notebook is the script's cells plus a setup cell that installs funcdyn."""
    import json

    notebook = json.loads((EXAMPLES / "build_training_models.ipynb").read_text())
    cells = [(c["cell_type"], "".join(c["source"]).strip("\n")) for c in notebook["cells"]]
    script = _script_cells((EXAMPLES / "build_training_models.py").read_text())
    install = [c for c in cells if c[0] == "code" and "%pip install" in c[1]]
    assert len(install) == 1 and "find_spec(\"funcdyn\") is None" in install[0][1]
    setup_index = cells.index(install[0])
    rest = cells[:setup_index - 1] + cells[setup_index + 1:]  # drop the setup's note too
    assert rest == script, "regenerate examples/build_training_models.ipynb from the script"
    for c in notebook["cells"]:
        if c["cell_type"] == "code":
            assert c["outputs"] == [] and c["execution_count"] is None


def test_every_owned_example_has_a_run_test():
    for name, test in TEST_OF.items():
        assert callable(globals().get(test)), f"{name} has no {test}"
