"""Every benchmark script runs in its --quick mode (timings are not asserted)."""

import pathlib
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent.parent / "benchmarks"))
from _results import parse_results, result_line  # noqa: E402

BENCHMARKS = sorted(
    p for p in (pathlib.Path(__file__).parent.parent / "benchmarks").glob("bench_*.py")
)


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.name)
def test_benchmark_quick_mode_runs(script):
    result = subprocess.run(
        [sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ratio" in result.stdout.lower(), result.stdout
    lines = parse_results(result.stdout)
    assert lines, "no RESULT lines:\n" + result.stdout[-2000:]
    # Every RESULT-looking line parses, and the figures are finite.
    assert len(lines) == sum(ln.startswith("RESULT ") for ln in result.stdout.splitlines())
    assert all(r["met"] is not None for r in lines), lines


def test_result_lines_round_trip():
    text = "\n".join([
        "noise", result_line("ngrc.fit", 1.0712, "<=", 1.1),
        result_line("memory.checkpoint_saving", 3.5, ">=", 4.0),
        "RESULT bad line", "RESULT x.y ratio=nan goal<=1.00",
    ])
    assert parse_results(text) == [
        dict(name="ngrc.fit", ratio=1.071, op="<=", goal=1.1, met=True),
        dict(name="memory.checkpoint_saving", ratio=3.5, op=">=", goal=4.0, met=False),
        dict(name="x.y", ratio=pytest.approx(float("nan"), nan_ok=True), op="<=", goal=1.0,
             met=None),
    ]
    with pytest.raises(ValueError, match="`op` must be"):
        result_line("a.b", 1.0, "<", 1.0)
    with pytest.raises(ValueError, match="bad name"):
        result_line("nodot", 1.0, "<=", 1.0)
