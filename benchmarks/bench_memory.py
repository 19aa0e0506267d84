"""Peak memory and step time of BPTT over a long sequence, with and without gradient
checkpointing of the time loop (`funcdyn.run(..., checkpoint=...)`).

The model is a rate RNN (`h' = tanh(x W_in + h W_rec + b)`, `y = h W_out`) trained with an
MSE loss on every step. For each variant the value-and-gradient function is jitted and
compiled once; the memory is XLA's own account of the compiled program
(`compiled.memory_analysis()`: the temporary buffers, which hold what the backward pass
keeps from the forward pass), and the time is the median of several calls. A
hand-written `lax.scan` of the same maths is the reference without checkpointing.

    python benchmarks/bench_memory.py            # T = 2000
    python benchmarks/bench_memory.py --quick    # tiny sizes, for tests
    python benchmarks/bench_memory.py --rss      # also peak RSS, one subprocess per variant

(At these sizes the peak RSS of a process is set by JAX and XLA compilation, not by the
step's buffers, so the RSS column barely moves; the compiled temp size is the measure.)

Goal: at least 4x less memory for at most 1.5x the time.
"""

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time

import equinox as eqx
import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import funcdyn  # noqa: E402
from funcdyn import losses, train  # noqa: E402
from _results import result_line  # noqa: E402  (benchmarks/, the script's folder)


class RNN(funcdyn.DynamicalSystem):
    W_in: jax.Array
    W_rec: jax.Array
    b: jax.Array
    W_out: jax.Array
    num_hidden: int = eqx.field(static=True)

    def __init__(self, n_in, n_hidden, n_out, *, key, mode=None):
        k1, k2, k3 = jax.random.split(key, 3)
        self.W_in = jax.random.normal(k1, (n_in, n_hidden)) / math.sqrt(n_in)
        self.W_rec = jax.random.normal(k2, (n_hidden, n_hidden)) * 0.9 / math.sqrt(n_hidden)
        self.b = jnp.zeros((n_hidden,))
        self.W_out = jax.random.normal(k3, (n_hidden, n_out)) / math.sqrt(n_hidden)
        self.num_hidden = n_hidden
        self.mode = funcdyn.training_mode if mode is None else mode

    def init_state(self, batch_size=None, *, key=None):
        self.check_batch_size(batch_size)
        return jnp.zeros((batch_size, self.num_hidden))

    def __call__(self, h, x, ctx):
        h = jnp.tanh(x @ self.W_in + h @ self.W_rec + jnp.broadcast_to(self.b, h.shape))
        return h, h @ self.W_out


def make_problem(T, batch, n_in, hidden, n_out):
    key = jax.random.key(0)
    model = RNN(n_in, hidden, n_out, key=key)
    x = jax.random.normal(jax.random.key(1), (batch, T, n_in))
    y = jax.random.normal(jax.random.key(2), (batch, T, n_out))
    return model, (x, y)


def funcdyn_grad(model, checkpoint):
    """The jitted value-and-gradient of a funcdyn sequence loss w.r.t. the trainable
    arrays, and its parameters."""
    loss = train.sequence_loss(losses.mean_squared_error, dt=1.0, checkpoint=checkpoint)
    params, rest = train.partition_trainable(model)

    def value_and_grad(params, batch):
        return jax.value_and_grad(lambda p: loss(eqx.combine(p, rest), batch, None)[0])(params)

    return jax.jit(value_and_grad), params


def hand_grad():
    def value_and_grad(params, batch):
        x, y = batch
        xs = jnp.swapaxes(x, 0, 1)

        def loss(p):
            W_in, W_rec, b, W_out = p

            def body(h, x_t):
                h = jnp.tanh(x_t @ W_in + h @ W_rec + b)
                return h, h @ W_out

            h0 = jnp.zeros((x.shape[0], W_rec.shape[0]))
            _, ys = jax.lax.scan(body, h0, xs)
            return jnp.mean((jnp.swapaxes(ys, 0, 1) - y) ** 2)

        return jax.value_and_grad(loss)(params)

    return jax.jit(value_and_grad)


def variants(T):
    k = max(1, round(math.sqrt(T)))
    return {"none": None, "every step": True, f"window {k}": k, f"window {4 * k}": 4 * k}


def compile_variant(name, fn, args):
    t0 = time.perf_counter()
    compiled = fn.lower(*args).compile()
    compile_s = time.perf_counter() - t0
    temp = getattr(compiled.memory_analysis(), "temp_size_in_bytes", float("nan"))
    jax.block_until_ready(compiled(*args))  # warm-up
    return {"name": name, "fn": compiled, "args": args, "temp_MB": temp / 2**20,
            "compile_s": compile_s, "times": []}


def time_rounds(rows, reps):
    """Alternates the variants over `reps` rounds, so that load changes hit all alike."""
    for _ in range(reps):
        for row in rows:
            t0 = time.perf_counter()
            jax.block_until_ready(row["fn"](*row["args"]))
            row["times"].append(time.perf_counter() - t0)
    for row in rows:
        row["step_ms"] = 1e3 * statistics.median(row["times"])


def child(args):
    """One variant in a fresh process: prints its peak RSS."""
    model, batch = make_problem(args.T, args.batch, args.n_in, args.hidden, args.n_out)
    if args.child == "hand":
        params = (model.W_in, model.W_rec, model.b, model.W_out)
        fn, fn_args = hand_grad(), (params, batch)
    else:
        fn, params = funcdyn_grad(model, dict(variants(args.T))[args.child])
        fn_args = (params, batch)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    jax.block_until_ready(fn(*fn_args))
    jax.block_until_ready(fn(*fn_args))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rss_MB": peak / 1024, "rss_growth_MB": (peak - base) / 1024}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (for tests)")
    parser.add_argument("--T", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--n-in", type=int, default=32)
    parser.add_argument("--n-out", type=int, default=8)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--rss", action="store_true", help="peak RSS per variant (subprocesses)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.T, args.batch, args.hidden, args.n_in, args.n_out, args.reps = 64, 4, 16, 4, 2, 2
    if args.child is not None:
        return child(args)

    model, batch = make_problem(args.T, args.batch, args.n_in, args.hidden, args.n_out)
    print(f"BPTT memory, T={args.T}, batch={args.batch}, hidden={args.hidden}, "
          f"backend={jax.default_backend()}, devices={jax.device_count()}")
    params = (model.W_in, model.W_rec, model.b, model.W_out)
    rows = [compile_variant("hand-written scan (reference)", hand_grad(), (params, batch))]
    for name, ckpt in variants(args.T).items():
        fn, fd_params = funcdyn_grad(model, ckpt)
        rows.append(compile_variant(f"funcdyn checkpoint={name}", fn, (fd_params, batch)))
    time_rounds(rows, args.reps)
    if args.rss:
        for row, name in zip(rows, ["hand"] + list(variants(args.T))):
            cmd = [sys.executable, __file__, "--child", name] + [
                f"--T={args.T}", f"--batch={args.batch}", f"--hidden={args.hidden}",
                f"--n-in={args.n_in}", f"--n-out={args.n_out}"]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            row.update(json.loads(out.stdout.strip().splitlines()[-1]))
    base = rows[1]
    print(f"{'variant':42s} {'temp MB':>9s} {'mem ratio':>9s} {'step ms':>9s} {'time ratio':>10s}"
          f" {'compile s':>9s}" + (f" {'RSS MB':>8s}" if args.rss else ""))
    for row in rows:
        line = (f"{row['name']:42s} {row['temp_MB']:9.1f} {base['temp_MB'] / row['temp_MB']:9.2f}"
                f" {row['step_ms']:9.1f} {row['step_ms'] / base['step_ms']:10.2f}"
                f" {row['compile_s']:9.2f}")
        if args.rss:
            line += f" {row['rss_MB']:8.0f}"
        print(line)
    def gain(row):
        fast_enough = row["step_ms"] <= 1.5 * base["step_ms"]
        return base["temp_MB"] / row["temp_MB"] if fast_enough else 0.0

    best = max(rows[2:], key=gain)
    print(f"best within 1.5x time: {best['name']}: {base['temp_MB'] / best['temp_MB']:.1f}x less "
          f"memory for {best['step_ms'] / base['step_ms']:.2f}x the time "
          "(goal: >= 4x for <= 1.5x)")
    print(result_line("memory.checkpoint_saving", base["temp_MB"] / best["temp_MB"], ">=", 4.0))
    print(result_line("memory.checkpoint_time", best["step_ms"] / base["step_ms"], "<=", 1.5))


if __name__ == "__main__":
    main()

# The figures end as "RESULT <benchmark>.<figure> ratio=<x> goal<=<y>" lines (_results.py).
