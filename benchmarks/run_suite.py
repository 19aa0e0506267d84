"""The benchmark suite: funcdyn against hand-written JAX and the peer libraries.

Each implementation of each workload (`benchmarks/peers/<workload>/<impl>_impl.py`) runs
as its own process, with the interpreter of its own virtual environment (made by
`benchmarks/setup_peers.sh`), pinned to the same cores. The implementations of a workload
are alternated over several rounds (the order rotates each round), and the suite reports
the median over rounds of each figure and its ratio to funcdyn.

    python benchmarks/run_suite.py                 # everything, writes benchmarks/results/
    python benchmarks/run_suite.py --quick --impls funcdyn jax --out /tmp/r   # tiny sizes

Outputs: `results.json` (every round's raw figures, the medians, ratios, versions, machine,
date, command) and `results.md` (the tables). `benchmarks/plot_results.py` draws the plots.

Every benchmark ends with machine-readable lines `RESULT <benchmark>.<figure>
ratio=<x> goal<=<y>` (or `goal>=`): the suite prints one per headline ratio (funcdyn
against hand-written JAX, and against the goal's peer), and with `--bench` it also runs
the `benchmarks/bench_*.py` scripts (all, or those named) and collects their lines. All
of them go into `results.json` (`result_lines`), `results.md`, and, for a run written to
the default folder, the `<!-- result-lines:start -->` block of `docs/performance.md`.

    python benchmarks/run_suite.py --workloads --bench            # the bench_*.py only
    python benchmarks/run_suite.py --bench bench_ngrc bench_scale # the suite and two more
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS = HERE / "peers"
ENVS = HERE / ".envs"
sys.path.insert(0, str(PEERS))
sys.path.insert(0, str(HERE))
import _common as C  # noqa: E402
from _results import parse_results, result_line  # noqa: E402

# workload -> implementations, in the order they are listed; each names the environment
# its process runs in ("self": the interpreter running this script).
IMPLS = {
    "w1_snn": {"funcdyn": "self", "jax": "self", "brainpy": "brainpy", "snntorch": "torch"},
    "w2_lstm": {"funcdyn": "self", "jax": "self", "brainpy": "brainpy", "torch": "torch"},
    "w3_ngrc": {"funcdyn": "self", "jax": "self", "brainpy": "brainpy",
                "reservoirpy": "reservoirpy"},
    "w4_coba": {"funcdyn": "self", "jax": "self", "brainpy": "brainpy", "brian2": "brian2"},
    "w5_hh": {"funcdyn": "self", "jax": "self", "brainpy": "brainpy"},
}
# The headline figure of each workload (lower is better), used for ratios and plots.
HEADLINE = {
    "w1_snn": ["step_s", "step_s_cpu", "compile_s", "peak_rss_mb"],
    "w2_lstm": ["step_s", "step_s_cpu", "compile_s"],
    "w3_ngrc": ["fit_s", "forecast_s", "forecast_s_cpu", "nrmse", "fit_qr_s",
                "fit_cholesky_s"],
    "w4_coba": ["sim_s", "sim_s_cpu", "rate_hz"],
    "w5_hh": ["fixed_s", "fixed_s_cpu", "adaptive_s", "adaptive_s_cpu", "fixed_err_ms",
              "adaptive_err_ms"],
}


def headline(label: str) -> list[str]:
    """The headline figures of a workload label (`w4_coba_large` -> those of `w4_coba`)."""
    return HEADLINE.get(label) or HEADLINE[label.rsplit("_", 1)[0]]


def machine_info() -> dict:
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
                break
    except OSError:
        pass
    return dict(nproc=os.cpu_count(), cpu_model=cpu, memory=mem, platform=platform.platform(),
                python=platform.python_version(), load_avg_at_start=os.getloadavg())


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                             capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("+uncommitted" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "?"


def interpreter(env: str) -> tuple[str | None, str]:
    """The Python of an environment, or None with the reason it is missing."""
    if env == "self":
        return sys.executable, ""
    py = ENVS / env / "bin" / "python"
    if py.exists():
        return str(py), ""
    log = ENVS / f"{env}.log"
    why = f"environment benchmarks/.envs/{env} missing (run benchmarks/setup_peers.sh)"
    if log.exists():
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        why = f"did not install: {' | '.join(tail)}"
    return None, why


def run_one(py: str, script: Path, size: str, data: Path, cores: list[int], timeout: float,
            extra: list[str]) -> dict:
    cmd = [py, str(script), "--size", size, "--data", str(data),
           "--threads", str(len(cores))] + extra
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    n = str(len(cores))
    env.update(OMP_NUM_THREADS=n, MKL_NUM_THREADS=n, OPENBLAS_NUM_THREADS=n)
    env.pop("XLA_FLAGS", None)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout,
                              preexec_fn=lambda: os.sched_setaffinity(0, cores))
    except subprocess.TimeoutExpired:
        return dict(status="timeout", error=f"no result within {timeout:.0f} s",
                    wall_s=time.perf_counter() - t0, command=shlex.join(cmd))
    wall = time.perf_counter() - t0
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(C.RESULT_MARK):
            rec = json.loads(line[len(C.RESULT_MARK):])
            rec.update(status="ok", wall_s=wall)
            return rec
    err = (proc.stderr.strip().splitlines() or ["(no output)"])[-12:]
    return dict(status="error", error="\n".join(err), returncode=proc.returncode,
                wall_s=wall, command=shlex.join(cmd))


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def aggregate(rounds: list[dict]) -> dict:
    """Median over rounds of each figure; a list of per-repetition times becomes its median
    first."""
    ok = [r for r in rounds if r.get("status") == "ok"]
    if not ok:
        return {}
    out = {}
    for key in ok[0]["metrics"]:
        vals = []
        for r in ok:
            v = r["metrics"].get(key)
            if isinstance(v, list) and v and all(_is_num(x) for x in v):
                v = statistics.median(v)
            if _is_num(v):
                vals.append(float(v))
        if vals:
            out[key] = statistics.median(vals)
    return out


def ratios(medians: dict, base: dict, keys: list[str]) -> dict:
    out = {}
    for k in keys:
        if k in medians and base.get(k):
            out[k] = medians[k] / base[k]
    return out


def hh_errors(records: list[dict], ref: dict) -> None:
    """Adds spike-time errors against the fine reference to W5 records in place."""
    for rec in records:
        m = rec.get("metrics", {})
        for method in ("fixed", "adaptive"):
            times = m.pop(f"{method}_spikes", None)
            if times is None:
                continue
            err = C.spike_time_error(times, ref["times"])
            m[f"{method}_err_ms"] = err["mean_abs_ms"]
            m[f"{method}_err_max_ms"] = err["max_abs_ms"]
            m[f"{method}_count_mismatch"] = err["count_mismatch"]
            m[f"{method}_n_spikes"] = sum(len(t) for t in times)


def hh_reference(size: str, data: Path, cores, timeout) -> dict:
    script = PEERS / "w5_hh" / "reference.py"
    rec = run_one(sys.executable, script, size, data, cores, timeout, [])
    if rec.get("status") != "ok":
        raise RuntimeError(f"W5 reference failed: {rec.get('error')}")
    m = rec["metrics"]
    times = C.spike_times(m["probe_V"], m["save_dt"])
    return dict(times=times, save_dt=m["save_dt"], wall_s=rec["wall_s"],
                method=m["method"], n_spikes=sum(len(t) for t in times))


def fmt(v, key=""):
    if not _is_num(v):
        return "-"
    if key.endswith("_s") or key.endswith("_s_cpu"):
        if v < 1e-3:
            return f"{v * 1e6:.0f} us"
        if v < 1:
            return f"{v * 1e3:.2f} ms" if v < 0.1 else f"{v * 1e3:.0f} ms"
        return f"{v:.2f} s"
    if key.endswith("_mb"):
        return f"{v:.0f} MiB"
    if abs(v) != 0 and (abs(v) < 1e-2 or abs(v) >= 1e4):
        return f"{v:.2e}"
    return f"{v:.3g}"


# The figures the goals are about: funcdyn within 1.05x of hand-written JAX, and
# faster than every peer on W1-W4.
SUMMARY = [("w1_snn", "step_s"), ("w1_snn", "compile_s"), ("w2_lstm", "step_s"),
           ("w3_ngrc", "fit_s"), ("w3_ngrc", "forecast_s"), ("w4_coba", "sim_s"),
           ("w4_coba_large", "sim_s"), ("w5_hh", "fixed_s"), ("w5_hh", "adaptive_s")]


def summary(results: dict) -> list[str]:
    lines = ["| workload | figure | funcdyn | hand-written JAX | funcdyn / JAX | fastest peer "
             "| funcdyn / fastest peer |", "|---|---|---|---|---|---|---|"]
    for wl, key in SUMMARY:
        impls = results["workloads"].get(wl)
        if not impls:
            continue
        med = {n: e["median"][key] for n, e in impls.items()
               if e.get("status") == "ok" and _is_num(e["median"].get(key))}
        fd, jx = med.get("funcdyn"), med.get("jax")
        peers = {n: v for n, v in med.items() if n not in ("funcdyn", "jax")}
        best = min(peers, key=peers.get) if peers else None
        lines.append(" | ".join([
            f"| {wl}", key, fmt(fd, key), fmt(jx, key),
            f"{fd / jx:.2f}x" if fd and jx else "-",
            f"{best} {fmt(peers[best], key)}" if best else "-",
            f"{fd / peers[best]:.2f}x" if fd and best and peers[best] else "-"]) + " |")
    return lines


# Goals of the suite's own RESULT lines: funcdyn / hand-written JAX (and, for the LSTM,
# funcdyn / PyTorch's fused nn.LSTM).
SUITE_GOALS = {("w1_snn", "step_s"): 1.05, ("w2_lstm", "step_s"): 1.05,
               ("w3_ngrc", "fit_s"): 1.10, ("w3_ngrc", "forecast_s"): 1.05,
               ("w4_coba", "sim_s"): 1.05, ("w5_hh", "fixed_s"): 1.05,
               ("w5_hh", "adaptive_s"): 1.05}
PEER_GOALS = {("w2_lstm", "step_s", "torch"): 1.00}


def suite_result_lines(results: dict) -> list[str]:
    lines = []
    for (wl, key), goal in SUITE_GOALS.items():
        impls = results["workloads"].get(wl, {})
        fd_e, jx_e = impls.get("funcdyn", {}), impls.get("jax", {})
        if fd_e.get("status") == "ok" and jx_e.get("status") == "ok":
            fd_v, jx_v = fd_e["median"].get(key), jx_e["median"].get(key)
            if _is_num(fd_v) and _is_num(jx_v) and jx_v:
                lines.append(result_line(f"suite.{wl}_{key}_vs_jax", fd_v / jx_v, "<=", goal))
    for (wl, key, peer), goal in PEER_GOALS.items():
        impls = results["workloads"].get(wl, {})
        fd_e, p_e = impls.get("funcdyn", {}), impls.get(peer, {})
        if fd_e.get("status") == "ok" and p_e.get("status") == "ok":
            fd_v, p_v = fd_e["median"].get(key), p_e["median"].get(key)
            if _is_num(fd_v) and _is_num(p_v) and p_v:
                lines.append(result_line(f"suite.{wl}_{key}_vs_{peer}", fd_v / p_v, "<=", goal))
    return lines


def run_benchmarks(names: list[str], quick: bool, timeout: float) -> list[dict]:
    """Runs `benchmarks/bench_*.py` (all when `names` is empty) and returns each one's
    RESULT lines, parsed, with its status."""
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        wanted = {n.removesuffix(".py") for n in names}
        unknown = wanted - {s.stem for s in scripts}
        if unknown:
            raise SystemExit(f"run_suite: no benchmark named {sorted(unknown)}; have "
                             f"{[s.stem for s in scripts]}")
        scripts = [s for s in scripts if s.stem in wanted]
    out = []
    for script in scripts:
        cmd = [sys.executable, str(script)] + (["--quick"] if quick else [])
        print(f"== {script.name}", flush=True)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                                  timeout=timeout)
            text, rc = proc.stdout, proc.returncode
        except subprocess.TimeoutExpired as err:
            text, rc = (err.stdout or b"").decode(errors="replace") if isinstance(
                err.stdout, bytes) else (err.stdout or ""), "timeout"
        lines = parse_results(text)
        status = "ok" if rc == 0 and lines else f"failed ({rc})" if rc else "no RESULT lines"
        out.append(dict(benchmark=script.stem, status=status, command=shlex.join(cmd),
                        wall_s=time.perf_counter() - t0, results=lines))
        for r in lines:
            print(f"   {r['name']} ratio={r['ratio']:.3f} goal{r['op']}{r['goal']:g} "
                  f"{'met' if r['met'] else 'NOT met'}", flush=True)
        if status != "ok":
            print(f"   {status}: " + (proc.stderr[-500:] if rc not in (0, "timeout") else ""))
    return out


def result_markdown(bench: list[dict]) -> list[str]:
    lines = ["| benchmark | figure | ratio | goal | met |", "|---|---|---|---|---|"]
    for b in bench:
        if not b["results"]:
            lines.append(f"| {b['benchmark']} | - | - | - | {b['status']} |")
        for r in b["results"]:
            met = "-" if r["met"] is None else "yes" if r["met"] else "**no**"
            lines.append(f"| {b['benchmark']} | {r['name']} | {r['ratio']:.3f} | "
                         f"{r['op']} {r['goal']:g} | {met} |")
    return lines


RESULT_START, RESULT_END = "<!-- result-lines:start -->", "<!-- result-lines:end -->"


def update_performance_page(results: dict, page: Path) -> None:
    text = page.read_text()
    if RESULT_START not in text or RESULT_END not in text:
        raise SystemExit(f"run_suite: {page} has no {RESULT_START} ... {RESULT_END} block")
    meta = results["meta"]
    block = [RESULT_START, "", f"Run: {meta['date']} (UTC), commit {meta['commit']}, "
             f"load average at start {meta['machine']['load_avg_at_start'][0]:.1f}.", ""]
    block += result_markdown(results["result_lines"]) + ["", RESULT_END]
    head, rest = text.split(RESULT_START, 1)
    tail = rest.split(RESULT_END, 1)[1]
    page.write_text(head + "\n".join(block) + tail)


def markdown(results: dict) -> str:
    lines = []
    meta = results["meta"]
    lines.append(f"Run: {meta['date']} (UTC), size `{meta['size']}`, {meta['rounds']} rounds, "
                 f"cores {meta['cores']}, machine: {meta['machine']['cpu_model']}, "
                 f"{meta['machine']['nproc']} CPUs, {meta['machine']['memory']}; "
                 f"commit {meta['commit']}.")
    lines.append("")
    lines += summary(results)
    lines.append("")
    if results.get("result_lines"):
        lines.append("### RESULT lines")
        lines.append("")
        lines += result_markdown(results["result_lines"])
        lines.append("")
    for wl, impls in results["workloads"].items():
        keys = headline(wl)
        lines.append(f"### {wl}")
        lines.append("")
        head = "| implementation | " + " | ".join(keys) + " | " + " | ".join(
            f"{k} / funcdyn" for k in keys if not k.endswith("err_ms") and k not in (
                "rate_hz", "nrmse")) + " |"
        ratio_keys = [k for k in keys if not k.endswith("err_ms") and k not in (
            "rate_hz", "nrmse")]
        lines.append(head)
        lines.append("|" + "---|" * (1 + len(keys) + len(ratio_keys)))
        for name, r in impls.items():
            if r["status"] != "ok":
                lines.append(f"| {name} | " + f"{r['status']}: {r.get('reason', '')}".replace(
                    "\n", " ").replace("|", "/")[:200] + " |" * (len(keys) + len(ratio_keys)))
                continue
            med = r["median"]
            cells = [fmt(med.get(k), k) for k in keys]
            rcells = [f"{r['vs_funcdyn'][k]:.2f}x" if k in r.get("vs_funcdyn", {}) else "-"
                      for k in ratio_keys]
            lines.append(f"| {name} | " + " | ".join(cells + rcells) + " |")
        lines.append("")
        vers = {n: r.get("versions", {}) for n, r in impls.items() if r.get("versions")}
        if vers:
            lines.append("Versions: " + "; ".join(
                f"{n}: " + ", ".join(f"{k} {v}" for k, v in vv.items()) for n, vv in
                vers.items()) + ".")
            lines.append("")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes (for tests)")
    p.add_argument("--workloads", nargs="*", default=list(IMPLS))
    p.add_argument("--impls", nargs="*", default=None,
                   help="only these implementations (default: all)")
    p.add_argument("--rounds", type=int, default=None, help="default 3 (1 with --quick)")
    p.add_argument("--cores", default="0",
                   help="comma-separated CPU ids every process is pinned to (default: 0)")
    p.add_argument("--large", action="store_true",
                   help="also run W4 at 40,000 neurons (100 ms of biological time)")
    p.add_argument("--timeout", type=float, default=900.0, help="per process, seconds")
    p.add_argument("--out", default=None, help="default benchmarks/results")
    p.add_argument("--bench", nargs="*", default=None,
                   help="also run these benchmarks/bench_*.py (all when none is named) "
                        "and collect their RESULT lines")
    args = p.parse_args(argv)

    size = "quick" if args.quick else "full"
    rounds = args.rounds or (1 if args.quick else 3)
    cores = [int(c) for c in args.cores.split(",")]
    out_dir = Path(args.out) if args.out else HERE / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    results = dict(meta=dict(
        date=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        command=shlex.join([Path(sys.executable).name] + sys.argv),
        size=size, rounds=rounds, cores=cores, machine=machine_info(), commit=git_commit(),
        sizes={wl: C.SIZES[wl][size] for wl in args.workloads},
    ), workloads={})

    jobs = [(wl, size) for wl in args.workloads]
    if args.large and "w4_coba" in args.workloads and not args.quick:
        jobs.append(("w4_coba", "large"))
    with tempfile.TemporaryDirectory(prefix="funcdyn-bench-") as tmp:
        for wl, sz in jobs:
            label = wl if sz in ("full", "quick") else f"{wl}_{sz}"
            print(f"== {label} ({sz})", flush=True)
            data = Path(tmp) / f"{label}.npz"
            import numpy as np

            np.savez(data, **C.make_data(wl, sz))
            impls = {n: e for n, e in IMPLS[wl].items() if args.impls is None or n in args.impls}
            entries, runnable = {}, []
            for name, env in impls.items():
                script = PEERS / wl / f"{name}_impl.py"
                py, why = interpreter(env)
                if not script.exists():
                    entries[name] = dict(status="not implemented",
                                         reason=f"{script.relative_to(ROOT)} missing")
                elif py is None:
                    entries[name] = dict(status="not installed", reason=why)
                else:
                    entries[name] = dict(status="pending", env=env, rounds=[])
                    runnable.append((name, py, script))
            ref = None
            if wl == "w5_hh" and runnable:
                ref = hh_reference(sz, data, cores, args.timeout)
                print(f"   reference: {ref['method']}, {ref['n_spikes']} probe spikes, "
                      f"{ref['wall_s']:.1f} s", flush=True)
            n_rounds = min(rounds, C.SIZES[wl][sz].get("max_rounds", rounds))
            for r in range(n_rounds):
                order = runnable[r % len(runnable):] + runnable[:r % len(runnable)]
                for name, py, script in order:
                    rec = run_one(py, script, sz, data, cores, args.timeout, [])
                    if ref is not None:
                        hh_errors([rec], ref)
                    entries[name]["rounds"].append(rec)
                    print(f"   round {r + 1}/{n_rounds} {name:12s} {rec['status']:8s} "
                          f"{rec['wall_s']:6.1f} s", flush=True)
                    if rec["status"] != "ok":
                        print("     " + rec.get("error", "").replace("\n", "\n     "))
            for name, e in entries.items():
                if e["status"] != "pending":
                    continue
                ok = [x for x in e["rounds"] if x.get("status") == "ok"]
                if ok:
                    e.update(status="ok", median=aggregate(e["rounds"]),
                             versions=ok[0].get("versions", {}), notes=ok[0].get("notes", ""))
                else:
                    e.update(status="failed", reason=e["rounds"][-1].get("error", "?"))
            base = entries.get("funcdyn", {})
            for name, e in entries.items():
                if e["status"] == "ok" and base.get("status") == "ok":
                    e["vs_funcdyn"] = ratios(e["median"], base["median"], headline(wl))
            if ref is not None:
                results["meta"]["w5_reference"] = dict(method=ref["method"],
                                                       n_spikes=ref["n_spikes"])
            results["workloads"][label] = entries
    suite_lines = suite_result_lines(results)
    results["result_lines"] = []
    if suite_lines:
        results["result_lines"].append(dict(
            benchmark="run_suite", status="ok", command=results["meta"]["command"],
            results=parse_results("\n".join(suite_lines))))
    if args.bench is not None:
        results["result_lines"] += run_benchmarks(args.bench, args.quick, args.timeout)
    results["meta"]["suite_wall_s"] = time.perf_counter() - t_start
    (out_dir / "results.json").write_text(json.dumps(results, indent=1, default=C._to_json))
    md = markdown(results)
    (out_dir / "results.md").write_text(md + "\n")
    print(md)
    if args.out is None and not args.quick and results["result_lines"]:
        update_performance_page(results, ROOT / "docs" / "performance.md")
    for line in suite_lines:
        print(line)
    print(f"wrote {out_dir / 'results.json'} and results.md in "
          f"{results['meta']['suite_wall_s']:.0f} s")
    return results


if __name__ == "__main__":
    main()
