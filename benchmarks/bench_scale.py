"""Neuron-sharded simulation: time and memory per device of the COBA E/I network from
4,000 to 1,000,000 neurons (80 synapses per neuron), as devices are added.

The network is that of `examples/coba_ei.py` (LIF neurons, 80% excitatory, exponential
COBA synapses, tau_ref 5 ms, dt 0.1 ms) with a fixed mean in-degree of 80 (connection
probability 80 / N), so every size has the same dynamics (about 20 Hz). For each size
it times `funcdyn.run` of

- `1 device`: the plain network, on one device (no sharding);
- `D devices`: `funcdyn.parallel.NeuronSharded` over meshes of D = 2, 4, 8 devices
  (neurons, their state and the synapses onto them split; one all-gather of the
  spikes per step; event-driven product per device),

alternated over rounds (medians), and reports the time per step, the bytes each device
holds (network and state) plus the compiled program's temporary memory, and the ratio
of the D-device time to the 1-device time. At 4,000 neurons it checks that the spike
trains are identical.

On CPU the script forces 8 host devices (`--xla_force_host_platform_device_count=8`):
they share the same cores, so the ratio measures the overhead of the split (the
collective, the per-device compaction over the whole spike vector), not a speedup. On a
machine with several accelerators the same script uses the real devices unchanged.

    python benchmarks/bench_scale.py [--quick] [--sizes 4000 40000 ...] [--devices 1 2 4 8]
"""

import os
import sys

# The funcdyn of this checkout, not another installed copy.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    # Must precede the first JAX import; only the CPU platform reads it.
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_force_host_platform_device_count=8").strip()

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import jax.tree_util as jtu  # noqa: E402
import numpy as np  # noqa: E402
from jaxtyping import Array  # noqa: E402

import funcdyn as fd  # noqa: E402
from _results import result_line  # noqa: E402  (benchmarks/, the script's folder)

P = dict(exc_fraction=0.8, fan_in=80, V_rest=-60.0, V_reset=-60.0, V_th=-50.0, tau=20.0,
         tau_ref=5.0, tau_e=5.0, tau_i=10.0, E_e=0.0, E_i=-80.0, w_e=0.6, w_i=6.7,
         I_ext=20.0, V0_mean=-55.0, V0_std=2.0)
DT = 0.1


class COBA(fd.DynamicalSystem):
    """The COBA E/I network with a fixed mean in-degree (80), for any size."""

    neurons: fd.neurons.LIF
    exc: fd.synapses.Exponential
    inh: fd.synapses.Exponential
    num_exc: int = eqx.field(static=True)

    def __init__(self, num: int, *, seed: int = 0):
        self.num_exc = int(P["exc_fraction"] * num)
        prob = P["fan_in"] / num
        self.neurons = fd.neurons.LIF(
            num, tau=P["tau"], V_rest=P["V_rest"], V_reset=P["V_reset"], V_th=P["V_th"],
            tau_ref=P["tau_ref"], V_initializer=fd.init.Normal(P["V0_mean"], P["V0_std"]))
        self.exc = fd.synapses.Exponential(
            self.num_exc, num, conn=fd.conn.FixedProb(prob, seed=seed), g_max=P["w_e"],
            tau=P["tau_e"], output=fd.synouts.COBA(E=P["E_e"]))
        self.inh = fd.synapses.Exponential(
            num - self.num_exc, num, conn=fd.conn.FixedProb(prob, seed=seed + 1),
            g_max=P["w_i"], tau=P["tau_i"], output=fd.synouts.COBA(E=P["E_i"]))

    def __call__(self, state: dict, x: Array, ctx: fd.Context):
        V, spikes = state["neurons"].V, state["neurons"].spike
        exc, I_e = self.exc(state["exc"], (spikes[: self.num_exc], V), ctx)
        inh, I_i = self.inh(state["inh"], (spikes[self.num_exc:], V), ctx)
        neurons, out = self.neurons(state["neurons"], I_e + I_i + x, ctx)
        return {"neurons": neurons, "exc": exc, "inh": inh}, out


def make_run(steps: int):
    drive = jnp.full((steps,), P["I_ext"])

    def counting(net):
        def step(state, x, ctx):
            state, spikes = net(state, x, ctx)
            return state, jnp.sum(spikes, dtype=jnp.int32)
        return step

    @jax.jit
    def simulate(net, state):
        final, counts, _ = fd.run(counting(net), drive, dt=DT, state=state)
        return final, counts

    return simulate


def spikes_run(net, state, steps):
    drive = jnp.full((steps,), P["I_ext"])
    return np.asarray(jax.jit(lambda n, s: fd.run(n, drive, dt=DT, state=s)[1])(net, state))


def bytes_on_first_device(tree) -> int:
    """The bytes of the arrays of `tree` held by the first device that holds any."""
    total = 0
    for leaf in jtu.tree_leaves(tree):
        if isinstance(leaf, jax.Array):
            shards = leaf.addressable_shards
            total += shards[0].data.nbytes if shards else 0
    return total


def time_call(fn, *args) -> float:
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few steps")
    parser.add_argument("--sizes", type=int, nargs="*", default=None,
                        help="default 4000 40000 400000 1000000")
    parser.add_argument("--devices", type=int, nargs="*", default=None,
                        help="mesh sizes; default 1 2 4 8 (those available)")
    parser.add_argument("--steps", type=int, default=None,
                        help="steps per run (default 1000 up to 40,000 neurons, fewer above)")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args(argv)
    sizes = args.sizes or ([4000] if args.quick else [4000, 40_000, 400_000, 1_000_000])
    avail = jax.device_count()
    devices = [d for d in (args.devices or ([1, 8] if args.quick else [1, 2, 4, 8])) if d <= avail]
    rounds = args.rounds or (2 if args.quick else 5)
    platform = jax.devices()[0].platform
    print(f"bench_scale: jax {jax.__version__}, {avail} {platform} devices"
          + (" (forced host devices sharing the same cores: overheads, not speedup)"
             if platform == "cpu" else ""))
    results = []
    for num in sizes:
        steps = args.steps or (100 if args.quick else 1000 if num <= 40_000 else
                               200 if num <= 400_000 else 100)
        t0 = time.perf_counter()
        net = COBA(num)
        state = net.init_state(key=jax.random.key(1))
        n_syn = net.exc.conn.num_connections + net.inh.conn.num_connections
        build_s = time.perf_counter() - t0
        simulate = make_run(steps)
        configs = {}
        for d in devices:
            if num % d:
                print(f"  skip {d} devices: {num} neurons do not split evenly")
                continue
            if d == 1:
                one = jax.devices()[0]
                configs[1] = jax.device_put((net, state), one)
            else:
                mesh = fd.parallel.neuron_mesh(jax.devices()[:d])
                sharded = fd.parallel.NeuronSharded(net, mesh, num=num)
                configs[d] = (sharded, sharded.init_state(key=jax.random.key(1)))
        if num <= 4000 and len(configs) > 1:
            base = spikes_run(*configs[min(configs)], 200)
            same = all(np.array_equal(base, spikes_run(*configs[d], 200)) for d in configs)
            print(f"  {num} neurons: 200-step spike trains identical on every mesh: {same}")
            if not same:
                raise SystemExit("bench_scale: sharded spike trains differ from one device")
        memory, counts = {}, {}
        for d, (m, s) in configs.items():
            compiled = simulate.lower(m, s).compile()
            temp = compiled.memory_analysis()
            temp_bytes = getattr(temp, "temp_size_in_bytes", 0) if temp is not None else 0
            memory[d] = (bytes_on_first_device((m, s)), temp_bytes)
            counts[d] = int(np.asarray(simulate(m, s)[1]).sum())  # warm-up
        times = {d: [] for d in configs}
        for _ in range(rounds):
            for d, (m, s) in configs.items():
                times[d].append(time_call(simulate, m, s))
        base = statistics.median(times[min(configs)])
        print(f"COBA {num} neurons, {n_syn} synapses ({n_syn / num:.1f} per neuron), "
              f"{steps} steps, built in {build_s:.1f} s")
        for d in configs:
            med = statistics.median(times[d])
            rate = counts[d] / num / (steps * DT / 1000.0)
            held, temp = memory[d]
            print(f"  {d} device{'s' if d > 1 else ' '}: {med / steps * 1e3:8.3f} ms/step  "
                  f"{held / 2**20:9.1f} MiB held per device + {temp / 2**20:8.1f} MiB "
                  f"temporary  rate {rate:5.1f} Hz  ratio to 1 device {med / base:5.2f}")
            results.append((num, d, med / base, held / memory[min(configs)][0]))
        del configs, net, state
    for num, d, ratio, mem_ratio in results:
        if d == 1:
            continue
        # Memory: each device holds 1/D of the neurons and synapses, plus what every
        # device keeps whole (the spike vector, each block's row pointer over all
        # presynaptic neurons): goal at most 1.25 / D of the single device.
        print(result_line(f"scale.memory_{d}dev_{num}", mem_ratio, "<=", 1.25 / d))
        # Time: on forced CPU devices all D programs share the same cores, so the ideal
        # is the single-device time; the goal bounds the overhead of the split (the
        # collective, each device's pass over the whole spike vector) at D times it.
        # On real devices the ratio is the speedup's inverse.
        print(result_line(f"scale.time_{d}dev_{num}", ratio, "<=", float(d)))


if __name__ == "__main__":
    main()

# The figures end as "RESULT <benchmark>.<figure> ratio=<x> goal<=<y>" lines (_results.py).
