"""W2 DeepRNN, hand-written pure JAX: four stacked LSTM cells [100 -> 200 -> 200 -> 200 ->
100], dropout (drop 0.2) after each, a Dense readout to 10, T = 50, batch 64.

One `lax.scan` over time whose body steps the four cells in turn (the structure of the
seed's model and of funcdyn's `Sequential`). LSTM gates in the order (i, f, g, o):

    [i, f, g, o] = x Wi + h Wh + b;  c = s(f) c + s(i) tanh(g);  h = s(o) tanh(c)

Loss: cross-entropy of the last step's readout against the labels; Adam(1e-3) on every
weight. `loss0_eval` is the loss of the initial weights without dropout (the number every
implementation must agree on).
"""

import sys

sys.path.insert(0, __import__("pathlib").Path(__file__).resolve().parents[1].as_posix())
import _common as C  # noqa: E402

args = C.parse_args(__doc__)
C.configure_jax(args.threads)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402


def main():
    s = C.SIZES["w2_lstm"][args.size]
    data = C.load_data(args, "w2_lstm")
    n_layers = len(s["sizes"]) - 1
    params = dict(
        cells=[(jnp.asarray(data[f"w_ih{k}"]), jnp.asarray(data[f"w_hh{k}"]),
                jnp.asarray(data[f"b{k}"])) for k in range(n_layers)],
        out=(jnp.asarray(data["w_out"]), jnp.asarray(data["b_out"])),
    )
    x, y = jnp.asarray(data["x"]), jnp.asarray(data["y"])
    keep = 1.0 - s["p_drop"]

    def forward(params, x, key, fit):
        b = x.shape[1]

        def step(hc, inp):
            x_t, i = inp
            keys = jax.random.split(jax.random.fold_in(key, i), n_layers)
            new = []
            for k, ((wi, wh, bias), (h, c)) in enumerate(zip(params["cells"], hc)):
                gates = x_t @ wi + h @ wh + bias
                gi, gf, gg, go = jnp.split(gates, 4, axis=-1)
                c = jax.nn.sigmoid(gf) * c + jax.nn.sigmoid(gi) * jnp.tanh(gg)
                h = jax.nn.sigmoid(go) * jnp.tanh(c)
                new.append((h, c))
                x_t = h
                if fit:
                    mask = jax.random.bernoulli(keys[k], keep, h.shape)
                    x_t = jnp.where(mask, h / keep, 0.0)
            w, bo = params["out"]
            return new, x_t @ w + bo

        hc = [(jnp.zeros((b, n)), jnp.zeros((b, n))) for n in s["sizes"][1:]]
        _, outs = jax.lax.scan(step, hc, (x, jnp.arange(x.shape[0])))
        return outs

    def loss_fn(params, x, y, key, fit):
        logits = forward(params, x, key, fit)[-1]
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    opt = optax.adam(s["lr"])

    @jax.jit
    def train_step(params, opt_state, x, y, key):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y, key, True)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    eval_loss = jax.jit(lambda p, x, y: loss_fn(p, x, y, jax.random.key(0), False))
    loss0_eval = float(eval_loss(params, x, y))
    carry = [params, opt.init(params), jax.random.key(args.seed)]

    def one():
        key, sub = jax.random.split(carry[2])
        p, o, loss = train_step(carry[0], carry[1], x, y, sub)
        carry[:] = [p, o, key]
        return float(loss)

    m = C.time_training(one, s["steps"])
    C.emit("w2_lstm", "jax", dict(m, loss0_eval=loss0_eval, peak_rss_mb=C.peak_rss_mb()),
           mods=("jax", "optax"))


main()
