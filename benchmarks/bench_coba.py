"""The COBA E/I network (Vogels & Abbott 2005): funcdyn versus hand-written pure JAX.

One second of biological time (10,000 steps of 0.1 ms) of the network of
`examples/coba_ei.py`, simulated by

- `funcdyn`: the example's network (`LIF` + two event-driven `Exponential` synapses
  with `COBA` outputs) under `funcdyn.run`;
- `event loop`: hand-written; each step finds the neurons that spiked with
  `jnp.nonzero`, and a `lax.fori_loop` with that dynamic trip count scatters their
  out-edges (rows of a padded fixed-fan-out table);
- `event loop (top_k)`: the same loop, finding the spiking neurons with `lax.top_k`
  (the compaction funcdyn uses) instead of `jnp.nonzero`;
- `dense`: hand-written; a dense masked weight matrix product per step in `lax.scan`.

All use the same connectivity, initial potentials and update order, so their firing
rates agree (exactly, until floating-point differences are amplified by the chaotic
dynamics). Each is jitted and warmed up; the versions alternate over several rounds,
and the medians and ratios are printed. The dense version costs O(N^2) per step: it
runs fewer steps (`--dense-steps`, default 500) and its time is scaled to the full
run (it is left out above 10,000 neurons).

    python benchmarks/bench_coba.py [--quick] [--neurons N] [--steps T] [--rounds R]
                                    [--dense-steps T] [--no-dense]
"""

import argparse
import pathlib
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

import funcdyn as fd
from _results import result_line  # benchmarks/, the script's folder

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "examples"))
from coba_ei import COBA, PARAMS  # noqa: E402

DT = 0.1


def make_funcdyn(net, state0, steps):
    drive = jnp.full((steps,), PARAMS["I_ext"])

    def counting(state, x, ctx):
        state, spikes = net(state, x, ctx)
        return state, jnp.sum(spikes, dtype=jnp.int32)

    @jax.jit
    def simulate(state):
        _, counts, _ = fd.run(counting, drive, dt=DT, state=state)
        return counts

    return lambda: simulate(state0)


def lif_step(V, ref, I):
    """The funcdyn LIF step (exponential Euler, refractory hold, zero reset)."""
    p = PARAMS
    V_inf = p["V_rest"] + I
    V_new = V + (V_inf - V) * (-np.expm1(-DT / p["tau"]))
    hold = ref > 0.5 * DT
    V_new = jnp.where(hold, V, V_new)
    spike = (V_new >= p["V_th"]) & ~hold
    V_new = jnp.where(spike, p["V_reset"], V_new)
    ref = jnp.where(spike, p["tau_ref"], ref - DT)
    return V_new, ref, spike


def make_handwritten(deliver, V0, w_e, w_i, num_exc, steps):
    """A `lax.scan` over the COBA step; `deliver(spikes_e, spikes_i)` returns the summed
    unit weights onto each neuron from the excitatory and inhibitory spikes."""
    p = PARAMS
    decay_e = float(np.exp(-DT / p["tau_e"]))
    decay_i = float(np.exp(-DT / p["tau_i"]))

    def step(carry, _):
        V, ge, gi, spike, ref = carry
        in_e, in_i = deliver(spike[:num_exc], spike[num_exc:])
        ge = ge * decay_e + w_e * in_e
        gi = gi * decay_i + w_i * in_i
        I = ge * (p["E_e"] - V) + gi * (p["E_i"] - V) + p["I_ext"]
        V, ref, spike = lif_step(V, ref, I)
        return (V, ge, gi, spike, ref), jnp.sum(spike, dtype=jnp.int32)

    @jax.jit
    def simulate(V0):
        zeros = jnp.zeros_like(V0)
        carry = (V0, zeros, zeros, jnp.zeros(V0.shape, bool), zeros)
        return lax.scan(step, carry, None, length=steps)[1]

    return lambda: simulate(V0)


def padded_table(indptr, indices, num_post):
    """Out-edges as a `(num_pre, max_fanout)` table padded with `num_post`."""
    counts = np.diff(indptr)
    width = max(int(counts.max()), 1)
    table = np.full((counts.size, width), num_post, np.int32)
    rows = np.repeat(np.arange(counts.size), counts)
    cols = np.arange(indices.size) - np.repeat(indptr[:-1], counts)
    table[rows, cols] = indices
    return jnp.asarray(table)


def event_deliver(table_e, table_i, num, compaction):
    def scatter(spikes, table):
        total = jnp.sum(spikes, dtype=jnp.int32)
        size = spikes.shape[0]

        def loop(idx):
            def body(k, g):
                return g.at[table[idx[k]]].add(1.0, mode="drop")

            return lax.fori_loop(0, total, body, jnp.zeros((num,), jnp.float32))

        def with_nonzero():
            return loop(jnp.nonzero(spikes, size=size, fill_value=0)[0])

        if compaction == "nonzero":
            return with_nonzero()
        small = min(64, size)
        # top_k of the 0/1 spikes puts the spiking neurons first; a step with more
        # spikes than `small` (rare after the first milliseconds) uses jnp.nonzero.
        with_top_k = lambda: loop(lax.top_k(spikes.astype(jnp.float32), small)[1])  # noqa: E731
        return lax.cond(total <= small, with_top_k, with_nonzero)

    return lambda s_e, s_i: (scatter(s_e, table_e), scatter(s_i, table_i))


def dense_deliver(mask_e, mask_i):
    return lambda s_e, s_i: (s_e.astype(jnp.float32) @ mask_e, s_i.astype(jnp.float32) @ mask_i)


def time_call(fn) -> float:
    start = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--neurons", type=int, default=None, help="default 4000")
    parser.add_argument("--steps", type=int, default=None, help="default 10000 (1 s)")
    parser.add_argument("--dense-steps", type=int, default=None,
                        help="steps of the dense version (default min(steps, 500))")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--no-dense", action="store_true", help="skip the dense version")
    args = parser.parse_args(argv)
    num = args.neurons or (400 if args.quick else 4000)
    steps = args.steps or (200 if args.quick else 10_000)
    dense_steps = min(steps, args.dense_steps or 500)
    rounds = args.rounds or (2 if args.quick else 5)

    start = time.perf_counter()
    net = COBA(num, key=jax.random.key(0), seed=0)
    state0 = net.init_state(key=jax.random.key(1))
    build_time = time.perf_counter() - start
    num_exc = net.num_exc
    w_e = float(net.exc.g_max)
    w_i = float(net.inh.g_max)
    V0 = state0["neurons"].V
    csr = {name: (np.asarray(s.conn.indptr), np.asarray(s.conn.indices))
           for name, s in (("e", net.exc), ("i", net.inh))}
    n_syn = sum(ind.size for _, ind in csr.values())

    impls = {"funcdyn": make_funcdyn(net, state0, steps)}
    tables = [padded_table(*csr[k], num) for k in ("e", "i")]
    impls["event loop"] = make_handwritten(
        event_deliver(*tables, num, "nonzero"), V0, w_e, w_i, num_exc, steps)
    impls["event loop (top_k)"] = make_handwritten(
        event_deliver(*tables, num, "top_k"), V0, w_e, w_i, num_exc, steps)
    if num <= 10_000 and not args.no_dense:
        masks = []
        for k, n_pre in (("e", num_exc), ("i", num - num_exc)):
            indptr, indices = csr[k]
            mask = np.zeros((n_pre, num), np.float32)
            np.add.at(mask, (np.repeat(np.arange(n_pre), np.diff(indptr)), indices), 1.0)
            masks.append(jnp.asarray(mask))
        impls["dense"] = make_handwritten(
            dense_deliver(*masks), V0, w_e, w_i, num_exc, dense_steps)
    scale = {name: (steps / dense_steps if name == "dense" else 1.0) for name in impls}
    run_steps = {name: (dense_steps if name == "dense" else steps) for name in impls}

    rates = {}
    for name, fn in impls.items():
        counts = np.asarray(fn())  # compiles and warms up
        rates[name] = counts.sum() / num / (run_steps[name] * DT / 1000.0)
        if name != "dense":
            first = counts[: min(steps, 200)]
            rates[name + ":first"] = first

    times = {name: [] for name in impls}
    for _ in range(rounds):
        for name, fn in impls.items():
            times[name].append(time_call(fn) * scale[name])
    medians = {name: statistics.median(t) for name, t in times.items()}

    print(f"COBA: {num} neurons, {n_syn} synapses, {steps} steps of {DT} ms "
          f"({steps * DT:g} ms), {rounds} rounds, jax {jax.__version__} on "
          f"{jax.devices()[0].platform}; network built in {build_time:.2f} s")
    for name, m in medians.items():
        note = f" (ran {dense_steps} steps, scaled x{scale[name]:g})" if name == "dense" else ""
        print(f"  {name:>20}: median {m:8.3f} s   rate {rates[name]:6.2f} Hz{note}")
    same_start = all(np.array_equal(rates["funcdyn:first"], rates[k + ":first"])
                     for k in ("event loop", "event loop (top_k)"))
    print(f"  first {min(steps, 200)} steps' spike counts identical across versions: {same_start}")
    ratio = medians["funcdyn"] / medians["event loop"]
    print(f"ratio funcdyn / event loop: {ratio:.3f}")
    top_k_ratio = medians["funcdyn"] / medians["event loop (top_k)"]
    print(f"ratio funcdyn / event loop (top_k): {top_k_ratio:.3f}")
    if "dense" in medians:
        print(f"ratio funcdyn / dense: {medians['funcdyn'] / medians['dense']:.4f}")
    print(result_line("coba.event_loop", ratio, "<=", 1.05))
    print(result_line("coba.event_loop_top_k", top_k_ratio, "<=", 1.05))
    return ratio


if __name__ == "__main__":
    main()

# The figures end as "RESULT <benchmark>.<figure> ratio=<x> goal<=<y>" lines (_results.py).
