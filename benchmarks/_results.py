"""The machine-readable result lines every benchmark ends with, and their parser.

    RESULT <benchmark>.<figure> ratio=<value> goal<op><value>

`<op>` is `<=` (lower is better: a time ratio) or `>=` (a saving). `run_suite.py`
collects these lines from every `benchmarks/bench_*.py` into the results file and
`docs/performance.md`.
"""

import math
import re

_LINE = re.compile(
    r"^RESULT (?P<name>[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)+) ratio=(?P<ratio>\S+) "
    r"goal(?P<op><=|>=)(?P<goal>\S+)\s*$"
)


def result_line(name: str, ratio: float, op: str, goal: float) -> str:
    """One `RESULT` line; `name` is `<benchmark>.<figure>`."""
    if op not in ("<=", ">="):
        raise ValueError(f"result_line: `op` must be '<=' or '>=', got {op!r}.")
    if not _LINE.match(f"RESULT {name} ratio=1 goal{op}1"):
        raise ValueError(f"result_line: bad name {name!r}; use '<benchmark>.<figure>'.")
    return f"RESULT {name} ratio={ratio:.3f} goal{op}{goal:.2f}"


def parse_results(text: str) -> list[dict]:
    """Every `RESULT` line of `text`, as `{name, ratio, op, goal, met}` (`met` is None
    when the ratio is not a finite number)."""
    out = []
    for line in text.splitlines():
        m = _LINE.match(line.strip())
        if not m:
            continue
        try:
            ratio = float(m["ratio"])
        except ValueError:
            ratio = math.nan
        goal = float(m["goal"])
        met = None
        if math.isfinite(ratio):
            met = ratio <= goal if m["op"] == "<=" else ratio >= goal
        out.append(dict(name=m["name"], ratio=ratio, op=m["op"], goal=goal, met=met))
    return out
