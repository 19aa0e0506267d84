"""W2 DeepRNN in funcdyn: `LSTMCell >> Dropout(0.2) >> ... >> Dense` (a `Sequential` of
four `funcdyn.layers.LSTMCell`s, `funcdyn.layers.Dropout` and a `funcdyn.layers.Dense`),
the loss `funcdyn.train.sequence_loss(funcdyn.losses.cross_entropy_last_step)` and the
jitted optax step of `funcdyn.train.make_step`, with the weights and data of `jax_impl.py`.
"""

import sys

sys.path.insert(0, __import__("pathlib").Path(__file__).resolve().parents[1].as_posix())
import _common as C  # noqa: E402

args = C.parse_args(__doc__)
C.configure_jax(args.threads)
C.add_repo_to_path(__file__)

import functools  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

import funcdyn as fd  # noqa: E402


def main():
    s = C.SIZES["w2_lstm"][args.size]
    d = C.load_data(args, "w2_lstm")
    sizes, mode = s["sizes"], fd.training_mode
    layers = []
    for k, (n_in, n) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(fd.layers.LSTMCell(
            n_in, n, Wi_initializer=jnp.asarray(d[f"w_ih{k}"]),
            Wh_initializer=jnp.asarray(d[f"w_hh{k}"]), b_initializer=jnp.asarray(d[f"b{k}"]),
            mode=mode))
        layers.append(fd.layers.Dropout(s["p_drop"], mode=mode))
    layers.append(fd.layers.Dense(sizes[-1], s["n_out"], W_initializer=jnp.asarray(d["w_out"]),
                                  b_initializer=jnp.asarray(d["b_out"]), mode=mode))
    model = fd.Sequential(*layers)
    batch = (jnp.asarray(d["x"]), jnp.asarray(d["y"]))
    last = functools.partial(fd.losses.cross_entropy_last_step, time_axis=0)
    loss_fn = fd.train.sequence_loss(last, dt=1.0, time_major=True)
    eval_fn = fd.train.sequence_loss(last, dt=1.0, time_major=True, fit=False)
    loss0_eval = float(jax.jit(lambda m: eval_fn(m, batch, None)[0])(model))
    init, step = fd.train.make_step(loss_fn, optax.adam(s["lr"]), has_aux=True)
    carry = [model, init(model), jax.random.key(args.seed)]

    def one():
        key, sub = jax.random.split(carry[2])
        m, o, loss, _ = step(carry[0], carry[1], batch, sub)
        carry[:] = [m, o, key]
        return float(loss)

    m = C.time_training(one, s["steps"])
    C.emit("w2_lstm", "funcdyn", dict(m, loss0_eval=loss0_eval, peak_rss_mb=C.peak_rss_mb()),
           mods=("jax", "equinox", "optax", "funcdyn"))


main()
