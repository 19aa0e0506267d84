"""W4 COBA E/I network in funcdyn, written as `examples/coba_ei.py` writes it: one
`funcdyn.neurons.LIF` population (refractory 5 ms) and two event-driven
`funcdyn.synapses.Exponential` synapses with `funcdyn.synouts.COBA` outputs, over the
shared connectivity (`funcdyn.conn.IJConn`, sparse), run by `funcdyn.run` under `jax.jit`.

funcdyn's step differs slightly from the exponential Euler of `jax_impl.py`, BrainPy
and Brian2: the synapses' currents g (E - V) are evaluated with the potential at the
start of the step and the LIF integrates them as a constant input, whereas the others
integrate the conductance term's dependence on V exactly over the step. The rates agree
to a few percent; the cost is the same.
"""

import sys

sys.path.insert(0, __import__("pathlib").Path(__file__).resolve().parents[1].as_posix())
import _common as C  # noqa: E402

args = C.parse_args(__doc__)
C.configure_jax(args.threads)
C.add_repo_to_path(__file__)

import time  # noqa: E402

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import funcdyn as fd  # noqa: E402
import funcdyn.conn  # noqa: E402,F401
import funcdyn.neurons  # noqa: E402,F401
import funcdyn.synapses  # noqa: E402,F401
import funcdyn.synouts  # noqa: E402,F401

P = C.COBA


class EINet(fd.DynamicalSystem):
    neurons: fd.neurons.LIF
    exc: fd.synapses.Exponential
    inh: fd.synapses.Exponential
    num_exc: int = eqx.field(static=True)

    def __init__(self, s, d):
        N, n_e = s["N"], int(d["n_e"])
        w_e, w_i = C.coba_weights(N, s["p"])
        pre, post = d["pre"], d["post"]
        exc = pre < n_e
        self.num_exc = n_e
        self.neurons = fd.neurons.LIF(N, tau=P["tau"], V_rest=P["V_rest"],
                                      V_reset=P["V_reset"], V_th=P["V_th"],
                                      tau_ref=P["tau_ref"], V_initializer=jnp.asarray(d["V0"]))
        self.exc = fd.synapses.Exponential(
            n_e, N, conn=fd.conn.IJConn(pre[exc], post[exc]), g_max=w_e, tau=P["tau_e"],
            output=fd.synouts.COBA(E=P["E_e"]))
        self.inh = fd.synapses.Exponential(
            N - n_e, N, conn=fd.conn.IJConn(pre[~exc] - n_e, post[~exc]), g_max=w_i,
            tau=P["tau_i"], output=fd.synouts.COBA(E=P["E_i"]))
        self.mode = fd.nonbatching_mode
        self.name = None

    def __call__(self, state, x, ctx):
        V, spikes = state["neurons"].V, state["neurons"].spike
        exc, I_exc = self.exc(state["exc"], (spikes[:self.num_exc], V), ctx)
        inh, I_inh = self.inh(state["inh"], (spikes[self.num_exc:], V), ctx)
        neurons, out = self.neurons(state["neurons"], I_exc + I_inh + x, ctx)
        return {"neurons": neurons, "exc": exc, "inh": inh}, jnp.sum(out)


def main():
    s = C.SIZES["w4_coba"][args.size]
    d = C.load_data(args, "w4_coba")
    net = EINet(s, d)
    n_steps = int(round(s["duration"] / s["dt"]))
    drive = jnp.full((n_steps,), P["I_ext"])

    @eqx.filter_jit
    def simulate(net):
        _, counts, _ = fd.run(net, drive, dt=s["dt"], state=net.init_state())
        return jnp.sum(counts)

    t = time.perf_counter()
    jax.block_until_ready(simulate(net))
    first = time.perf_counter() - t
    n_spikes, times = C.timed(lambda: jax.block_until_ready(simulate(net)), reps=s["reps"])
    rate = float(n_spikes) / s["N"] / (s["duration"] / 1000.0)
    C.emit("w4_coba", "funcdyn", dict(sim_s=times, compile_s=first - C.median(times),
                                      rate_hz=rate, n_synapses=int(d["pre"].size), N=s["N"],
                                      duration_ms=s["duration"], peak_rss_mb=C.peak_rss_mb()),
           mods=("jax", "equinox", "funcdyn"))


main()
