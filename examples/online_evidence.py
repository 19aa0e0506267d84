"""Learning online on one long stream: evidence accumulation with e-prop.

A recurrent network of adaptive LIF neurons (`funcdyn.neurons.ALIF`, in an
`funcdyn.train.EPropNetwork`) watches an endless stream of trials, generated here. In
each trial two input channels fire Poisson spikes for `cue` steps, one (the "correct"
side, drawn at random) more often than the other; then, after a silent `delay`, a "go"
channel turns on for `decision` steps, during which the readout must report the side
that fired more. The state is never reset: the whole stream, `--steps` steps (100,000 by
default) for each of `--streams` parallel streams, is one sequence.

The network learns while it runs, with `ForwardTrainer(method="eprop", k=trial length)`:
eligibility traces forward in time and one Adam update per trial. The stream is fed in
chunks with `trainer.run_stream`, which carries the state, the traces and the optimizer
on from one chunk to the next. Memory does not depend on the stream's length; for
comparison the script asks XLA how much memory the BPTT gradient of the same stream
would need (the compiled program's temporary buffers; it is compiled, not run).

It prints the decision accuracy of each block of trials, saves the learning curve in
`--out`, and ends with the lines `final accuracy: 0.xx`, `e-prop memory: x MB` and
`BPTT memory for the same stream: x MB`.

    python examples/online_evidence.py [--steps 100000] [--streams 16] [--seed 0]
                                       [--out outputs/online_evidence] [--quick]
"""

import argparse
import json
import os
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import funcdyn as fd
from funcdyn import train

CUE, DELAY, DECISION = 100, 20, 30
TRIAL = CUE + DELAY + DECISION
PER_SIDE = 10  # input neurons per side
P_HIGH, P_LOW = 0.05, 0.01  # spike probability per step of the two sides' inputs
NUM_IN = 2 * PER_SIDE + 1


def make_stream(key, streams: int, num_trials: int):
    """Inputs `(streams, T, 21)` (10 left, 10 right, go) and per-step targets: the side
    (0 or 1) and a weight that is 1 during the decision period only."""
    k_side, k_spikes = jax.random.split(key)
    side = jax.random.bernoulli(k_side, 0.5, (streams, num_trials)).astype(jnp.int32)
    rates = jnp.where(jax.nn.one_hot(side, 2) > 0, P_HIGH, P_LOW)  # (S, trials, 2)
    rates = jnp.repeat(rates, PER_SIDE, axis=-1)
    phase = jnp.arange(TRIAL)
    cue = (phase < CUE).astype(jnp.float32)
    go = (phase >= CUE + DELAY).astype(jnp.float32)
    p = rates[:, :, None, :] * cue[None, None, :, None]  # (S, trials, TRIAL, 20)
    spikes = jax.random.bernoulli(k_spikes, p).astype(jnp.float32)
    go_channel = jnp.broadcast_to(go[None, None, :, None], spikes.shape[:3] + (1,))
    x = jnp.concatenate([spikes, go_channel], axis=-1).reshape(streams, -1, NUM_IN)
    label = jnp.repeat(side, TRIAL, axis=1)
    weight = jnp.broadcast_to(go[None, None], side.shape + (TRIAL,)).reshape(streams, -1)
    return x, {"label": label, "weight": weight}, side


def decision_loss(y, target):
    """Cross-entropy at decision steps only (the weight is 0 elsewhere), batch mean,
    scaled so that a trial's decision period weighs as much as a whole trial."""
    logp = jax.nn.log_softmax(y, axis=-1)
    nll = -jnp.take_along_axis(logp, target["label"][:, None], axis=-1)[:, 0]
    return jnp.mean(target["weight"] * nll) * (TRIAL / DECISION)


def input_weights(key, shape):
    """Excitatory cue inputs with random strengths (so that neurons prefer one side or
    the other), and a random-sign go input."""
    w = 2.0 + jax.random.normal(key, shape)
    return w.at[-1].multiply(0.5)


def build(hidden: int, key):
    cell = fd.neurons.ALIF(hidden, tau=20.0, tau_a=jnp.linspace(200.0, 2000.0, hidden),
                           beta=0.5, V_th=0.5, spike_fn=fd.surrogate.InverseSquare(alpha=5.0),
                           mode=fd.batching_mode)
    return train.EPropNetwork(cell, NUM_IN, 2, tau_out=20.0, mode=fd.training_mode, key=key,
                              W_in_initializer=input_weights,
                              W_rec_initializer=fd.init.KaimingNormal(scale=0.5))


def accuracy_per_trial(ys, side):
    """Decision of each trial: the side of the larger mean readout over its decision
    period."""
    S = ys.shape[0]
    ys = np.asarray(ys).reshape(S, -1, TRIAL, 2)[:, :, CUE + DELAY:]
    return (ys.mean(axis=2).argmax(-1) == np.asarray(side)).astype(float)


def bptt_memory(trainer, model, x, y):
    """Bytes of temporary buffers of the compiled BPTT gradient over the whole stream."""
    loss = trainer.bptt_loss()
    params, rest = train.partition_trainable(model)

    def grad(p, x, y):
        return jax.grad(lambda p: loss(eqx.combine(p, rest), (x, y), None)[0])(p)

    x_s = jax.ShapeDtypeStruct(x.shape, x.dtype)
    y_s = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), y)
    compiled = jax.jit(grad).lower(params, x_s, y_s).compile()
    return compiled.memory_analysis().temp_size_in_bytes


def save_figure(path, curve, block):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    trials = (np.arange(len(curve)) + 1) * block
    ax.plot(trials, curve, marker="o", ms=3)
    ax.axhline(0.5, color="grey", ls="--", lw=0.8, label="chance")
    ax.set(xlabel="trials seen (per stream)", ylabel="decision accuracy", ylim=(0.3, 1.02),
           title="e-prop, online on one stream (ALIF network)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100_000, help="length of the stream")
    parser.add_argument("--streams", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--chunk-trials", type=int, default=20, help="trials per chunk")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join("outputs", "online_evidence"))
    parser.add_argument("--quick", action="store_true", help="a short stream (CI)")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.streams, args.hidden = 120 * TRIAL, 16, 32
    os.makedirs(args.out, exist_ok=True)
    num_trials = max(1, args.steps // TRIAL)
    key = jax.random.key(args.seed)
    k_model, k_data = jax.random.split(key)
    model = build(args.hidden, k_model)
    x, y, side = make_stream(k_data, args.streams, num_trials)
    T = x.shape[1]
    trainer = train.ForwardTrainer(model, decision_loss, optax.adam(args.lr), method="eprop",
                                   k=TRIAL, targets="step")
    print(f"stream: {args.streams} x {T} steps ({num_trials} trials of {TRIAL} steps), "
          f"{args.hidden} ALIF neurons")
    carry = trainer.init(model, args.streams)
    chunk = args.chunk_trials * TRIAL
    curve, started = [], time.perf_counter()
    for start in range(0, T, chunk):
        stop = min(T, start + chunk)
        xs = x[:, start:stop]
        ts = jax.tree.map(lambda a, lo=start, hi=stop: a[:, lo:hi], y)
        model, carry, ys, _ = trainer.run_stream(model, carry, xs, ts)
        acc = accuracy_per_trial(ys, side[:, start // TRIAL: stop // TRIAL]).mean()
        curve.append(float(acc))
        print(f"trials {start // TRIAL + 1:5d}-{stop // TRIAL:5d}: accuracy {acc:.3f}")
    elapsed = time.perf_counter() - started
    eprop_bytes = trainer.memory_estimate(args.streams, model=model)
    bptt_bytes = bptt_memory(trainer, model, x, y)
    final = float(np.mean(curve[-max(1, len(curve) // 5):]))
    save_figure(os.path.join(args.out, "learning_curve.png"), curve, args.chunk_trials)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"curve": curve, "final_accuracy": final, "steps": int(T),
                   "eprop_trace_bytes": eprop_bytes, "bptt_temp_bytes": bptt_bytes,
                   "updates": int(carry.updates), "time_s": elapsed}, f, indent=1)
    print(f"{int(carry.updates)} online updates in {elapsed:.1f} s "
          f"({1e6 * elapsed / T:.1f} us per step of {args.streams} streams)")
    print(f"e-prop memory: {eprop_bytes / 2**20:.2f} MB (traces; independent of the length)")
    print(f"BPTT memory for the same stream: {bptt_bytes / 2**20:.1f} MB "
          f"({bptt_bytes / max(eprop_bytes, 1):.0f}x; it grows with the length)")
    print(f"final accuracy: {final:.3f}")


if __name__ == "__main__":
    main()
