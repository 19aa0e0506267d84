"""funcdyn.run versus a hand-written lax.scan of the same maths.

A chain of Dense + tanh layers, stepped over 1,000 time steps. Both versions are jitted,
warmed up, then timed alternately over several rounds; the medians and their ratio are
printed (goal: funcdyn / hand-written <= 1.05).

    python benchmarks/bench_run.py [--quick] [--rounds N]
"""

import argparse
import statistics
import time

import funcdyn as fd
from _results import result_line  # benchmarks/, the script's folder
import jax
import jax.numpy as jnp


def build(depth: int, width: int, key):
    keys = jax.random.split(key, depth)
    layers = []
    for k in keys:
        layers += [fd.layers.Dense(width, width, mode=fd.batching_mode, key=k), jnp.tanh]
    return fd.Sequential(*layers)


def make_funcdyn(model):
    @jax.jit
    def simulate(xs):
        _, ys, _ = fd.run(model, xs, dt=1.0)
        return ys

    return simulate


def make_handwritten(model):
    weights = [(layer.W, layer.b) for layer in model.layers if isinstance(layer, fd.layers.Dense)]

    @jax.jit
    def simulate(xs):
        def step(carry, x):
            for W, b in weights:
                x = jnp.tanh(x @ W + b[None, :])
            return carry, x

        _, ys = jax.lax.scan(step, None, xs)
        return ys

    return simulate


def time_call(fn, xs) -> float:
    start = time.perf_counter()
    jax.block_until_ready(fn(xs))
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args(argv)
    steps, depth, width, batch = (50, 2, 16, 4) if args.quick else (1000, 3, 128, 32)
    rounds = args.rounds or (3 if args.quick else 15)

    model = build(depth, width, jax.random.key(0))
    xs = jax.random.normal(jax.random.key(1), (steps, batch, width))
    impls = {"funcdyn": make_funcdyn(model), "hand-written": make_handwritten(model)}
    ref = impls["hand-written"](xs)
    out = impls["funcdyn"](xs)
    max_diff = float(jnp.max(jnp.abs(out - ref)))
    assert max_diff < 1e-5, f"funcdyn and hand-written results differ by {max_diff}"

    times = {name: [] for name in impls}
    for _ in range(rounds):
        for name, fn in impls.items():
            times[name].append(time_call(fn, xs))
    medians = {name: statistics.median(t) for name, t in times.items()}
    print(f"Dense+tanh chain: depth {depth}, width {width}, batch {batch}, {steps} steps, "
          f"{rounds} rounds, jax {jax.__version__} on {jax.devices()[0].platform}")
    for name, m in medians.items():
        print(f"  {name:>12}: median {m * 1e3:8.3f} ms")
    ratio = medians["funcdyn"] / medians["hand-written"]
    print(f"ratio funcdyn / hand-written: {ratio:.3f}")
    print(result_line("run.dense_chain", ratio, "<=", 1.05))
    return ratio


if __name__ == "__main__":
    main()

# The figures end as "RESULT <benchmark>.<figure> ratio=<x> goal<=<y>" lines (_results.py).
