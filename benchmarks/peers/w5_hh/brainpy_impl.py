"""W5 HH population in BrainPy: `bp.dyn.HH` (standard parameters, BrainPy's default
`exp_auto` integrator: exponential Euler), dt = 0.01 ms, 10,000 steps in `bm.for_loop`,
each neuron with its own constant current; the V of the probe neurons is recorded at
every step. Fixed-step only: the adaptive solve of `jax_impl.py` is diffrax's, which
BrainPy does not offer for a neuron population, so it is not run here.
"""

import sys

sys.path.insert(0, __import__("pathlib").Path(__file__).resolve().parents[1].as_posix())
import _common as C  # noqa: E402

args = C.parse_args(__doc__)
C.configure_jax(args.threads)

import time  # noqa: E402

import brainpy as bp  # noqa: E402
import brainpy.math as bm  # noqa: E402
import jax  # noqa: E402
import numpy as np  # noqa: E402

P = C.HH


def main():
    s = C.SIZES["w5_hh"][args.size]
    d = C.load_data(args, "w5_hh")
    bm.set_dt(s["dt"])
    N = s["N"]
    m0, h0, n0 = C.hh_initial_gates(P["V0"])
    hh = bp.dyn.HH(N, ENa=P["E_Na"], gNa=P["g_Na"], EK=P["E_K"], gK=P["g_K"], EL=P["E_L"],
                   gL=P["g_L"], C=P["C"], V_initializer=bp.init.Constant(P["V0"]),
                   m_initializer=bp.init.Constant(m0), h_initializer=bp.init.Constant(h0),
                   n_initializer=bp.init.Constant(n0), method="exp_auto")
    I = jax.numpy.asarray(d["I_ext"])
    probe = jax.numpy.asarray(d["probe"])
    n_steps = int(round(s["duration"] / s["dt"]))
    save_every = int(round(s["save_dt"] / s["dt"]))

    def step(i):
        hh.step_run(i, I)
        return hh.V.value[probe]

    @bm.jit
    def simulate():
        return bm.for_loop(step, bm.arange(n_steps))

    def run():
        bp.reset_state(hh)
        return jax.block_until_ready(simulate())

    t = time.perf_counter()
    run()
    first = time.perf_counter() - t
    vs, times = C.timed(run, reps=s["reps"])
    vs = np.concatenate([np.full((1, probe.shape[0]), P["V0"]), np.asarray(vs)])[::save_every]
    C.emit("w5_hh", "brainpy", dict(
        fixed_s=times, fixed_compile_s=first - C.median(times),
        fixed_spikes=[t.tolist() for t in C.spike_times(vs, s["save_dt"])],
        peak_rss_mb=C.peak_rss_mb()), mods=("brainpy", "jax"),
        notes="fixed: exp_auto (exponential Euler) dt 0.01 ms; adaptive: not offered")


main()
