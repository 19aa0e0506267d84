"""examples/nir_roundtrip.py --quick: the digits SNN keeps its test accuracy through NIR."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

pytest.importorskip("nir")
ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_nir_roundtrip_quick(tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "nir_roundtrip.py"), "--quick", "--out",
         str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-5000:]
    acc = float(re.findall(r"funcdyn test accuracy: ([\d.]+)", out)[-1])
    acc_nir = float(re.findall(r"re-imported from NIR test accuracy: ([\d.]+)", out)[-1])
    diff = float(re.findall(r"max \|V_funcdyn - V_nir\| over the test set: ([\d.e+-]+)", out)[-1])
    # Chance is 0.1; the quick run (5 epochs, 128 LIF neurons) reaches about 0.83.
    assert acc >= 0.6, out
    assert acc_nir == acc, out
    assert diff < 1e-4, out   # float32 rounding of w_in (1 - e^(-dt/tau)) = 1
    assert (tmp_path / "digits_snn.nir").stat().st_size > 1000
    assert "CubaLIF" in out and "CubaLI)" in out
