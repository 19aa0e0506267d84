"""W2 DeepRNN in BrainPy: four `bp.dyn.LSTMCell`s, `bp.dnn.Dropout`, `bp.dnn.Dense`,
stepped over time with `bm.for_loop`; the same weights and loss as `jax_impl.py`.

BrainPy's LSTM cell orders the gates (i, g, f, o) and adds a fixed 1 to the forget gate,
so the shared (i, f, g, o) weights are permuted and 1 is taken off the forget bias. Its
`Dropout(prob)` takes the probability to *keep* a unit: 0.8 here (drop 0.2).
"""

import sys

sys.path.insert(0, __import__("pathlib").Path(__file__).resolve().parents[1].as_posix())
import _common as C  # noqa: E402

args = C.parse_args(__doc__)
C.configure_jax(args.threads)

import brainpy as bp  # noqa: E402
import brainpy.math as bm  # noqa: E402
import jax  # noqa: E402
import numpy as np  # noqa: E402

bm.set_environment(bm.training_mode)


def to_igfo(w, n):
    i, f, g, o = np.split(w, 4, axis=-1)
    return np.concatenate([i, g, f, o], axis=-1)


class DeepRNN(bp.DynamicalSystem):
    def __init__(self, s, data):
        super().__init__()
        sizes = s["sizes"]
        cells = []
        for k, (a, n) in enumerate(zip(sizes[:-1], sizes[1:])):
            b = data[f"b{k}"].copy()
            b[n:2 * n] -= 1.0  # the forget-gate slice, before the permutation
            cells.append(bp.dyn.LSTMCell(a, n, Wi_initializer=bm.asarray(to_igfo(data[f"w_ih{k}"], n)),
                                         Wh_initializer=bm.asarray(to_igfo(data[f"w_hh{k}"], n)),
                                         b_initializer=bm.asarray(to_igfo(b, n))))
        self.cells = bm.NodeList(cells)
        self.drops = bm.NodeList([bp.dnn.Dropout(1.0 - s["p_drop"]) for _ in cells])
        self.out = bp.dnn.Dense(sizes[-1], s["n_out"], W_initializer=bm.asarray(data["w_out"]),
                                b_initializer=bm.asarray(data["b_out"]))

    def update(self, x):
        for cell, drop in zip(self.cells, self.drops):
            x = drop(cell(x))
        return self.out(x)


def main():
    s = C.SIZES["w2_lstm"][args.size]
    data = C.load_data(args, "w2_lstm")
    bm.random.seed(args.seed)
    x, y = bm.asarray(data["x"]), bm.asarray(data["y"])
    net = DeepRNN(s, data)
    opt = bp.optim.Adam(lr=s["lr"], train_vars=net.train_vars().unique())

    def loss_fun(x, y, fit):
        bp.reset_state(net, x.shape[1])
        bp.share.save(fit=fit)
        outs = bm.for_loop(lambda xt: net(xt), x)
        return bp.losses.cross_entropy_loss(outs[-1], y)

    grad_fun = bm.grad(lambda x, y: loss_fun(x, y, True), grad_vars=net.train_vars().unique(),
                       return_value=True)

    @bm.jit
    def train_step(x, y):
        grads, loss = grad_fun(x, y)
        opt.update(grads)
        return loss

    loss0_eval = float(bm.jit(lambda x, y: loss_fun(x, y, False))(x, y))

    def one():
        loss = train_step(x, y)
        jax.block_until_ready(loss)
        return float(loss)

    m = C.time_training(one, s["steps"])
    C.emit("w2_lstm", "brainpy", dict(m, loss0_eval=loss0_eval, peak_rss_mb=C.peak_rss_mb()),
           mods=("brainpy", "jax"))


main()
