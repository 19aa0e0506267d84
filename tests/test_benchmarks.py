"""Every benchmark script runs in its --quick mode (timings are not asserted)."""

import pathlib
import subprocess
import sys

import pytest

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
