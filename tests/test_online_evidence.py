"""The online evidence-accumulation example runs in its `--quick` mode (one stream of
18,000 steps, learned online with e-prop) and learns: the decision accuracy of its last
trials is far above chance, and the BPTT memory it reports for the same stream is much
larger than e-prop's."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_online_evidence_quick(tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "online_evidence.py"), "--quick", "--out",
         str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    accuracy = float(re.search(r"final accuracy: ([0-9.]+)", out.stdout).group(1))
    eprop = float(re.search(r"e-prop memory: ([0-9.]+) MB", out.stdout).group(1))
    bptt = float(re.search(r"BPTT memory for the same stream: ([0-9.]+) MB",
                           out.stdout).group(1))
    assert accuracy > 0.75, out.stdout  # chance is 0.5
    assert bptt > 100 * eprop
    assert (tmp_path / "learning_curve.png").stat().st_size > 0
