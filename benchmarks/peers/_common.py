"""Shared pieces of the peer benchmarks: sizes, data, timing and the result protocol.

Every implementation script (`benchmarks/peers/<workload>/<impl>_impl.py`) runs as its own
process, possibly in another virtual environment with other JAX/NumPy versions, so this
module needs only the standard library and NumPy.

The data (inputs, initial weights, connectivity) are generated once by the suite with
`make_data` and written to an `.npz` file that every implementation loads: all
implementations of a workload see the very same arrays, so their step-0 losses, firing
rates and forecasts can be compared number for number.

An implementation prints one line `@@RESULT@@ {json}` with its measurements.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

RESULT_MARK = "@@RESULT@@"
WORKLOADS = ("w1_snn", "w2_lstm", "w3_ngrc", "w4_coba", "w5_hh")

# The sizes of each workload. "full" is the setup; "quick" is tiny, for tests.
# `steps` / `reps`: timed repetitions inside one process; `max_rounds`: a cap on the
# suite's rounds for the longest workloads (to keep a full run near 15 minutes).
SIZES = {
    "w1_snn": {
        "full": dict(n_in=100, n_rec=200, n_out=2, T=100, batch=128, rate=0.05, dt=1.0,
                     tau_syn=10.0, tau_mem=10.0, tau_out=5.0, V_th=1.0, lr=1e-3,
                     w_scale=20.0, steps=20),
        "quick": dict(n_in=10, n_rec=16, n_out=2, T=8, batch=4, rate=0.2, dt=1.0,
                      tau_syn=10.0, tau_mem=10.0, tau_out=5.0, V_th=1.0, lr=1e-3,
                      w_scale=20.0, steps=3),
    },
    "w2_lstm": {
        "full": dict(sizes=[100, 200, 200, 200, 100], n_out=10, T=50, batch=64, p_drop=0.2,
                     lr=1e-3, steps=6, max_rounds=2),
        "quick": dict(sizes=[6, 8, 8, 8, 5], n_out=3, T=5, batch=4, p_drop=0.2, lr=1e-3,
                      steps=3),
    },
    "w3_ngrc": {
        # Gauthier et al. 2021: dt 0.025, k = 2 taps, s = 1, constant + linear + quadratic
        # (28 features), 400 training points after a 5-time-unit warm-up, ridge 2.5e-6.
        "full": dict(dt=0.025, warmup=200, train=400, test=1000, forecast=10_000,
                     lyapunov_steps=44, delay=2, order=2, ridge=2.5e-6, reps=5),
        "quick": dict(dt=0.025, warmup=200, train=400, test=100, forecast=200,
                      lyapunov_steps=44, delay=2, order=2, ridge=2.5e-6, reps=2),
    },
    "w4_coba": {
        # Vogels & Abbott 2005 as in BrainPy's COBA example: 80% E / 20% I, 2% connectivity,
        # exponential conductances (E: tau 5 ms, w 0.6, E_rev 0 mV; I: tau 10 ms, w 6.7,
        # E_rev -80 mV), LIF tau 20 ms, V_rest = V_reset = -60, V_th = -50, refractory 5 ms,
        # constant input 20, dt 0.1 ms. Weights scale with 80 / (N p) (the mean fan-in).
        "full": dict(N=4000, p=0.02, dt=0.1, duration=1000.0, reps=2),
        "large": dict(N=40_000, p=0.02, dt=0.1, duration=100.0, reps=1, max_rounds=1),
        "quick": dict(N=200, p=0.1, dt=0.1, duration=20.0, reps=1),
    },
    "w5_hh": {
        # 10,000 uncoupled Hodgkin-Huxley neurons, each with its own constant current,
        # 100 ms; the V of `n_probe` of them is recorded on a grid of `save_dt` ms, from
        # which spike times (upward crossings of 0 mV) are read.
        "full": dict(N=10_000, duration=100.0, dt=0.01, n_probe=50, save_dt=0.01,
                     I_min=5.0, I_max=15.0, rtol=1e-6, atol=1e-6, reps=1, max_rounds=2),
        "quick": dict(N=20, duration=10.0, dt=0.01, n_probe=5, save_dt=0.01,
                      I_min=5.0, I_max=15.0, rtol=1e-6, atol=1e-6, reps=1),
    },
}

COBA = dict(NE_frac=0.8, V_rest=-60.0, V_reset=-60.0, V_th=-50.0, tau=20.0, tau_ref=5.0,
            tau_e=5.0, tau_i=10.0, E_e=0.0, E_i=-80.0, w_e=0.6, w_i=6.7, I_ext=20.0,
            V0_mean=-55.0, V0_std=2.0)

HH = dict(C=1.0, g_Na=120.0, g_K=36.0, g_L=0.3, E_Na=50.0, E_K=-77.0, E_L=-54.387,
          V0=-65.0)


# ----------------------------------------------------------------------------------------
# Data


def _lorenz_rk23(n_total, dt):
    """Lorenz63 sampled every `dt`, integrated with scipy's RK23 at default tolerances
    (the NG-RC paper's protocol); the trajectory depends on the integrator."""
    from scipy.integrate import solve_ivp

    def f(t, s):
        x, y, z = s
        return [10.0 * (y - x), x * (28.0 - z) - y, x * y - 8.0 / 3.0 * z]

    t_eval = np.arange(n_total) * dt
    sol = solve_ivp(f, (0.0, t_eval[-1] + dt), [17.67715816276679, 12.931379185960404,
                                               43.91404334248268], t_eval=t_eval,
                    method="RK23")
    return sol.y.T.astype(np.float64)


def make_data(workload: str, size: str, seed: int = 0) -> dict:
    """The arrays every implementation of `workload` uses, as a dict of NumPy arrays."""
    s = SIZES[workload][size]
    rng = np.random.default_rng(seed)
    if workload == "w1_snn":
        x = (rng.random((s["T"], s["batch"], s["n_in"])) < s["rate"]).astype(np.float32)
        y = rng.integers(0, s["n_out"], s["batch"]).astype(np.int32)
        # Kaiming-normal with BrainPy's scale 20: std = sqrt(scale / fan_in).
        w1 = rng.standard_normal((s["n_in"], s["n_rec"])) * math.sqrt(s["w_scale"] / s["n_in"])
        w2 = rng.standard_normal((s["n_rec"], s["n_out"])) * math.sqrt(s["w_scale"] / s["n_rec"])
        return dict(x=x, y=y, w1=w1.astype(np.float32), w2=w2.astype(np.float32))
    if workload == "w2_lstm":
        sizes = s["sizes"]
        out = dict(x=rng.standard_normal((s["T"], s["batch"], sizes[0])).astype(np.float32),
                   y=rng.integers(0, s["n_out"], s["batch"]).astype(np.int32))
        # LSTM gates in the order (i, f, g, o); uniform(-1/sqrt(h), 1/sqrt(h)) as PyTorch.
        for layer, (n_in, n_h) in enumerate(zip(sizes[:-1], sizes[1:])):
            bound = 1.0 / math.sqrt(n_h)
            u = lambda *shape: rng.uniform(-bound, bound, shape).astype(np.float32)  # noqa
            out[f"w_ih{layer}"] = u(n_in, 4 * n_h)
            out[f"w_hh{layer}"] = u(n_h, 4 * n_h)
            out[f"b{layer}"] = u(4 * n_h)
        bound = 1.0 / math.sqrt(sizes[-1])
        out["w_out"] = rng.uniform(-bound, bound, (sizes[-1], s["n_out"])).astype(np.float32)
        out["b_out"] = rng.uniform(-bound, bound, (s["n_out"],)).astype(np.float32)
        return out
    if workload == "w3_ngrc":
        n = s["warmup"] + s["train"] + s["test"] + 1
        return dict(traj=_lorenz_rk23(n, s["dt"]))
    if workload == "w4_coba":
        N = s["N"]
        n_e = int(COBA["NE_frac"] * N)
        # Fixed-probability connectivity without self-connections, as (pre, post) pairs
        # sorted by pre.
        pre, post = [], []
        counts = rng.binomial(N - 1, s["p"], N)
        for i in range(N):
            targets = np.sort(rng.choice(N - 1, counts[i], replace=False))
            targets = targets + (targets >= i)
            pre.append(np.full(targets.size, i, np.int32))
            post.append(targets.astype(np.int32))
        V0 = rng.normal(COBA["V0_mean"], COBA["V0_std"], N).astype(np.float32)
        return dict(pre=np.concatenate(pre), post=np.concatenate(post), V0=V0,
                    n_e=np.int32(n_e))
    if workload == "w5_hh":
        N = s["N"]
        I_ext = np.linspace(s["I_min"], s["I_max"], N).astype(np.float32)
        probe = np.linspace(0, N - 1, s["n_probe"]).round().astype(np.int32)
        return dict(I_ext=I_ext, probe=probe)
    raise ValueError(f"unknown workload {workload!r}")


def coba_weights(N: int, p: float) -> tuple[float, float]:
    """Excitatory and inhibitory weights, scaled with the mean fan-in (80 at 4,000 neurons
    and 2%) so that each neuron gets the same total input at every size."""
    scale = 4000.0 * 0.02 / (N * p)
    return COBA["w_e"] * scale, COBA["w_i"] * scale


def hh_rates(V):
    """The HH gating rates (alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n), written
    with the array module of `V` (NumPy, jax.numpy or torch all work)."""
    xp = _xp(V)
    am = 0.1 * (V + 40.0) / (1.0 - xp.exp(-(V + 40.0) / 10.0))
    bm = 4.0 * xp.exp(-(V + 65.0) / 18.0)
    ah = 0.07 * xp.exp(-(V + 65.0) / 20.0)
    bh = 1.0 / (1.0 + xp.exp(-(V + 35.0) / 10.0))
    an = 0.01 * (V + 55.0) / (1.0 - xp.exp(-(V + 55.0) / 10.0))
    bn = 0.125 * xp.exp(-(V + 65.0) / 80.0)
    return am, bm, ah, bh, an, bn


def _xp(a):
    mod = type(a).__module__
    if mod.startswith("jax") or mod.startswith("jaxlib"):
        import jax.numpy as jnp

        return jnp
    return np


def hh_initial_gates(V0: float):
    am, bm, ah, bh, an, bn = hh_rates(np.float64(V0))
    return float(am / (am + bm)), float(ah / (ah + bh)), float(an / (an + bn))


def spike_times(V: np.ndarray, dt: float, threshold: float = 0.0) -> list[np.ndarray]:
    """Upward crossings of `threshold` by each column of `V` (time, neuron) sampled every
    `dt`, linearly interpolated."""
    V = np.asarray(V, np.float64)
    out = []
    for k in range(V.shape[1]):
        v = V[:, k]
        idx = np.nonzero((v[:-1] < threshold) & (v[1:] >= threshold))[0]
        frac = (threshold - v[idx]) / (v[idx + 1] - v[idx])
        out.append((idx + frac) * dt)
    return out


def spike_time_error(times: list, ref: list) -> dict:
    """Mean and max absolute difference of matched spike times (k-th with k-th) and the
    number of neurons whose spike counts differ."""
    diffs, mismatched = [], 0
    for a, b in zip(times, ref):
        a, b = np.asarray(a), np.asarray(b)
        if a.size != b.size:
            mismatched += 1
        n = min(a.size, b.size)
        diffs.append(np.abs(a[:n] - b[:n]))
    d = np.concatenate(diffs) if diffs else np.zeros(0)
    return dict(mean_abs_ms=float(d.mean()) if d.size else float("nan"),
                max_abs_ms=float(d.max()) if d.size else float("nan"),
                count_mismatch=int(mismatched), n_spikes_ref=int(sum(len(r) for r in ref)))


def ngrc_nrmse(pred: np.ndarray, truth: np.ndarray, var: np.ndarray) -> float:
    """Normalised RMS error: the squared error of each variable divided by that variable's
    variance `var` (over the training data), averaged over time and variables, square
    root."""
    pred, truth = np.asarray(pred, np.float64), np.asarray(truth, np.float64)
    return float(np.sqrt(np.mean((pred - truth) ** 2 / np.asarray(var)[None, :])))


def ngrc_score(traj: np.ndarray, forecast: np.ndarray, s: dict) -> dict:
    """W3's scores. The protocol (as in reservoirpy's NVAR example): the model is trained
    on u[t] -> u[t+1] - u[t] for t in [warmup, warmup + train), then fed u[t0], t0 =
    warmup + train, and run autonomously; `forecast[k]` predicts u[t0 + 1 + k]."""
    t0 = s["warmup"] + s["train"]
    var = np.var(traj[s["warmup"]:t0], axis=0)
    n = s["lyapunov_steps"]
    return dict(nrmse=ngrc_nrmse(forecast[:n], traj[t0 + 1:t0 + 1 + n], var))


# ----------------------------------------------------------------------------------------
# Running an implementation


def parse_args(description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--size", default="full", help="full | quick | large (W4)")
    p.add_argument("--data", default=None, help="the .npz written by the suite")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None,
                   help="intra-op threads (default: the cores this process may use)")
    args = p.parse_args()
    if args.threads is None:
        args.threads = len(os.sched_getaffinity(0))
    return args


def load_data(args, workload: str) -> dict:
    if args.data:
        with np.load(args.data) as f:
            return {k: f[k] for k in f.files}
    return make_data(workload, args.size, args.seed)


def configure_jax(threads: int, x64: bool = False) -> None:
    """Call before importing jax: one XLA:CPU thread pool of `threads` threads."""
    flags = os.environ.get("XLA_FLAGS", "")
    if threads == 1 and "xla_cpu_multi_thread_eigen" not in flags:
        flags += " --xla_cpu_multi_thread_eigen=false"
    os.environ["XLA_FLAGS"] = flags.strip()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    if x64:
        os.environ["JAX_ENABLE_X64"] = "1"


class Timings(list):
    """Wall-clock seconds of repeated calls; `.cpu` holds the process CPU seconds of the
    same calls (all threads), which a busy machine's preemption does not inflate.
    `emit` reports them as `<name>` and `<name>_cpu`."""

    def __init__(self):
        super().__init__()
        self.cpu = []

    def measure(self, fn, *args):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn(*args)
        self.append(time.perf_counter() - t0)
        self.cpu.append(time.process_time() - c0)
        return out


def timed(fn, *args, reps: int = 1):
    """Runs `fn(*args)` `reps` times; returns (last output, Timings). `fn` must block
    until its result is ready."""
    times, out = Timings(), None
    for _ in range(reps):
        out = times.measure(fn, *args)
    return out, times


def time_training(one, steps: int) -> dict:
    """Times a training step `one()` (which returns the loss as a Python float and blocks):
    the first call (compilation included), one more warm-up call (some libraries
    recompile on the second call), then `steps` timed calls."""
    t0 = time.perf_counter()
    loss0 = one()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    one()
    second = time.perf_counter() - t0
    times = Timings()
    loss = loss0
    for _ in range(steps):
        loss = times.measure(one)
    # Compilation (and any recompilation on the second call) = the warm-up calls' time
    # beyond what a step costs.
    return dict(compile_s=first + second - 2 * median(times), first_call_s=first, second_call_s=second,
                step_s=times, loss0=loss0, loss_last=loss)


def xla_temp_mb(jitted, *args) -> float:
    """XLA's own figure for the scratch memory of a jitted function (MiB)."""
    try:
        mem = jitted.lower(*args).compile().memory_analysis()
        return mem.temp_size_in_bytes / 2**20
    except Exception:  # noqa: BLE001 - not every backend/version reports it
        return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def versions(*modules: str) -> dict:
    out = {"python": platform.python_version(), "numpy": np.__version__}
    for name in modules:
        try:
            mod = __import__(name)
            out[name] = getattr(mod, "__version__", "?")
        except Exception as err:  # noqa: BLE001 - record, don't fail
            out[name] = f"unavailable: {type(err).__name__}"
    return out


def emit(workload: str, impl: str, metrics: dict, *, notes: str = "", mods=()) -> None:
    """Prints the result line the suite parses."""
    for key, value in list(metrics.items()):
        if isinstance(value, Timings):
            metrics[f"{key}_cpu"] = value.cpu
    record = dict(workload=workload, impl=impl, metrics=metrics, notes=notes,
                  versions=versions(*mods), pid=os.getpid(),
                  cores=sorted(os.sched_getaffinity(0)))
    print(RESULT_MARK + " " + json.dumps(record, default=_to_json), flush=True)


def _to_json(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def here(file: str) -> Path:
    """The `benchmarks/peers` folder, put on sys.path by each implementation."""
    return Path(file).resolve().parents[1]


def add_repo_to_path(file: str) -> None:
    """For the funcdyn implementations: the repository root, so that the funcdyn in this
    working tree is the one imported."""
    root = Path(file).resolve().parents[3]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
