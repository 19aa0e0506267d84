"""The e-prop vs BPTT digits example runs in its `--quick` mode (one seed, four epochs)
and both methods learn: each test accuracy is far above chance (0.1), and e-prop is
within 10 points of BPTT here (the full comparison, 3 seeds and 20 epochs, is run by
hand: `python examples/eprop_digits.py`)."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_eprop_digits_quick(tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "eprop_digits.py"), "--quick", "--out",
         str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    eprop = float(re.search(r"e-prop mean test accuracy: ([0-9.]+)", out.stdout).group(1))
    bptt = float(re.search(r"BPTT mean test accuracy: ([0-9.]+)", out.stdout).group(1))
    assert eprop > 0.5 and bptt > 0.5, out.stdout
    assert eprop > bptt - 0.10, out.stdout
    assert (tmp_path / "results.json").exists()
