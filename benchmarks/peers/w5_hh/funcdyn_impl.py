"""W5 HH population in funcdyn: one `funcdyn.neurons.HH(10_000)` (standard parameters),
each neuron with its own constant current:

- fixed: the default step (exponential Euler, dt = 0.01 ms) run by `funcdyn.run` with a
  monitor of the probe neurons' V (the constant current is held by a small wrapper, so
  no (T, N) input array is built);
- adaptive: `HH.simulate` (diffrax Tsit5, PID controller, rtol = atol = 1e-6) with the
  probe neurons' V saved on the 0.01 ms grid.

Same data and probes as `jax_impl.py`; spike times are compared with the suite's
float64 reference.
"""

import sys

sys.path.insert(0, __import__("pathlib").Path(__file__).resolve().parents[1].as_posix())
import _common as C  # noqa: E402

args = C.parse_args(__doc__)
C.configure_jax(args.threads)
C.add_repo_to_path(__file__)

import time  # noqa: E402

import diffrax  # noqa: E402
import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import funcdyn as fd  # noqa: E402
import funcdyn.neurons  # noqa: E402,F401

P = C.HH


class ConstantDrive(eqx.Module):
    """Steps `hh` with the fixed current `I` whatever the input."""

    hh: fd.neurons.HH
    I: jax.Array

    def __call__(self, state, x, ctx):
        return self.hh(state, self.I, ctx)


def main():
    s = C.SIZES["w5_hh"][args.size]
    d = C.load_data(args, "w5_hh")
    N, dt, T = s["N"], s["dt"], s["duration"]
    I, probe = jnp.asarray(d["I_ext"]), jnp.asarray(d["probe"])
    hh = fd.neurons.HH(N, E_Na=P["E_Na"], g_Na=P["g_Na"], E_K=P["E_K"], g_K=P["g_K"],
                       E_L=P["E_L"], g_L=P["g_L"], C=P["C"], V_initializer=P["V0"],
                       mode=fd.nonbatching_mode)
    n_steps = int(round(T / dt))
    save_every = int(round(s["save_dt"] / dt))
    n_save = int(round(T / s["save_dt"]))
    ts = jnp.linspace(0.0, n_save * s["save_dt"], n_save + 1)

    @eqx.filter_jit
    def fixed(hh, I):
        state = hh.init_state()
        _, _, rec = fd.run(ConstantDrive(hh, I), jnp.zeros((n_steps, 1)), dt=dt, state=state,
                           monitors=lambda st: st.V[probe])
        return jnp.concatenate([state.V[probe][None], rec])[::save_every]

    @eqx.filter_jit
    def adaptive(hh, I):
        sol = hh.simulate(I, 0.0, T, rtol=s["rtol"], atol=s["atol"], dt0=dt,
                          saveat=diffrax.SaveAt(ts=ts, fn=lambda t, y, a: y[0][probe]))
        return sol.ys, sol.stats["num_accepted_steps"], sol.stats["num_rejected_steps"]

    out = {}
    for name, fn in (("fixed", fixed), ("adaptive", adaptive)):
        t = time.perf_counter()
        jax.block_until_ready(fn(hh, I))
        first = time.perf_counter() - t
        res, times = C.timed(lambda: jax.block_until_ready(fn(hh, I)), reps=s["reps"])
        vs = res[0] if name == "adaptive" else res
        if name == "adaptive":
            out["adaptive_steps"] = int(res[1])
            out["adaptive_rejected"] = int(res[2])
        out[f"{name}_s"] = times
        out[f"{name}_compile_s"] = first - C.median(times)
        out[f"{name}_spikes"] = [t.tolist() for t in C.spike_times(np.asarray(vs), s["save_dt"])]
    C.emit("w5_hh", "funcdyn", dict(out, peak_rss_mb=C.peak_rss_mb()),
           mods=("jax", "diffrax", "funcdyn"),
           notes="fixed: HH default step (exponential Euler) dt 0.01 ms; adaptive: "
                 f"HH.simulate Tsit5, PID rtol {s['rtol']}, atol {s['atol']}")


main()
