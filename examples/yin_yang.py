"""Yin-Yang with exact gradients: an LIF network trained on its first-spike times.

The Yin-Yang dataset (Kriener et al. 2022) is generated from its definition. Each point
`(x, y)` becomes four input spikes at latencies `t_early + v (t_late - t_early)` for
`v` in `(x, y, 1 - x, 1 - y)`, plus a bias spike. A hidden layer of LIF neurons and
three LIF output neurons (which also get a bias spike), all with exponential synapses
and each firing at most once (`tau_ref = inf`), are simulated event by event with
`funcdyn.event` (closed form, no time grid); the earliest output spike is the
prediction, and the time-to-first-spike cross-entropy is minimised with exact gradients
through the spike times.

The training recipe is the one Göltz et al. (2021) published for this task (bias
spikes into both layers, their weight initialisation, Adam with a step decay, gradient
clipping per weight matrix, weight bumping for silent hidden neurons, batch 150, 300
epochs), converted to this example's time unit (`tau_syn = 5`).

With `--grid-dt DT` the same neuron objects are also trained on the time grid (step
`DT`) with surrogate gradients, for comparison.

    python examples/yin_yang.py            # full: 5,000 train / 1,000 test points (~10 min)
    python examples/yin_yang.py --quick    # 10 epochs on 1,500 points (about 30 s)

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

# Time in units of ms-like steps with tau_syn = 5: the recipe of Göltz et al. (2021),
# whose unit is tau_syn, scaled by 5 (inputs from 0.15 to 2 tau_syn, bias at 0.9).
T_EARLY, T_LATE, T_BIAS, T1 = 0.75, 10.0, 4.5, 30.0
TAU_MEM, TAU_SYN, V_TH = 10.0, 5.0, 1.0
# Peak of the membrane response to a unit input weight here (tau_mem = 2 tau_syn): 0.25;
# with Göltz et al.'s equal time constants it is 1/e, so their weights are scaled by this.
W_SCALE = float(np.exp(-1.0) / 0.25)


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


class YinYangNet(eqx.Module):
    """Inputs and a bias spike -> LIF hidden layer; hidden spikes and a second bias
    spike -> three LIF outputs. Both layers are `funcdyn.event.Layer`s."""

    hidden: ev.Layer
    out: ev.Layer

    def __init__(self, n_hidden: int, key):
        k1, k2 = jax.random.split(key)
        self.hidden = ev.Layer(
            lif(n_hidden), 5, W_in=fd.init.Normal(1.5 * W_SCALE, 0.8 * W_SCALE),
            tau_syn=TAU_SYN, key=k1,
        )
        self.out = ev.Layer(
            lif(3), n_hidden + 1, W_in=fd.init.Normal(0.5 * W_SCALE, 0.8 * W_SCALE),
            tau_syn=TAU_SYN, key=k2,
        )

    def __call__(self, t: jax.Array) -> tuple[ev.Spikes, ev.Spikes]:
        """One sample's `(5,)` input times -> `(hidden, output)` spikes."""
        h = self.hidden(ev.SpikeTrain(t[:, None]), t0=0.0, t1=T1)
        bias = jnp.full((1, h.budget), jnp.inf).at[0, 0].set(T_BIAS)
        o = self.out(ev.SpikeTrain(jnp.concatenate([h.times, bias])), t0=0.0, t1=T1)
        return h, o


def event_first_times(net: YinYangNet, times: jax.Array):
    """`(output first spike times, V_th - V_max of the outputs, hidden first spike
    times)`, each with a leading batch axis."""

    def one(t):
        h, o = net(t)
        return o.first, V_TH - o.V_max, h.first

    return jax.vmap(one)(times)


def loss_fn(first_gap, labels: jax.Array) -> jax.Array:
    first, gap, _ = first_gap
    # Göltz et al.'s softmax temperature 0.2 tau_syn and early-spike term; a silent
    # output's time grows with how far it stayed below threshold, so that it is pulled
    # back to firing.
    return ev.ttfs_cross_entropy(
        first, labels, tau=0.2 * TAU_SYN, t_silent=T1, alpha=5e-3, beta=2.0 * TAU_SYN,
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

    def first_times(self, times: jax.Array, dt: float):
        n_steps = int(round(T1 / dt))
        steps = jnp.round(times / dt).astype(jnp.int32)
        bias_step = int(round(T_BIAS / dt))
        decay = jnp.exp(-dt / TAU_SYN)
        W_o, b_o = self.W_o[:-1], self.W_o[-1]

        def step(carry, k):
            sh, so, Ih, Io, first_h, first, vmax = carry
            x = (steps == k).astype(Ih.dtype)
            Ih = Ih * decay + x @ self.W_h
            ctx = fd.Context(t=k.astype(Ih.dtype) * dt, i=k, dt=dt)
            sh, spk_h = self.hidden(sh, Ih, ctx)
            Io = Io * decay + spk_h @ W_o + (k == bias_step) * b_o
            so, spk_o = self.out(so, Io, ctx)
            # Exact for a neuron that never fires (the only case where the gap is read).
            vmax = jnp.maximum(vmax, so.V)
            # Each neuron fires at most once (tau_ref = inf): the first spike time is
            # the spike-weighted time, differentiable through the surrogate.
            t_k = (k + 1) * dt - T1
            first_h = first_h + jax.lax.stop_gradient(spk_h) * t_k
            first = first + spk_o * t_k
            return (sh, so, Ih, Io, first_h, first, vmax), None

        n_h = self.W_h.shape[1]
        init = (
            self.hidden.init_state(), self.out.init_state(), jnp.zeros(n_h), jnp.zeros(3),
            jnp.zeros(n_h), jnp.zeros(3), jnp.zeros(3),
        )
        (_, _, _, _, first_h, first, vmax), _ = jax.lax.scan(step, init, jnp.arange(n_steps))

        # `first` is sum_k s_k (t_k - T1): T1 for silent neurons.
        def finite(f):
            t = T1 + f
            return jnp.where(t < T1 - 0.5 * dt, t, jnp.inf)

        return finite(first), V_TH - vmax, finite(first_h)


def grid_from_event(net: YinYangNet) -> GridNet:
    return GridNet(net.hidden.W_in, net.out.W_in, net.hidden.neuron, net.out.neuron)


def event_weights(net: YinYangNet):
    return net.hidden.W_in, net.out.W_in


def grid_weights(net: GridNet):
    return net.W_h, net.W_o


def weights_only(model, get_weights):
    """The filter spec that trains the weights and leaves the neurons' constants alone."""
    spec = jax.tree.map(lambda _: False, model)
    return eqx.tree_at(get_weights, spec, replace_fn=lambda _: True)


def clip_each_by_norm(max_norm: float) -> optax.GradientTransformation:
    """Scales each weight matrix's gradient down to norm `max_norm` when it is larger
    (Göltz et al.'s `max_dw_norm`): a spike that grazes the threshold (dV/dt near 0 at
    the crossing) has a large exact gradient, dt*/dw = -(dV/dw) / (dV/dt)."""

    def clip(g):
        norm = jnp.sqrt(jnp.sum(g * g))
        return g * jnp.minimum(1.0, max_norm / jnp.maximum(norm, 1e-30))

    return optax.stateless(lambda updates, params=None: jax.tree.map(clip, updates))


def train(first_fn, params, spec, get_weights, x_tr, y_tr, x_te, y_te, *, epochs, batch, lr,
          seed, log, max_minutes=None, schedule="cosine", bump=1e-3, max_silent_hidden=0.3,
          max_silent_correct=0.0):
    """Adam with per-matrix gradient clipping and a learning rate that decays over the
    run: `"cosine"` to 1 % of `lr` at the end (the final weights settle instead of
    jumping between nearby solutions at the last epochs' rate), or `"step"`, Göltz et
    al.'s x0.95 every 20 epochs.

    Weight bumping (Göltz et al.), instead of a gradient step: silent neurons get no
    gradient through spike times. When more than `max_silent_correct` of a batch's
    samples leave their correct output silent (`None`: never), the input weights of
    those outputs are raised by `bump`; otherwise, when more than `max_silent_hidden`
    of the hidden first spikes are missing, those of the silent hidden neurons are.
    Without the output bumping the loss can be lowered by a sample whose outputs all
    stay silent, the correct one closest to threshold (its `silent_gap` term), which
    counts as an error: 0.89 test accuracy instead of 0.96 in the full run."""
    steps_per_epoch = len(x_tr) // batch
    if schedule == "cosine":
        rate = optax.cosine_decay_schedule(lr, decay_steps=epochs * steps_per_epoch, alpha=0.01)
    elif schedule == "step":
        rate = optax.exponential_decay(
            lr, transition_steps=20 * steps_per_epoch, decay_rate=0.95, staircase=True
        )
    else:
        raise ValueError(f"train: `schedule` must be 'cosine' or 'step', got {schedule!r}.")
    opt = optax.chain(clip_each_by_norm(0.2), optax.adam(rate))
    state = opt.init(eqx.filter(params, spec))

    @eqx.filter_jit
    def step(params, state, xb, yb):
        diff, static = eqx.partition(params, spec)

        def f(d):
            out = first_fn(eqx.combine(d, static), xb)
            return loss_fn(out, yb), out

        (loss, (first, _, first_h)), g = eqx.filter_value_and_grad(f, has_aux=True)(diff)
        updates, new_state = opt.update(g, state, diff)
        learned = eqx.apply_updates(params, updates)
        miss_h = ~jnp.isfinite(first_h)
        miss_o = ~jnp.isfinite(first)
        # A wrong class falling silent is what the loss asks for; only an output that
        # stays silent on its own class (beyond `max_silent_correct` of the batch) is
        # bumped.
        miss_own = miss_o & jax.nn.one_hot(yb, 3, dtype=bool)
        if max_silent_correct is None:
            bump_o = jnp.zeros((), bool)
        else:
            bump_o = miss_own.any(-1).mean() > max_silent_correct
        bump_h = ~bump_o & (miss_h.mean() > max_silent_hidden)
        W_h, W_o = get_weights(params)
        bumped = eqx.tree_at(
            get_weights, params,
            (W_h + bump * (bump_h & miss_h.any(0)), W_o + bump * (bump_o & miss_own.any(0))),
        )
        bumping = bump_o | bump_h
        def select(a, b):
            return jax.tree.map(lambda u, v: jnp.where(bumping, u, v) if eqx.is_array(u) else u,
                                a, b)

        params, state = select(bumped, learned), select(state, new_state)
        return params, state, loss, bumping

    @eqx.filter_jit
    def accuracy(params, x, y):
        first = first_fn(params, x)[0]
        pred = ev.first_spike_prediction(first)
        ok = (pred == y) & jnp.isfinite(first).any(-1)
        return ok.mean()

    rng = np.random.default_rng(seed)
    n = len(x_tr)
    start = time.perf_counter()
    for epoch in range(epochs):
        order = rng.permutation(n)
        losses, bumps = [], 0
        for b in range(0, n - batch + 1, batch):
            idx = order[b : b + batch]
            params, state, loss, bumping = step(params, state, x_tr[idx], y_tr[idx])
            losses.append(float(loss))
            bumps += int(bumping)
        over = max_minutes is not None and time.perf_counter() - start > 60 * max_minutes
        if log and (epoch % max(1, epochs // 10) == 0 or epoch == epochs - 1 or over):
            acc = float(accuracy(params, x_te, y_te))
            acc_tr = float(accuracy(params, x_tr[: len(x_te)], y_tr[: len(x_te)]))
            print(f"  epoch {epoch + 1:3d}  loss {np.mean(losses):.4f}  train acc {acc_tr:.3f}"
                  f"  test acc {acc:.3f}  bumped batches {bumps}", flush=True)
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
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--schedule", choices=("cosine", "step"), default="cosine",
                   help="learning-rate decay: cosine to 1%% of --lr, or x0.95 every 20 epochs")
    p.add_argument("--max-silent-correct", type=float, default=0.0,
                   help="bump an output's weights when more than this fraction of a batch "
                   "leaves the correct output silent (default 0: any)")
    p.add_argument("--bump", type=float, default=1e-3,
                   help="the weight increase of a bumped (silent) neuron's inputs")
    p.add_argument("--grid-only", action="store_true",
                   help="train only the time-grid path(s) of --grid-dt")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="stop each training run after this wall time (reported)")
    p.add_argument("--grid-dt", type=float, nargs="*", default=[],
                   help="also train the time-grid surrogate path at these dt")
    args = p.parse_args(argv)
    quick = args.quick
    epochs = args.epochs or (10 if quick else 300)
    n_hidden = args.hidden or (60 if quick else 120)
    n_train = args.n_train or (1500 if quick else 5000)
    n_test = args.n_test or (300 if quick else 1000)
    lr = args.lr or (1e-2 if quick else 5e-3)
    batch = args.batch or (50 if quick else 150)
    args.out.mkdir(parents=True, exist_ok=True)

    xy_tr, y_tr = ev.yin_yang(n_train, seed=1000 + args.seed)
    xy_te, y_te = ev.yin_yang(n_test, seed=2000 + args.seed)
    x_tr, x_te = jnp.asarray(encode(xy_tr)), jnp.asarray(encode(xy_te))
    y_tr, y_te = jnp.asarray(y_tr), jnp.asarray(y_te)

    net0 = YinYangNet(n_hidden, jax.random.key(args.seed))
    print(f"Yin-Yang: {n_train} train / {n_test} test points, 5-{n_hidden}-3 LIF network, "
          f"{epochs} epochs, seed {args.seed}")
    common = {"epochs": epochs, "batch": batch, "lr": lr, "seed": args.seed, "log": True,
              "max_minutes": args.max_minutes, "schedule": args.schedule,
              "max_silent_correct": args.max_silent_correct, "bump": args.bump}
    if args.grid_only and not args.grid_dt:
        p.error("--grid-only needs --grid-dt")
    acc = None
    if not args.grid_only:
        print("event-driven, exact gradients:")
        net, acc, secs, _ = train(
            event_first_times, net0, weights_only(net0, event_weights), event_weights,
            x_tr, y_tr, x_te, y_te, **common,
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
            fn, grid0, weights_only(grid0, grid_weights), grid_weights,
            x_tr, y_tr, x_te, y_te, **common,
        )
        print(f"time grid dt={dt}: test accuracy {acc_g:.4f}, training time {secs_g:.1f} s")
    if acc is not None:
        print(f"final test accuracy: {acc:.4f}")
        print(f"wrote {args.out / 'first_spikes.png'}")


if __name__ == "__main__":
    main()
