"""W5 HH population, hand-written JAX (+ diffrax for the adaptive solve), float32.

10,000 uncoupled Hodgkin-Huxley neurons (standard squid-axon parameters), neuron k driven
by its own constant current I_k (evenly spaced in [5, 15] uA/cm^2), 100 ms:

    C dV/dt = I - g_Na m^3 h (V - E_Na) - g_K n^4 (V - E_K) - g_L (V - E_L)
    dx/dt = alpha_x(V) (1 - x) - beta_x(V) x,   x in {m, h, n}

- fixed: exponential Euler with dt = 0.01 ms (each variable's linear part integrated
  exactly with the others frozen over the step), one `lax.scan`;
- adaptive: `diffrax.diffeqsolve` with Tsit5 and a PID step-size controller
  (rtol = atol = 1e-6) over the whole population as one system.

The V of the probe neurons is kept on the 0.01 ms grid; their spike times (upward
crossings of 0 mV) are compared by the suite with a float64 Dopri8 reference at
rtol = atol = 1e-12 (`reference.py`).
"""

import sys

sys.path.insert(0, __import__("pathlib").Path(__file__).resolve().parents[1].as_posix())
import _common as C  # noqa: E402

args = C.parse_args(__doc__)
C.configure_jax(args.threads)

import time  # noqa: E402

import diffrax  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

P = C.HH


def vector_field(t, y, I):
    V, m, h, n = y
    am, bm, ah, bh, an, bn = C.hh_rates(V)
    i_ion = (P["g_Na"] * m**3 * h * (V - P["E_Na"]) + P["g_K"] * n**4 * (V - P["E_K"])
             + P["g_L"] * (V - P["E_L"]))
    return ((I - i_ion) / P["C"], am * (1 - m) - bm * m, ah * (1 - h) - bh * h,
            an * (1 - n) - bn * n)


def exp_euler_step(y, I, dt):
    V, m, h, n = y
    am, bm, ah, bh, an, bn = C.hh_rates(V)

    def gate(x, a, b):
        tot = a + b
        return a / tot + (x - a / tot) * jnp.exp(-dt * tot)

    g_na, g_k = P["g_Na"] * m**3 * h, P["g_K"] * n**4
    G = g_na + g_k + P["g_L"]
    v_inf = (I + g_na * P["E_Na"] + g_k * P["E_K"] + P["g_L"] * P["E_L"]) / G
    V_new = v_inf + (V - v_inf) * jnp.exp(-dt * G / P["C"])
    return V_new, gate(m, am, bm), gate(h, ah, bh), gate(n, an, bn)


def initial_state(N, dtype=jnp.float32):
    m0, h0, n0 = C.hh_initial_gates(P["V0"])
    return tuple(jnp.full(N, v, dtype) for v in (P["V0"], m0, h0, n0))


def main():
    s = C.SIZES["w5_hh"][args.size]
    d = C.load_data(args, "w5_hh")
    I, probe = jnp.asarray(d["I_ext"]), jnp.asarray(d["probe"])
    N, dt, T = s["N"], s["dt"], s["duration"]
    n_steps = int(round(T / dt))
    save_every = int(round(s["save_dt"] / dt))
    n_save = int(round(T / s["save_dt"]))
    ts = jnp.linspace(0.0, n_save * s["save_dt"], n_save + 1)

    @jax.jit
    def fixed(I):
        y0 = initial_state(N)

        def step(y, _):
            y = exp_euler_step(y, I, dt)
            return y, y[0][probe]

        _, vs = jax.lax.scan(step, y0, None, length=n_steps)
        vs = jnp.concatenate([y0[0][probe][None], vs])
        return vs[::save_every]

    @jax.jit
    def adaptive(I):
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(vector_field), diffrax.Tsit5(), t0=0.0, t1=T, dt0=dt,
            y0=initial_state(N), args=I,
            stepsize_controller=diffrax.PIDController(rtol=s["rtol"], atol=s["atol"]),
            saveat=diffrax.SaveAt(ts=ts, fn=lambda t, y, a: y[0][probe]),
            max_steps=1_000_000)
        return sol.ys, sol.stats["num_accepted_steps"], sol.stats["num_rejected_steps"]

    out = {}
    for name, fn in (("fixed", fixed), ("adaptive", adaptive)):
        t = time.perf_counter()
        jax.block_until_ready(fn(I))
        first = time.perf_counter() - t
        res, times = C.timed(lambda: jax.block_until_ready(fn(I)), reps=s["reps"])
        vs = res[0] if name == "adaptive" else res
        if name == "adaptive":
            out["adaptive_steps"] = int(res[1])
            out["adaptive_rejected"] = int(res[2])
        out[f"{name}_s"] = times
        out[f"{name}_compile_s"] = first - C.median(times)
        out[f"{name}_spikes"] = [t.tolist() for t in C.spike_times(np.asarray(vs), s["save_dt"])]
    C.emit("w5_hh", "jax", dict(out, peak_rss_mb=C.peak_rss_mb()), mods=("jax", "diffrax"),
           notes="fixed: exponential Euler dt 0.01 ms; adaptive: diffrax Tsit5, PID "
                 f"rtol {s['rtol']}, atol {s['atol']}")


if __name__ == "__main__":
    main()
