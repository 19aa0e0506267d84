"""W1 SNN-BPTT in BrainPy (2.x object-oriented API: `bp.dnn`, `bp.dyn`, `bm.for_loop`).

The same maths as `jax_impl.py`: `bp.dnn.Linear` (no bias) feeding `bp.dyn.Expon`
synapses, a `bp.dyn.Lif` (exponential Euler, hard reset to 0, `InvSquareGrad(alpha=25)`
surrogate, which is 1 / (alpha |x| + 1)^2) and a `bp.dyn.Leaky` readout fed with
(1 - a_out) g so that it is the leaky integrator V = a V + (1 - a) g.
"""

import sys

sys.path.insert(0, __import__("pathlib").Path(__file__).resolve().parents[1].as_posix())
import _common as C  # noqa: E402

args = C.parse_args(__doc__)
C.configure_jax(args.threads)

import math  # noqa: E402
import time  # noqa: E402

import brainpy as bp  # noqa: E402
import brainpy.math as bm  # noqa: E402
import jax  # noqa: E402

bm.set_environment(bm.training_mode, dt=1.0)


class SNN(bp.DynamicalSystem):
    def __init__(self, s, w1, w2):
        super().__init__()
        self.a_out = math.exp(-s["dt"] / s["tau_out"])
        self.i2r = bp.dnn.Linear(s["n_in"], s["n_rec"], W_initializer=bm.asarray(w1),
                                 b_initializer=None)
        self.syn1 = bp.dyn.Expon(s["n_rec"], tau=s["tau_syn"])
        self.r = bp.dyn.Lif(s["n_rec"], tau=s["tau_mem"], V_rest=0.0, V_reset=0.0,
                            V_th=s["V_th"], spk_reset="hard",
                            spk_fun=bm.surrogate.InvSquareGrad(alpha=25.0))
        self.r2o = bp.dnn.Linear(s["n_rec"], s["n_out"], W_initializer=bm.asarray(w2),
                                 b_initializer=None)
        self.syn2 = bp.dyn.Expon(s["n_out"], tau=s["tau_syn"])
        self.o = bp.dyn.Leaky(s["n_out"], tau=s["tau_out"])

    def update(self, x):
        spk = self.r(self.syn1(self.i2r(x)))
        return self.o((1.0 - self.a_out) * self.syn2(self.r2o(spk)))


def main():
    s = C.SIZES["w1_snn"][args.size]
    data = C.load_data(args, "w1_snn")
    x, y = bm.asarray(data["x"]), bm.asarray(data["y"])
    net = SNN(s, data["w1"], data["w2"])
    opt = bp.optim.Adam(lr=s["lr"], train_vars=net.train_vars().unique())

    def loss_fun(x, y):
        bp.reset_state(net, x.shape[1])
        vos = bm.for_loop(net.step_run, (bm.arange(x.shape[0]), x))
        logits = bm.max(vos, axis=0)
        return bp.losses.cross_entropy_loss(logits, y)

    grad_fun = bm.grad(loss_fun, grad_vars=net.train_vars().unique(), return_value=True)

    @bm.jit
    def train_step(x, y):
        grads, loss = grad_fun(x, y)
        opt.update(grads)
        return loss

    def one():
        loss = train_step(x, y)
        jax.block_until_ready(loss)
        return float(loss)

    m = C.time_training(one, s["steps"])
    C.emit("w1_snn", "brainpy", dict(m, peak_rss_mb=C.peak_rss_mb()), mods=("brainpy", "jax"))


main()
