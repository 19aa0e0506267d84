"""Training the seed's spiking network with funcdyn.train vs a hand-written pure-JAX scan.

The network (Neftci, Mostafa & Zenke 2019): 100 Poisson inputs (rate 0.05 per step), T = 100
steps of dt = 1 ms, batch 128 -> exponential synapse (tau 10 ms, CUBA) -> 200 LIF
(tau 10 ms, V_rest = V_reset = 0, V_th = 1) -> exponential synapse (tau 10 ms) -> leaky
integrator readout of 2 (tau 5 ms). Loss: cross-entropy of the readout's maximum over time;
Adam(1e-3) on the two weight matrices. One step of the hand-written version:

    g1 = a_syn g1 + x_t W1;  V = a_mem V + (1 - a_mem) g1;  s = H(V - V_th);  V = V (1 - s)
    g2 = a_syn g2 + s W2;    Vo = a_out Vo + (1 - a_out) g2

with the surrogate derivative 1 / (alpha |V - V_th| + 1)^2, alpha = 25.

Everything runs in one process on the same arrays: each variant is jitted, compiled (the
compile time is the first call minus a median step), warmed up, then the variants are
alternated over several rounds and the median step times compared. The hand-written
version is timed with two spike forwards, `jnp.where(v >= 0, 1., 0.)` and
`(v >= 0).astype(float32)`; funcdyn's surrogate uses the `where` form.

    python benchmarks/bench_train_snn.py             # one XLA:CPU thread (the issue's setup)
    python benchmarks/bench_train_snn.py --quick     # tiny sizes, for tests
    python benchmarks/bench_train_snn.py --hlo DIR   # also dump both optimised HLOs

Goals: step-time ratio funcdyn / hand <= 1.05, compile-time ratio <= 1.5.
"""

import argparse
import math
import os
import statistics
import sys
import time


def parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (for tests)")
    parser.add_argument("--threads", type=int, default=1, help="XLA:CPU threads (default 1)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=5, help="steps per variant per round")
    parser.add_argument("--hlo", default=None, help="write the optimised HLO texts here")
    return parser.parse_args()


ARGS = parse()
if ARGS.threads == 1 and "xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "")
        + " --xla_cpu_multi_thread_eigen=false"
    ).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import funcdyn  # noqa: E402
from funcdyn import losses, train  # noqa: E402
from _results import result_line  # noqa: E402  (benchmarks/, the script's folder)

ALPHA = 25.0
FULL = dict(n_in=100, n_rec=200, n_out=2, T=100, batch=128, rate=0.05, dt=1.0, tau_syn=10.0,
            tau_mem=10.0, tau_out=5.0, V_th=1.0, lr=1e-3, w_scale=20.0)
QUICK = dict(FULL, n_in=10, n_rec=16, T=8, batch=4, rate=0.2)


def make_data(s):
    rng = np.random.default_rng(0)
    x = (rng.random((s["T"], s["batch"], s["n_in"])) < s["rate"]).astype(np.float32)
    y = rng.integers(0, s["n_out"], s["batch"]).astype(np.int32)
    w1 = rng.standard_normal((s["n_in"], s["n_rec"])) * math.sqrt(s["w_scale"] / s["n_in"])
    w2 = rng.standard_normal((s["n_rec"], s["n_out"])) * math.sqrt(s["w_scale"] / s["n_rec"])
    return x, y, w1.astype(np.float32), w2.astype(np.float32)


# -- the hand-written version -----------------------------------------------------------


def make_spike(forward):
    @jax.custom_jvp
    def spike(v):
        if forward == "where":
            return jnp.where(v >= 0.0, 1.0, 0.0).astype(v.dtype)
        return (v >= 0.0).astype(v.dtype)

    @spike.defjvp
    def _jvp(primals, tangents):
        (v,), (dv,) = primals, tangents
        return spike(v), dv / (ALPHA * jnp.abs(v) + 1.0) ** 2

    return spike


def hand_step(s, forward):
    spike = make_spike(forward)
    a_syn = math.exp(-s["dt"] / s["tau_syn"])
    a_mem = math.exp(-s["dt"] / s["tau_mem"])
    a_out = math.exp(-s["dt"] / s["tau_out"])
    v_th = s["V_th"]
    opt = optax.adam(s["lr"])

    def loss_fn(params, x, y):
        w1, w2 = params
        b = x.shape[1]

        def body(carry, x_t):
            g1, v, g2, vo = carry
            g1 = a_syn * g1 + x_t @ w1
            v = a_mem * v + (1.0 - a_mem) * g1
            sp = spike(v - v_th)
            v = v * (1.0 - sp)
            g2 = a_syn * g2 + sp @ w2
            vo = a_out * vo + (1.0 - a_out) * g2
            return (g1, v, g2, vo), vo

        n_rec, n_out = w1.shape[1], w2.shape[1]
        init = (jnp.zeros((b, n_rec)), jnp.zeros((b, n_rec)), jnp.zeros((b, n_out)),
                jnp.zeros((b, n_out)))
        _, vos = jax.lax.scan(body, init, x)
        return optax.softmax_cross_entropy_with_integer_labels(jnp.max(vos, axis=0), y).mean()

    @jax.jit
    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return opt, step


# -- the funcdyn version ----------------------------------------------------------------


def funcdyn_model(s, w1, w2):
    from funcdyn.neurons import InputGroup, LeakyIntegrator, LIF
    from funcdyn.surrogate import InverseSquare
    from funcdyn.synapses import Exponential

    train_mode, fixed = funcdyn.training_mode, funcdyn.batching_mode
    return funcdyn.Sequential(
        InputGroup(s["n_in"], mode=fixed),
        Exponential(s["n_in"], s["n_rec"], g_max=w1, tau=s["tau_syn"], mode=train_mode),
        LIF(s["n_rec"], tau=s["tau_mem"], V_rest=0.0, V_reset=0.0, V_th=s["V_th"],
            spike_fn=InverseSquare(alpha=ALPHA), mode=fixed),
        Exponential(s["n_rec"], s["n_out"], g_max=w2, tau=s["tau_syn"], mode=train_mode),
        LeakyIntegrator(s["n_out"], tau=s["tau_out"], mode=fixed),
        mode=train_mode,
    )


def weights_only(model):
    """The filter spec of the two weight matrices: the hand-written version trains only
    those (by default funcdyn would also train the synapses' `tau`)."""
    spec = jax.tree_util.tree_map(lambda _: False, model)
    return eqx.tree_at(lambda m: (m.layers[1].g_max, m.layers[3].g_max), spec, (True, True))


def funcdyn_variants(s, model):
    opt = optax.adam(s["lr"])
    tm = train.sequence_loss(
        lambda ys, y: losses.cross_entropy_max_over_time(ys, y, time_axis=0),
        dt=s["dt"], time_major=True,
    )
    bm = train.sequence_loss(losses.cross_entropy_max_over_time, dt=s["dt"])
    spec = weights_only(model)
    return {
        "funcdyn make_step (time-major data)":
            (train.make_step(tm, opt, has_aux=True, filter_spec=spec), True),
        "funcdyn make_step (batch-major data, BPTT layout)":
            (train.make_step(bm, opt, has_aux=True, filter_spec=spec), False),
        "funcdyn make_step, on_nonfinite='ignore' (no check)":
            (train.make_step(tm, opt, has_aux=True, filter_spec=spec, on_nonfinite="ignore"),
             True),
        "funcdyn, synapse tau trained too (default filter)":
            (train.make_step(tm, opt, has_aux=True), True),
    }


def main():
    s = QUICK if ARGS.quick else FULL
    if ARGS.quick:
        ARGS.rounds, ARGS.steps = 2, 2
    x, y, w1, w2 = make_data(s)
    x, y, w1, w2 = map(jnp.asarray, (x, y, w1, w2))
    xb = jnp.swapaxes(x, 0, 1)
    print(f"SNN BPTT: T={s['T']}, batch={s['batch']}, {s['n_in']}-{s['n_rec']}-{s['n_out']}, "
          f"backend={jax.default_backend()}, XLA threads={ARGS.threads}")

    runners = {}
    for forward in ("where", "astype"):
        opt, step = hand_step(s, forward)
        state = [(w1, w2), opt.init((w1, w2))]

        def run(state=state, step=step):
            p, o, loss = step(state[0], state[1], x, y)
            state[:] = [p, o]
            return loss

        runners[f"hand-written scan, spike {forward}"] = run
    model = funcdyn_model(s, w1, w2)
    for name, ((init, step), time_major) in funcdyn_variants(s, model).items():
        state = [model, init(model)]
        batch = (x, y) if time_major else (xb, y)

        def run(state=state, step=step, batch=batch):
            m, o, loss, _ = step(state[0], state[1], batch, None)
            state[:] = [m, o]
            return loss

        runners[name] = run

    # Forward equivalence at step 0 (before any update).
    losses0, first = {}, {}
    for name, run in runners.items():
        t0 = time.perf_counter()
        losses0[name] = float(jax.block_until_ready(run()))
        first[name] = time.perf_counter() - t0
        jax.block_until_ready(run())  # second call: some paths recompile once
    times = {name: [] for name in runners}
    for _ in range(ARGS.rounds):
        for name, run in runners.items():
            for _ in range(ARGS.steps):
                t0 = time.perf_counter()
                jax.block_until_ready(run())
                times[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(t) for name, t in times.items()}
    best = {name: min(t) for name, t in times.items()}
    compile_s = {name: max(first[name] - med[name], 0.0) for name in runners}
    ref = "hand-written scan, spike where"
    print(f"{'variant':52s} {'loss0':>8s} {'median ms':>9s} {'ratio':>6s} {'min ms':>7s} "
          f"{'ratio':>6s} {'compile s':>9s} {'ratio':>6s}")
    for name in runners:
        print(f"{name:52s} {losses0[name]:8.5f} {1e3 * med[name]:9.2f} "
              f"{med[name] / med[ref]:6.3f} {1e3 * best[name]:7.2f} "
              f"{best[name] / best[ref]:6.3f} {compile_s[name]:9.2f} "
              f"{compile_s[name] / max(compile_s[ref], 1e-9):6.2f}")
    fd = "funcdyn make_step (time-major data)"
    print(f"funcdyn / hand (where): median step {med[fd] / med[ref]:.3f}, min step "
          f"{best[fd] / best[ref]:.3f} (goal <= 1.05), compile "
          f"{compile_s[fd] / max(compile_s[ref], 1e-9):.2f} (goal <= 1.5)")
    bmj = "funcdyn make_step (batch-major data, BPTT layout)"
    ign = "funcdyn make_step, on_nonfinite='ignore' (no check)"
    print(f"non-finite check (raise / ignore): median step {med[fd] / med[ign]:.3f} "
          f"(goal <= 1.03); batch-major / time-major: {med[bmj] / med[fd]:.3f}")
    print(result_line("train_snn.step", med[fd] / med[ref], "<=", 1.05))
    print(result_line("train_snn.compile", compile_s[fd] / max(compile_s[ref], 1e-9), "<=", 1.5))
    print(result_line("train_snn.nonfinite_check", med[fd] / med[ign], "<=", 1.03))
    print(result_line("train_snn.batch_major_layout", med[bmj] / med[fd], "<=", 1.05))
    if ARGS.hlo:
        dump_hlo(ARGS.hlo, s, x, y, w1, w2, model)


def dump_hlo(folder, s, x, y, w1, w2, model):
    """The optimised HLO of both train steps, for a line-by-line comparison."""
    os.makedirs(folder, exist_ok=True)
    opt, step = hand_step(s, "where")
    text = step.lower((w1, w2), opt.init((w1, w2)), x, y).compile().as_text()
    with open(os.path.join(folder, "hand.hlo"), "w") as f:
        f.write(text)
    from funcdyn.train._step import _update, partition_trainable

    tm = train.sequence_loss(
        lambda ys, y: losses.cross_entropy_max_over_time(ys, y, time_axis=0), dt=s["dt"],
        time_major=True)
    spec = weights_only(model)
    params, rest = partition_trainable(model, spec)
    def update(params, opt_state, x, y):
        return _update((tm, opt, True, rest, (x, y), None), params, opt_state)

    text = jax.jit(update).lower(params, opt.init(params), x, y).compile().as_text()
    with open(os.path.join(folder, "funcdyn.hlo"), "w") as f:
        f.write(text)
    print(f"HLO written to {folder}/hand.hlo and {folder}/funcdyn.hlo")


if __name__ == "__main__":
    main()

# The figures end as "RESULT <benchmark>.<figure> ratio=<x> goal<=<y>" lines (_results.py).
