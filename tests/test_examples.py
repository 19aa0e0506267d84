"""Every example runs in its `--quick` mode, and its printed results are checked.

Each example is run as a user runs it, `python examples/<name>.py --quick`, in a
subprocess (so that its jax configuration and matplotlib backend are its own), and the
values it prints are parsed and compared with thresholds: an example that runs but stops
learning fails here. Examples owned by other areas (`coba_ei.py`, `ngrc_lorenz.py`,
`esn_mackey_glass.py`) have their numbers tested with their areas; here every example
also runs with its default output folder inside a scratch git repository holding a copy
of `examples/` and the project's `.gitignore`, and that repository's `git status` must
stay clean: an example writes only under `outputs/<example>/` (ignored by git).
"""

import importlib.util
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


# Each example runs as its own process. The processes of the selected tests are started
# together (at most one per CPU at a time) and each test waits for its own, so the suite
# takes about the total CPU time divided by the number of cores, not the sum of the runs.
# No `--out`: every example writes to its default folder, outputs/<example>/, relative to
# the scratch repository it runs in (see `_scratch_repo`).
EXAMPLE_ARGS = {
    "train_snn.py": ["--quick"],
    "build_training_models.py": ["--quick"],
    "deep_rnn.py": ["--quick"],
    "hh_neuron.py": ["--quick"],
    "equinox_compose.py": ["--quick"],
    "custom_neuron.py": ["--quick"],
    "tonic_nmnist.py": ["--synthetic", "--quick", "--limit", "256"],
}
TEST_OF = {name: f"test_{name[:-3]}_quick" for name in EXAMPLE_ARGS}
# Run only for the clean-`git status` check (their results are tested with their areas).
OTHER_ARGS = {
    "coba_ei.py": ["--quick", "--neurons", "400"],
    "ngrc_lorenz.py": ["--quick"],
    "esn_mackey_glass.py": ["--quick"],
}
ALL_ARGS = {**EXAMPLE_ARGS, **OTHER_ARGS}


def _git(repo: pathlib.Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args],
        cwd=repo, check=True, capture_output=True, text=True,
    ).stdout


def _scratch_repo(root: pathlib.Path) -> pathlib.Path:
    """A git repository with a copy of examples/ and the project's .gitignore, committed:
    whatever an example writes outside the ignored folders shows in its `git status`."""
    repo = root / "repo"
    shutil.copytree(EXAMPLES, repo / "examples",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / ".gitignore", repo / ".gitignore")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "examples")
    return repo


class _Runner:
    def __init__(self, names, root: pathlib.Path, slots: int):
        self.root, self.slots = root, max(1, slots)
        self.repo = _scratch_repo(root)
        self.logs = root / "logs"
        self.logs.mkdir()
        self.queue = list(names)
        self.running: dict[str, tuple[subprocess.Popen, float]] = {}
        self.done: dict[str, subprocess.CompletedProcess] = {}
        self._fill()

    def out_dir(self, name: str) -> pathlib.Path:
        """The example's default output folder."""
        return self.repo / "outputs" / name[:-3]

    def _start(self, name: str) -> None:
        env = dict(os.environ)
        env["MPLBACKEND"] = "Agg"
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        log = self.logs / name[:-3]
        with open(f"{log}.stdout", "w") as so, open(f"{log}.stderr", "w") as se:
            proc = subprocess.Popen([sys.executable, f"examples/{name}", *ALL_ARGS[name]],
                                    cwd=self.repo, env=env, stdout=so, stderr=se)
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
                log = self.logs / name[:-3]
                self.done[name] = subprocess.CompletedProcess(
                    proc.args, proc.returncode, pathlib.Path(f"{log}.stdout").read_text(),
                    pathlib.Path(f"{log}.stderr").read_text())
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
    if importlib.util.find_spec("tonic") is None and "tonic_nmnist.py" in names:
        names.remove("tonic_nmnist.py")
    if "test_examples_leave_git_status_clean" in selected:
        names += [name for name in ALL_ARGS if name not in names]
    r = _Runner(names, tmp_path_factory.mktemp("examples"), slots=os.cpu_count() or 2)
    yield r
    for proc, _ in r.running.values():
        proc.kill()
        proc.wait()


def run_example(runner: _Runner, name: str) -> str:
    result = runner.result(name)
    assert result.returncode == 0, (
        f"{name} {' '.join(ALL_ARGS[name])} failed ({result.returncode}):\n"
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


def test_tonic_nmnist_quick(runner):
    pytest.importorskip("tonic")  # in the dev extra
    out = run_example(runner, "tonic_nmnist.py")
    # Synthetic events (no download), each class lighting its own band of rows: the SNN
    # separates them (chance 0.1; about 1.0 in the quick run).
    epochs = re.findall(r"epoch\s+\d+/\d+.*test acc ([\d.]+)", out)
    assert len(epochs) == 3, out
    assert value(r"final test accuracy: ([\d.]+)", out) >= 0.6, out
    history = json.loads((runner.out_dir("tonic_nmnist.py") / "history.json").read_text())
    assert len(history["epochs"]) == 3


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_examples_leave_git_status_clean(runner):
    has_tonic = importlib.util.find_spec("tonic") is not None
    for name in ALL_ARGS:
        if name != "tonic_nmnist.py" or has_tonic:
            run_example(runner, name)
    status = _git(runner.repo, "status", "--porcelain", "--untracked-files=all")
    assert status == "", f"examples wrote outside outputs/ (git status):\n{status}"
    written = {p.name for p in (runner.repo / "outputs").iterdir()}
    assert {"coba_ei", "ngrc_lorenz", "train_snn", "hh_neuron"} <= written, written


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
