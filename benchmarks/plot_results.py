"""Draws the plots of docs/performance.md from a results file of run_suite.py, and puts
the results' tables into the page.

    python benchmarks/plot_results.py [benchmarks/results/results.json] [--out docs/img]
                                      [--doc docs/performance.md]

One PNG per workload (`bench_<workload>.png`): a bar per implementation for each timed
figure (log scale, the ratio to funcdyn written on each bar), and for W5 the accuracy
against the time of each method. The tables (`results.md`) replace whatever lies between
the lines `<!-- results:start -->` and `<!-- results:end -->` of the page.
"""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

HERE = Path(__file__).resolve().parent
TITLES = {
    "w1_snn": "W1 SNN-BPTT (T=100, batch 128, 200 LIF)",
    "w2_lstm": "W2 DeepRNN (4 LSTMs, T=50, batch 64)",
    "w3_ngrc": "W3 NG-RC Lorenz63",
    "w4_coba": "W4 COBA E/I (4,000 neurons, 1 s)",
    "w4_coba_large": "W4 COBA E/I (40,000 neurons, 100 ms)",
    "w5_hh": "W5 HH population (10,000 neurons, 100 ms)",
}
LABELS = {"step_s": "training step", "compile_s": "compilation", "fit_s": "ridge fit",
          "fit_cholesky_s": "ridge fit (Cholesky)", "forecast_s": "10,000-step forecast",
          "sim_s": "simulation", "fixed_s": "exp. Euler dt=0.01", "adaptive_s": "Tsit5 (PID)"}
COLORS = {"funcdyn": "#1f77b4", "jax": "#7f7f7f", "brainpy": "#ff7f0e", "snntorch": "#2ca02c",
          "torch": "#2ca02c", "reservoirpy": "#9467bd", "brian2": "#d62728"}


def plot_workload(name, entries, out):
    ok = {k: v for k, v in entries.items() if v.get("status") == "ok"}
    if not ok:
        return None
    keys = [k for k in ("step_s", "compile_s", "fit_s", "forecast_s",
                        "sim_s", "fixed_s", "adaptive_s")
            if any(k in v["median"] for v in ok.values())]
    n = len(keys) + (1 if name == "w5_hh" else 0)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 2.8), squeeze=False)
    base = ok.get("funcdyn", {}).get("median", {})
    for ax, key in zip(axes[0], keys):
        impls = [i for i in ok if ok[i]["median"].get(key, 0) > 0]
        if not impls:
            continue
        vals = [ok[i]["median"][key] for i in impls]
        colors = [COLORS.get(i, "#17becf") for i in impls]
        extra = ok.get("funcdyn", {}).get("median", {}).get("fit_cholesky_s")
        if key == "fit_s" and extra:
            # funcdyn's ridge fit with the Cholesky solver, beside its default (SVD).
            impls.insert(1, "funcdyn (Cholesky)")
            vals.insert(1, extra)
            colors.insert(1, "#aec7e8")
        ax.barh(impls, vals, color=colors)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xscale("log")
        ax.invert_yaxis()
        ax.set_xlabel("seconds (log)")
        ax.set_title(LABELS.get(key, key), fontsize=10)
        for y, (impl, v) in enumerate(zip(impls, vals)):
            txt = f"{v * 1e3:.3g} ms" if v < 1 else f"{v:.3g} s"
            if base.get(key) and not impl.startswith("funcdyn"):
                txt += f"  ({v / base[key]:.2f}x)"
            ax.text(v, y, " " + txt, va="center", fontsize=8)
        ax.set_xlim(min(vals) / 3, max(vals) * 100)
    if name == "w5_hh":
        ax = axes[0][-1]
        for impl, e in ok.items():
            m = e["median"]
            for method, marker in (("fixed", "o"), ("adaptive", "s")):
                if f"{method}_s" in m and f"{method}_err_ms" in m:
                    ax.semilogy(m[f"{method}_s"], max(m[f"{method}_err_ms"], 1e-9), marker,
                              color=COLORS.get(impl, "k"), label=f"{impl} {method}")
        ax.set_xlim(left=0)
        ax.set_xlabel("seconds")
        ax.set_ylabel("mean |spike-time error| (ms)")
        ax.set_title("accuracy vs time", fontsize=10)
        ax.legend(fontsize=7)
    fig.suptitle(TITLES.get(name, name), fontsize=11)
    fig.tight_layout()
    path = out / f"bench_{name}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


START, END = "<!-- results:start -->", "<!-- results:end -->"


def update_doc(doc: Path, results: dict) -> None:
    import sys

    sys.path.insert(0, str(HERE))
    import run_suite

    text = doc.read_text()
    if START not in text or END not in text:
        print(f"{doc} has no {START} ... {END} block; tables not written")
        return
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    table = run_suite.markdown(results).replace("### ", "#### ")
    doc.write_text(head + START + "\n" + table + "\n" + END + tail)
    print(f"wrote the tables into {doc}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="?", default=str(HERE / "results" / "results.json"))
    p.add_argument("--out", default=str(HERE.parent / "docs" / "img"))
    p.add_argument("--doc", default=str(HERE.parent / "docs" / "performance.md"),
                   help="the page whose results block is replaced ('' for none)")
    args = p.parse_args(argv)
    results = json.loads(Path(args.results).read_text())
    if args.doc:
        update_doc(Path(args.doc), results)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, entries in results["workloads"].items():
        path = plot_workload(name, entries, out)
        if path:
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
