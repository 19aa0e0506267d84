"""A Hodgkin-Huxley neuron, simulated with an adaptive diffrax solver and with the
fixed-step funcdyn step function.

1. A whole trajectory with `HH.simulate`: `diffrax.diffeqsolve` with `Tsit5` and a PID
   step-size controller (rtol = atol = 1e-6), under a constant 10 uA/cm^2 current. The
   controller takes small steps on the spike upstroke and long ones between spikes; the
   script prints how many steps it took and the smallest and largest step.
2. The same neuron stepped by `funcdyn.run` (exponential Euler, dt = 0.01 ms, one
   `lax.scan`): spike times compared with the adaptive reference.
3. The f-I curve: a batch of neurons, one current each, simulated in one batched run.

Prints the firing rate, the peak membrane potential, the number of adaptive steps, the
largest spike-time difference between the two integrations, and the f-I curve; saves a
figure to `--out`.

    python examples/hh_neuron.py [--quick] [--duration 200] [--out outputs/hh_neuron]
"""

import argparse
import os

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

import funcdyn as fd

jax.config.update("jax_enable_x64", True)  # a tight-tolerance reference wants float64


def upward_crossings(t, V, threshold=0.0):
    """The times at which `V` crosses `threshold` upwards, by linear interpolation."""
    V = np.asarray(V)
    idx = np.nonzero((V[:-1] < threshold) & (V[1:] >= threshold))[0]
    frac = (threshold - V[idx]) / (V[idx + 1] - V[idx])
    return np.asarray(t)[idx] + frac * (np.asarray(t)[idx + 1] - np.asarray(t)[idx])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a shorter simulation (CI)")
    parser.add_argument("--duration", type=float, default=200.0, help="ms")
    parser.add_argument("--current", type=float, default=10.0, help="uA/cm^2")
    parser.add_argument("--out", default=os.path.join("outputs", "hh_neuron"))
    args = parser.parse_args(argv)
    duration = 100.0 if args.quick else args.duration
    I = args.current

    hh = fd.neurons.HH(1)

    # 1. Adaptive steps over the whole trajectory.
    grid = jnp.linspace(0.0, duration, int(duration / 0.01) + 1)
    sol = hh.simulate(I, 0.0, duration, saveat=diffrax.SaveAt(ts=grid))
    steps = hh.simulate(I, 0.0, duration, saveat=diffrax.SaveAt(steps=True))
    accepted = int(sol.stats["num_accepted_steps"])
    ts = np.asarray(steps.ts)
    ts = ts[np.isfinite(ts)]
    sizes = np.diff(np.concatenate([[0.0], ts]))
    V_ref = np.asarray(sol.ys[0][:, 0])
    ref_spikes = upward_crossings(grid, V_ref)
    # Rate over the second half, after the first spike's transient.
    late = ref_spikes[ref_spikes > duration / 2]
    rate = 1000.0 * (len(late) - 1) / (late[-1] - late[0]) if len(late) > 1 else 0.0
    print(f"adaptive Tsit5 + PID controller: {accepted} steps over {duration:.0f} ms, "
          f"step size {sizes.min():.2e} .. {sizes.max():.2f} ms")
    print(f"adaptive steps: {accepted}")
    print(f"{len(ref_spikes)} spikes; first at {ref_spikes[0]:.3f} ms")
    print(f"peak membrane potential: {V_ref.max():.1f} mV")
    print(f"firing rate: {rate:.1f} Hz")

    # 2. The fixed-step step function, one lax.scan.
    dt = 0.01
    n = int(round(duration / dt))
    _, _, rec = fd.run(hh, jnp.full((n, 1), I), dt=dt, monitors={"V": lambda s: s.V[0]})
    t_fixed = dt * np.arange(1, n + 1)
    fixed_spikes = upward_crossings(t_fixed, rec["V"])
    k = min(len(fixed_spikes), len(ref_spikes))
    diff = np.max(np.abs(fixed_spikes[:k] - ref_spikes[:k])) if k else np.inf
    print(f"exponential Euler, dt = {dt} ms: {len(fixed_spikes)} spikes, "
          f"largest spike-time difference to the adaptive solution: {diff:.3f} ms")

    # 3. The f-I curve: one batched run, a different current for each neuron.
    currents = jnp.linspace(0.0, 40.0, 9 if args.quick else 17)
    batch = fd.neurons.HH(1, mode=fd.batching_mode)
    T_fi = 2 * n
    xs = jnp.broadcast_to(currents[None, :, None], (T_fi, len(currents), 1))
    _, _, rec_fi = fd.run(batch, xs, dt=dt, monitors={"V": lambda s: s.V[:, 0]})
    V_fi = np.asarray(rec_fi["V"])                               # (T, currents)
    half = T_fi // 2  # count spikes (upward crossings of 0 mV) in the second half only
    counts = ((V_fi[half:-1] < 0.0) & (V_fi[half + 1:] >= 0.0)).sum(0)
    rates = 1000.0 * counts / ((T_fi - half) * dt)
    print("f-I curve (uA/cm^2 -> Hz):",
          ", ".join(f"{c:.0f}->{r:.0f}" for c, r in zip(np.asarray(currents), rates)))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(args.out, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    ax = axes[0]
    ax.plot(grid, V_ref, "k", lw=1, label="adaptive Tsit5")
    ax.plot(t_fixed, np.asarray(rec["V"]), "C1--", lw=1, label=f"exp. Euler, dt={dt}")
    ax.set(xlabel="time (ms)", ylabel="V (mV)", xlim=(0, min(duration, 60.0)),
           title=f"Hodgkin-Huxley, I = {I} uA/cm$^2$")
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.semilogy(ts, sizes, ".", ms=2)
    ax.set(xlabel="time (ms)", ylabel="step size (ms)", xlim=(0, min(duration, 60.0)),
           title=f"adaptive step sizes ({accepted} steps)")
    ax = axes[2]
    ax.plot(np.asarray(currents), rates, "o-")
    ax.set(xlabel="I (uA/cm$^2$)", ylabel="rate (Hz)", title="f-I curve")
    fig.tight_layout()
    path = os.path.join(args.out, "hh_neuron.png")
    fig.savefig(path, dpi=110)
    print(f"figure saved to {path}")


if __name__ == "__main__":
    main()
