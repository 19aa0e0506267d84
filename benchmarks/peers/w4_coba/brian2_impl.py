"""W4 COBA E/I network in Brian2, C++ standalone mode (generated and compiled C++, one
thread), with the shared connectivity, initial potentials and parameters of
`jax_impl.py`:

    dv/dt = (V_rest - v + ge (E_e - v) + gi (E_i - v) + I_ext) / tau   (unless refractory)
    dge/dt = -ge / tau_e;  dgi/dt = -gi / tau_i;  on_pre: ge += w_e (or gi += w_i)

integrated with `exponential_euler`. Brian2's schedule differs by one step from the
others' (it integrates, thresholds, then delivers spikes in the same step), which changes
no statistic. `sim_s` is the run time the standalone binary reports for the simulation
loop; `compile_s` is the code generation and C++ build time (the build folder is reused,
so make recompiles only what changed).
"""

import sys

sys.path.insert(0, __import__("pathlib").Path(__file__).resolve().parents[1].as_posix())
import _common as C  # noqa: E402

args = C.parse_args(__doc__)

import os  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import brian2 as b2  # noqa: E402

P = C.COBA


def main():
    s = C.SIZES["w4_coba"][args.size]
    d = C.load_data(args, "w4_coba")
    N, n_e = s["N"], int(d["n_e"])
    w_e, w_i = C.coba_weights(N, s["p"])
    build = Path(__file__).resolve().parents[2] / ".envs" / "brian2_build" / args.size
    build.mkdir(parents=True, exist_ok=True)
    b2.set_device("cpp_standalone", directory=str(build), build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = 0
    b2.prefs.logging.file_log = False
    b2.defaultclock.dt = s["dt"] * b2.ms
    ms = b2.ms
    eqs = f"""
    dv/dt = ({P['V_rest']} - v + ge * ({P['E_e']} - v) + gi * ({P['E_i']} - v)
             + {P['I_ext']}) / ({P['tau']} * ms) : 1 (unless refractory)
    dge/dt = -ge / ({P['tau_e']} * ms) : 1
    dgi/dt = -gi / ({P['tau_i']} * ms) : 1
    """
    G = b2.NeuronGroup(N, eqs, threshold=f"v >= {P['V_th']}", reset=f"v = {P['V_reset']}",
                       refractory=P["tau_ref"] * ms, method="exponential_euler")
    G.v = d["V0"]
    pre, post = d["pre"], d["post"]
    exc = pre < n_e
    Se = b2.Synapses(G, G, on_pre=f"ge += {w_e}")
    Se.connect(i=pre[exc], j=post[exc])
    Si = b2.Synapses(G, G, on_pre=f"gi += {w_i}")
    Si.connect(i=pre[~exc], j=post[~exc])
    mon = b2.SpikeMonitor(G, record=False)
    b2.run(s["duration"] * ms)
    times, rates = [], []
    t = time.perf_counter()
    b2.device.build(directory=str(build), compile=True, run=True, debug=False)
    build_wall = time.perf_counter() - t
    times.append(b2.device._last_run_time)
    rates.append(int(mon.num_spikes) / N / (s["duration"] / 1000.0))
    for _ in range(s["reps"] - 1):
        # Re-run the compiled binary (no code generation or build).
        b2.device.run(directory=str(build), with_output=False, run_args=[])
        times.append(b2.device._last_run_time)
    C.emit("w4_coba", "brian2", dict(sim_s=times, compile_s=build_wall - times[0],
                                     rate_hz=rates[0], n_synapses=int(pre.size), N=N,
                                     duration_ms=s["duration"], peak_rss_mb=C.peak_rss_mb()),
           mods=("brian2",), notes="cpp_standalone, 1 thread; peak_rss_mb is the Python "
                                   "process, not the standalone binary")


main()
