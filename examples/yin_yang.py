"""Yin-Yang with exact gradients: an LIF network trained on its first-spike times.

The Yin-Yang dataset (Kriener et al. 2022) is generated from its definition. Each point
`(x, y)` becomes four input spikes at latencies `t_early + v (t_late - t_early)` for
`v` in `(x, y, 1 - x, 1 - y)`, plus a bias spike. A hidden layer of LIF neurons and
three LIF output neurons, all with exponential synapses and each firing at most once
(`tau_ref = inf`), are simulated event by event with `funcdyn.event` (closed form, no
time grid); the earliest output spike is the prediction, and the time-to-first-spike
cross-entropy is minimised with exact gradients through the spike times.

With `--grid-dt DT` the same neuron objects are also trained on the time grid (step
`DT`) with surrogate gradients, for comparison.

    python examples/yin_yang.py            # full: 5,000 train / 1,000 test points
    python examples/yin_yang.py --quick    # a few epochs on a subset (about a minute)

Writes `outputs/yin_yang/first_spikes.png` (or under `--out DIR`) and prints the final
test accuracy.
"""

import argparse
import pathlib
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import funcdyn as fd
from funcdyn import event as ev

T_EARLY, T_LATE, T_BIAS, T1 = 2.0, 12.0, 2.0, 40.0
TAU_MEM, TAU_SYN, V_TH = 10.0, 5.0, 1.0


def encode(xy: np.ndarray) -> np.ndarray:
    """`(n, 5)` input spike times: latencies of `(x, y, 1-x, 1-y)` and a bias spike."""
    v = np.concatenate([xy, 1.0 - xy], axis=1)
    t = T_EARLY + v * (T_LATE - T_EARLY)
    return np.concatenate([t, np.full((len(xy), 1), T_BIAS)], axis=1)


def lif(n: int) -> fd.neurons.LIF:
    # tau_ref = inf: each neuron fires at most once per trial, on the grid as here.
    return fd.neurons.LIF(
        n, tau=TAU_MEM, V_rest=0.0, V_reset=0.0, V_th=V_TH, tau_ref=float("inf")
    )


def build(n_hidden: int, key) -> ev.Network:
    k1, k2 = jax.random.split(key)
    hidden = ev.Layer(
        lif(n_hidden), 5, W_in=fd.init.Normal(scale=2.0, mean=1.5), tau_syn=TAU_SYN, key=k1
    )
    out = ev.Layer(
        lif(3), n_hidden, W_in=fd.init.Normal(scale=0.3, mean=0.4 * 30 / n_hidden),
        tau_syn=TAU_SYN, key=k2,
    )
    return ev.Network([hidden, out], t0=0.0, t1=T1)


def event_first_times(net: ev.Network, times: jax.Array) -> tuple[jax.Array, jax.Array]:
    """`(first spike times, V_th - V_max)` of the outputs, `(batch, 3)` each."""

    def one(t):
        _, out = net(ev.SpikeTrain(t[:, None]))
        return out.first, V_TH - out.V_max

    return jax.vmap(one)(times)


def loss_fn(first_gap, labels: jax.Array) -> jax.Array:
    first, gap = first_gap
    # A silent output's time grows with how far it stayed below threshold, so that an
    # output silenced by a large step can be pulled back.
    return ev.ttfs_cross_entropy(
        first, labels, tau=2.0, t_silent=T1, alpha=3e-3, beta=10.0,
        silent_gap=gap, gap_scale=10.0,
    ).mean()


# -- the same neurons on the time grid, with surrogate gradients --------------------


class GridNet(eqx.Module):
    """The event network's neurons and weights run on a time grid of step `dt`: input
    spikes at the nearest grid step, exponential synapses, the neurons' own step."""

    W_h: jax.Array
    W_o: jax.Array
    hidden: fd.neurons.LIF
    out: fd.neurons.LIF

    def first_times(self, times: jax.Array, dt: float) -> tuple[jax.Array, jax.Array]:
        n_steps = int(round(T1 / dt))
        steps = jnp.round(times / dt).astype(jnp.int32)
        decay = jnp.exp(-dt / TAU_SYN)

        def step(carry, k):
            sh, so, Ih, Io, first, vmax = carry
            x = (steps == k).astype(Ih.dtype)
            Ih = Ih * decay + x @ self.W_h
            ctx = fd.Context(t=k.astype(Ih.dtype) * dt, i=k, dt=dt)
            sh, spk_h = self.hidden(sh, Ih, ctx)
            Io = Io * decay + spk_h @ self.W_o
            so, spk_o = self.out(so, Io, ctx)
            # Exact for a neuron that never fires (the only case where the gap is read).
            vmax = jnp.maximum(vmax, so.V)
            # Each neuron fires at most once (tau_ref = inf): the first spike time is
            # the spike-weighted time, differentiable through the surrogate.
            first = first + spk_o * ((k + 1) * dt - T1)
            return (sh, so, Ih, Io, first, vmax), None

        init = (
            self.hidden.init_state(), self.out.init_state(),
            jnp.zeros(self.W_h.shape[1]), jnp.zeros(3), jnp.zeros(3), jnp.zeros(3),
        )
        (_, _, _, _, first, vmax), _ = jax.lax.scan(step, init, jnp.arange(n_steps))
        # `first` is sum_k s_k (t_k - T1): T1 for silent neurons.
        t = T1 + first
        return jnp.where(t < T1 - 0.5 * dt, t, jnp.inf), V_TH - vmax


def grid_from_event(net: ev.Network) -> GridNet:
    h, o = net.layers
    return GridNet(h.W_in, o.W_in, h.neuron, o.neuron)


def weights_only(model, get_weights):
    """The filter spec that trains the weights and leaves the neurons' constants alone."""
    spec = jax.tree.map(lambda _: False, model)
    return eqx.tree_at(get_weights, spec, replace_fn=lambda _: True)


def train(first_fn, params, spec, x_tr, y_tr, x_te, y_te, *, epochs, batch, lr, seed, log,
          max_minutes=None):
    # A spike that grazes the threshold (dV/dt near 0 at the crossing) has a large
    # exact gradient, dt*/dw = -(dV/dw) / (dV/dt): clipping keeps one such sample from
    # throwing the network into silence.
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(lr))
    state = opt.init(eqx.filter(params, spec))

    @eqx.filter_jit
    def step(params, state, xb, yb):
        diff, static = eqx.partition(params, spec)

        def f(d):
            return loss_fn(first_fn(eqx.combine(d, static), xb), yb)

        loss, g = eqx.filter_value_and_grad(f)(diff)
        updates, state = opt.update(g, state, diff)
        return eqx.apply_updates(params, updates), state, loss

    @eqx.filter_jit
    def accuracy(params, x, y):
        first, _ = first_fn(params, x)
        pred = ev.first_spike_prediction(first)
        ok = (pred == y) & jnp.isfinite(first).any(-1)
        return ok.mean()

    rng = np.random.default_rng(seed)
    n = len(x_tr)
    start = time.perf_counter()
    for epoch in range(epochs):
        order = rng.permutation(n)
        losses = []
        for b in range(0, n - batch + 1, batch):
            idx = order[b : b + batch]
            params, state, loss = step(params, state, x_tr[idx], y_tr[idx])
            losses.append(float(loss))
        over = max_minutes is not None and time.perf_counter() - start > 60 * max_minutes
        if log and (epoch % max(1, epochs // 10) == 0 or epoch == epochs - 1 or over):
            acc = float(accuracy(params, x_te, y_te))
            print(f"  epoch {epoch + 1:3d}  loss {np.mean(losses):.4f}  test acc {acc:.3f}",
                  flush=True)
        if over:
            print(f"  stopped after {epoch + 1} of {epochs} epochs (--max-minutes {max_minutes})")
            break
    seconds = time.perf_counter() - start
    return params, float(accuracy(params, x_te, y_te)), seconds, accuracy


def plot_first_spikes(first: np.ndarray, labels: np.ndarray, path: pathlib.Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2), sharey=True)
    names = ["yang", "yin", "dot"]
    for c, ax in enumerate(axes):
        sel = first[labels == c]
        for k in range(3):
            t = sel[:, k]
            t = np.where(np.isfinite(t), t, T1)
            ax.hist(t, bins=40, range=(0, T1), alpha=0.6, label=f"output {names[k]}")
        ax.set_title(f"true class: {names[c]}")
        ax.set_xlabel("first spike time (silent at t1)")
    axes[0].set_ylabel("samples")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a few epochs on a subset")
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("outputs/yin_yang"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--hidden", type=int, default=None)
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--n-test", type=int, default=None)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--max-minutes", type=float, default=None,
                   help="stop each training run after this wall time (reported)")
    p.add_argument("--grid-dt", type=float, nargs="*", default=[],
                   help="also train the time-grid surrogate path at these dt")
    args = p.parse_args(argv)
    quick = args.quick
    epochs = args.epochs or (12 if quick else 100)
    n_hidden = args.hidden or (30 if quick else 120)
    n_train = args.n_train or (600 if quick else 5000)
    n_test = args.n_test or (300 if quick else 1000)
    lr = args.lr or (3e-3 if quick else 2e-3)
    args.out.mkdir(parents=True, exist_ok=True)

    xy_tr, y_tr = ev.yin_yang(n_train, seed=1000 + args.seed)
    xy_te, y_te = ev.yin_yang(n_test, seed=2000 + args.seed)
    x_tr, x_te = jnp.asarray(encode(xy_tr)), jnp.asarray(encode(xy_te))
    y_tr, y_te = jnp.asarray(y_tr), jnp.asarray(y_te)

    net0 = build(n_hidden, jax.random.key(args.seed))
    print(f"Yin-Yang: {n_train} train / {n_test} test points, 5-{n_hidden}-3 LIF network, "
          f"{epochs} epochs, seed {args.seed}")
    print("event-driven, exact gradients:")
    net, acc, secs, accuracy = train(
        event_first_times, net0,
        weights_only(net0, lambda n: tuple(layer.W_in for layer in n.layers)),
        x_tr, y_tr, x_te, y_te,
        epochs=epochs, batch=args.batch, lr=lr, seed=args.seed, log=True,
        max_minutes=args.max_minutes,
    )
    first = np.asarray(eqx.filter_jit(event_first_times)(net, x_te)[0])
    silent = float(np.mean(~np.isfinite(first).any(-1)))
    plot_first_spikes(first, np.asarray(y_te), args.out / "first_spikes.png")
    print(f"event-driven: test accuracy {acc:.4f}, training time {secs:.1f} s, "
          f"samples with no output spike {silent:.3f}")

    for dt in args.grid_dt:
        grid0 = grid_from_event(net0)
        fn = lambda g, x, dt=dt: jax.vmap(lambda t: g.first_times(t, dt))(x)
        print(f"time grid dt={dt}, surrogate gradients:")
        _, acc_g, secs_g, _ = train(
            fn, grid0, weights_only(grid0, lambda g: (g.W_h, g.W_o)), x_tr, y_tr, x_te, y_te,
            epochs=epochs, batch=args.batch, lr=lr, seed=args.seed, log=True,
            max_minutes=args.max_minutes,
        )
        print(f"time grid dt={dt}: test accuracy {acc_g:.4f}, training time {secs_g:.1f} s")
    print(f"final test accuracy: {acc:.4f}")
    print(f"wrote {args.out / 'first_spikes.png'}")


if __name__ == "__main__":
    main()
