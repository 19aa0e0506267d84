"""W4 COBA E/I network in BrainPy, written as BrainPy's own E/I example: `bp.dyn.LifRef`
neurons, `bp.dyn.HalfProjAlignPostMg` projections with event-driven CSR connectivity
(`bp.dnn.EventCSRLinear` over `bp.conn.IJConn` with the shared pre/post lists),
`bp.dyn.Expon` conductances and `bp.dyn.COBA` outputs, a one-step `bp.VarDelay` of the
spikes, and `bm.for_loop` over 10,000 steps. Same parameters as `jax_impl.py`.
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

P = C.COBA


class EINet(bp.DynSysGroup):
    def __init__(self, s, d):
        super().__init__()
        N, n_e = s["N"], int(d["n_e"])
        self.n_e = n_e
        w_e, w_i = C.coba_weights(N, s["p"])
        pre, post = d["pre"], d["post"]
        exc = pre < n_e
        self.N = bp.dyn.LifRef(N, V_rest=P["V_rest"], V_th=P["V_th"], V_reset=P["V_reset"],
                               tau=P["tau"], tau_ref=P["tau_ref"],
                               V_initializer=bm.asarray(d["V0"]))
        self.delay = bp.VarDelay(self.N.spike, entries={"I": None})
        conn_e = bp.conn.IJConn(i=pre[exc], j=post[exc])(n_e, N)
        conn_i = bp.conn.IJConn(i=pre[~exc] - n_e, j=post[~exc])(N - n_e, N)
        self.E = bp.dyn.HalfProjAlignPostMg(comm=bp.dnn.EventCSRLinear(conn_e, w_e),
                                            syn=bp.dyn.Expon.desc(size=N, tau=P["tau_e"]),
                                            out=bp.dyn.COBA.desc(E=P["E_e"]), post=self.N)
        self.I = bp.dyn.HalfProjAlignPostMg(comm=bp.dnn.EventCSRLinear(conn_i, w_i),
                                            syn=bp.dyn.Expon.desc(size=N, tau=P["tau_i"]),
                                            out=bp.dyn.COBA.desc(E=P["E_i"]), post=self.N)

    def update(self, inp):
        spk = self.delay.at("I")
        self.E(spk[:self.n_e])
        self.I(spk[self.n_e:])
        self.delay(self.N(inp))
        return bm.sum(self.N.spike.value)


def main():
    s = C.SIZES["w4_coba"][args.size]
    d = C.load_data(args, "w4_coba")
    bm.set_dt(s["dt"])
    net = EINet(s, d)
    n_steps = int(round(s["duration"] / s["dt"]))

    @bm.jit
    def simulate():
        return bm.for_loop(lambda i: net.step_run(i, P["I_ext"]), bm.arange(n_steps))

    def run():
        bp.reset_state(net)
        net.N.V.value = bm.asarray(d["V0"])
        return jax.block_until_ready(simulate())

    t = time.perf_counter()
    run()
    first = time.perf_counter() - t
    counts, times = C.timed(run, reps=s["reps"])
    rate = float(bm.sum(counts)) / s["N"] / (s["duration"] / 1000.0)
    C.emit("w4_coba", "brainpy", dict(sim_s=times, compile_s=first - C.median(times),
                                      rate_hz=rate, n_synapses=int(d["pre"].size), N=s["N"],
                                      duration_ms=s["duration"], peak_rss_mb=C.peak_rss_mb()),
           mods=("brainpy", "jax", "brainevent"))


main()
