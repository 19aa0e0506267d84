"""The peer benchmark suite (benchmarks/run_suite.py) in --quick mode, on the funcdyn and
hand-written JAX implementations only (the peers' environments are not needed): the
results file has the documented structure, and funcdyn computes the same numbers as the
hand-written JAX of the same maths (same weights, same inputs)."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "benchmarks" / "run_suite.py"
sys.path.insert(0, str(ROOT / "benchmarks" / "peers"))
sys.path.insert(0, str(ROOT / "benchmarks"))


def run_suite(tmp_path, workloads):
    proc = subprocess.run(
        [sys.executable, str(SUITE), "--quick", "--impls", "funcdyn", "jax", "--out",
         str(tmp_path), "--cores", "0", "--workloads", *workloads],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert (tmp_path / "results.md").read_text().startswith("Run: ")
    return results


def check_structure(results, workloads):
    meta = results["meta"]
    for key in ("date", "command", "size", "rounds", "cores", "machine", "commit", "sizes"):
        assert key in meta
    assert meta["size"] == "quick"
    assert meta["machine"]["nproc"] >= 1 and meta["machine"]["cpu_model"]
    assert list(results["workloads"]) == list(workloads)
    for wl, impls in results["workloads"].items():
        # The peers are filtered out with --impls; the two run here must have succeeded.
        assert set(impls) == {"funcdyn", "jax"}, wl
        jax_entry = impls["jax"]
        assert jax_entry["status"] == "ok", jax_entry
        assert len(jax_entry["rounds"]) == meta["rounds"]
        assert jax_entry["versions"]["jax"]
        for rec in jax_entry["rounds"]:
            assert rec["status"] == "ok" and rec["cores"] == [0]
        fd = impls["funcdyn"]
        assert fd["status"] in ("ok", "not implemented"), fd
        if fd["status"] == "ok":
            assert jax_entry["vs_funcdyn"], wl


def test_w1_structure_and_same_loss(tmp_path):
    results = run_suite(tmp_path, ["w1_snn"])
    check_structure(results, ["w1_snn"])
    impls = results["workloads"]["w1_snn"]
    jax_m = impls["jax"]["median"]
    for key in ("step_s", "compile_s", "peak_rss_mb", "loss0", "loss_last"):
        assert math.isfinite(jax_m[key]), key
    assert jax_m["step_s"] > 0
    if impls["funcdyn"]["status"] == "ok":
        fd_m = impls["funcdyn"]["median"]
        # Same weights and inputs: the same loss before training, and (same surrogate,
        # same Adam) after the timed steps, to float32 rounding.
        assert fd_m["loss0"] == pytest.approx(jax_m["loss0"], rel=1e-5)
        assert fd_m["loss_last"] == pytest.approx(jax_m["loss_last"], rel=1e-4)


@pytest.mark.slow
def test_all_workloads_quick(tmp_path):
    workloads = ["w1_snn", "w2_lstm", "w3_ngrc", "w4_coba", "w5_hh"]
    results = run_suite(tmp_path, workloads)
    check_structure(results, workloads)
    w = results["workloads"]

    def both(wl):
        if w[wl]["funcdyn"]["status"] != "ok":
            pytest.skip(f"funcdyn implementation of {wl} not there yet")
        return w[wl]["funcdyn"]["median"], w[wl]["jax"]["median"]

    fd, jx = both("w2_lstm")
    assert fd["loss0_eval"] == pytest.approx(jx["loss0_eval"], rel=1e-5)
    fd, jx = both("w3_ngrc")
    # The paper's setup: about 2e-3 over one Lyapunov time, the same in both.
    assert jx["nrmse"] < 1e-2
    assert fd["nrmse"] == pytest.approx(jx["nrmse"], rel=1e-3)
    fd, jx = both("w4_coba")
    assert jx["rate_hz"] > 1
    assert fd["rate_hz"] == pytest.approx(jx["rate_hz"], rel=0.25)
    fd, jx = both("w5_hh")
    for m in (fd, jx):
        assert m["fixed_err_ms"] < 0.2 and m["adaptive_err_ms"] < 0.01


def test_aggregate_and_ratios():
    import run_suite

    rounds = [dict(status="ok", metrics=dict(step_s=[1.0, 3.0, 2.0], loss0=0.5)),
              dict(status="ok", metrics=dict(step_s=[4.0, 4.0, 4.0], loss0=0.5)),
              dict(status="error", error="boom")]
    med = run_suite.aggregate(rounds)
    # Per-round medians 2.0 and 4.0, then the median over rounds.
    assert med == dict(step_s=3.0, loss0=0.5)
    assert run_suite.ratios(med, dict(step_s=1.5), ["step_s", "missing"]) == dict(step_s=2.0)
    assert run_suite.aggregate([dict(status="timeout")]) == {}


def test_spike_time_error():
    import _common as C

    import numpy as np

    t = np.arange(0, 10, 0.5)
    V = np.stack([np.sin(t), np.cos(t)], axis=1) * 10.0
    times = C.spike_times(V, 0.5)
    # sin crosses 0 upwards at 2 pi; cos at 3 pi / 2 (linear interpolation on a 0.5 grid).
    assert times[0][0] == pytest.approx(2 * np.pi, abs=0.05)
    assert times[1][0] == pytest.approx(1.5 * np.pi, abs=0.05)
    err = C.spike_time_error(times, [times[0] + 0.01, times[1][:0]])
    assert err["mean_abs_ms"] == pytest.approx(0.01)
    assert err["count_mismatch"] == 1
