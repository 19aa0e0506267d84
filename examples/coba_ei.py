"""The Vogels & Abbott (2005) balanced E/I network with conductance-based synapses (COBA).

4,000 leaky integrate-and-fire neurons (3,200 excitatory, 800 inhibitory), each pair
connected with probability 2%, exponential conductances (excitatory: tau 5 ms, weight
0.6, reversal 0 mV; inhibitory: tau 10 ms, weight 6.7, reversal -80 mV), membrane
tau 20 ms, V_rest = V_reset = -60 mV, V_th = -50 mV, refractory period 5 ms, a constant
drive of 20 mV and dt = 0.1 ms, the parameters of the Brian2 / BrainPy COBA benchmark.

The network is one LIF population and two synapses (from its excitatory and from its
inhibitory part onto all of it). The synapses are event-driven: each step visits only
the out-connections of the neurons that spiked.

    python examples/coba_ei.py           # 1 s of biological time
    python examples/coba_ei.py --quick   # 100 ms, for CI

Saves a raster plot to `<out>/coba_raster.png` (default `outputs/coba_ei/`) and prints
the mean firing rate.
"""

import argparse
import pathlib
import time

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

import funcdyn as fd

PARAMS = dict(
    exc_fraction=0.8, prob=0.02, V_rest=-60.0, V_reset=-60.0, V_th=-50.0, tau=20.0,
    tau_ref=5.0, tau_e=5.0, tau_i=10.0, E_e=0.0, E_i=-80.0, w_e=0.6, w_i=6.7, I_ext=20.0,
    V0_mean=-55.0, V0_std=2.0,
)


class COBA(fd.DynamicalSystem):
    """One LIF population driven by its own excitatory and inhibitory spikes.

    Each step: the synapses take the spikes and potentials of the previous step and
    return their currents `g (E - V)`; the neurons integrate them plus the drive `x`.
    The output is the spike vector (booleans).
    """

    neurons: fd.neurons.LIF
    exc: fd.synapses.Exponential
    inh: fd.synapses.Exponential
    num_exc: int = eqx.field(static=True)

    def __init__(self, num: int = 4000, *, key, seed: int | None = None):
        p = PARAMS
        # Weights scale with 4000 / num so that every size gets the same mean input.
        scale = 4000.0 / num
        self.num_exc = int(p["exc_fraction"] * num)
        k_exc, k_inh = jax.random.split(key)
        self.neurons = fd.neurons.LIF(
            num, tau=p["tau"], V_rest=p["V_rest"], V_reset=p["V_reset"], V_th=p["V_th"],
            tau_ref=p["tau_ref"], V_initializer=fd.init.Normal(p["V0_mean"], p["V0_std"]),
        )

        def conn(offset):
            return fd.conn.FixedProb(p["prob"], seed=None if seed is None else seed + offset)

        self.exc = fd.synapses.Exponential(
            self.num_exc, num, conn=conn(0), g_max=p["w_e"] * scale, tau=p["tau_e"],
            output=fd.synouts.COBA(E=p["E_e"]), key=k_exc,
        )
        self.inh = fd.synapses.Exponential(
            num - self.num_exc, num, conn=conn(1), g_max=p["w_i"] * scale, tau=p["tau_i"],
            output=fd.synouts.COBA(E=p["E_i"]), key=k_inh,
        )

    def __call__(self, state: dict, x: Array, ctx: fd.Context) -> tuple[dict, Array]:
        V = state["neurons"].V
        spikes = state["neurons"].spike
        exc, I_exc = self.exc(state["exc"], (spikes[: self.num_exc], V), ctx)
        inh, I_inh = self.inh(state["inh"], (spikes[self.num_exc :], V), ctx)
        neurons, out = self.neurons(state["neurons"], I_exc + I_inh + x, ctx)
        return {"neurons": neurons, "exc": exc, "inh": inh}, out > 0


def simulate(net: COBA, duration: float, dt: float = 0.1, *, key):
    """Runs `net` for `duration` ms; returns the `(T, N)` boolean spikes."""
    steps = int(round(duration / dt))
    drive = jnp.full((steps,), PARAMS["I_ext"])

    @jax.jit
    def run(net, state):
        _, spikes, _ = fd.run(net, drive, dt=dt, state=state)
        return spikes

    return run(net, net.init_state(key=key))


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="simulate 100 ms (for CI)")
    parser.add_argument("--duration", type=float, default=None, help="ms (default 1000)")
    parser.add_argument("--neurons", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("outputs", "coba_ei"),
                        help="folder for coba_raster.png (default: outputs/coba_ei)")
    args = parser.parse_args(argv)
    duration = args.duration or (100.0 if args.quick else 1000.0)
    dt = 0.1

    key_net, key_state = jax.random.split(jax.random.key(args.seed))
    net = COBA(args.neurons, key=key_net)
    num_synapses = net.exc.conn.num_connections + net.inh.conn.num_connections
    print(f"COBA: {args.neurons} neurons, {num_synapses} synapses, {duration:g} ms at dt = {dt} ms")
    start = time.perf_counter()
    spikes = jax.block_until_ready(simulate(net, duration, dt, key=key_state))
    elapsed = time.perf_counter() - start
    rate = float(jnp.sum(spikes)) / args.neurons / (duration / 1000.0)
    print(f"simulated in {elapsed:.2f} s (including compilation)")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    args.out.mkdir(parents=True, exist_ok=True)
    ts = jnp.arange(spikes.shape[0]) * dt
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 6), sharex=True,
                                   gridspec_kw=dict(height_ratios=[3, 1]))
    # A readable subset: 400 excitatory neurons below 100 inhibitory ones.
    n_exc = min(400, net.num_exc)
    subset = jnp.concatenate(
        [spikes[:, :n_exc], spikes[:, net.num_exc : net.num_exc + n_exc // 4]], axis=1
    )
    fd.raster_plot(ts, subset, ax=ax1, markersize=1.0, xlabel="",
                   ylabel=f"{n_exc} E + {subset.shape[1] - n_exc} I neurons",
                   title=f"COBA E/I network, mean rate {rate:.1f} Hz")
    ax1.axhline(n_exc - 0.5, color="r", linewidth=0.5)
    ax2.plot(ts, fd.firing_rate(spikes, width=5.0, dt=dt))
    ax2.set_xlabel("Time (ms)")
    ax2.set_ylabel("Rate (Hz)")
    path = args.out / "coba_raster.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"raster plot saved to {path}")
    print(f"mean firing rate: {rate:.1f} Hz")
    return rate


if __name__ == "__main__":
    main()
