"""e-prop against BPTT on the digits SNN: the same recurrent LIF network, the same
objective, trained once with each method, over several seeds.

The data are scikit-learn's 8x8 handwritten digits (bundled: nothing is downloaded),
split two-thirds / one-third, stratified. Each image is turned into spikes by
`funcdyn.encoding.LatencyEncoder` (each pixel fires once, brighter pixels earlier) over
`--steps` steps of 1 ms. The network is an `funcdyn.train.EPropNetwork`: 64 inputs ->
`--hidden` recurrent LIF neurons (subtractive reset) -> a leaky readout of 10 units. The
objective is the mean over time of the per-step cross-entropy of the readout, and the
prediction the class of the largest time-averaged readout.

- e-prop: `ForwardTrainer(method="eprop")`, symmetric feedback, one update per batch;
- BPTT: `funcdyn.train.BPTT` on `trainer.bptt_loss()`, the same objective.

Both use Adam with the same learning rate and batches. It prints the test accuracy of
each method and seed, their means, and ends with `accuracy gap (BPTT - e-prop): x.x
points`. Results go to `--out` (`results.json`).

    python examples/eprop_digits.py [--seeds 3] [--epochs 20] [--out outputs/eprop_digits]
                                    [--quick]
"""

import argparse
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import funcdyn as fd
from funcdyn import train


def encode(images, num_steps):
    encoder = fd.encoding.LatencyEncoder(tau=0.8 * (num_steps - 1), threshold=0.05,
                                         min_val=0.0, max_val=16.0)
    held = jnp.repeat(jnp.asarray(images)[:, None, :], num_steps, axis=1)
    _, spikes, _ = fd.run(encoder, held, dt=1.0, time_major=False)
    return np.asarray(spikes, np.float32)


def load(seed, num_steps):
    images, labels = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(images.astype(np.float32),
                                              labels.astype(np.int32), test_size=1 / 3,
                                              stratify=labels, random_state=seed)
    return encode(X_tr, num_steps), encode(X_te, num_steps), y_tr, y_te


def input_weights(key, shape):
    """Strong random input weights: a latency-coded digit is only ~30 spikes."""
    return 5.0 * jax.random.normal(key, shape)


def build(hidden, key):
    cell = fd.neurons.LIF(hidden, tau=10.0, V_th=1.0, V_reset=0.0, reset="subtract",
                          spike_fn=fd.surrogate.InverseSquare(alpha=5.0),
                          mode=fd.batching_mode)
    return train.EPropNetwork(cell, 64, 10, tau_out=10.0, mode=fd.training_mode, key=key,
                              W_in_initializer=input_weights,
                              W_rec_initializer=fd.init.KaimingNormal(scale=0.5))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--out", default=os.path.join("outputs", "eprop_digits"))
    parser.add_argument("--quick", action="store_true", help="one seed, few epochs (CI)")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.epochs, args.hidden = 1, 4, 64
    os.makedirs(args.out, exist_ok=True)
    opt = optax.adam(args.lr)
    metrics = {"accuracy": fd.losses.accuracy_mean_over_time}
    results = {"eprop": [], "bptt": []}
    for seed in range(args.seeds):
        X_tr, X_te, y_tr, y_te = load(seed, args.steps)
        net = build(args.hidden, jax.random.key(seed))
        key = jax.random.key(1000 + seed)
        fit = dict(num_epoch=args.epochs, batch_size=args.batch_size, key=key,
                   test_data=(X_te, y_te))
        started = time.perf_counter()
        eprop = train.ForwardTrainer(net, fd.losses.cross_entropy, opt, method="eprop",
                                     metrics=metrics)
        _, h_e = eprop.fit((X_tr, y_tr), **fit)
        t_e = time.perf_counter() - started
        started = time.perf_counter()
        bptt = train.BPTT(net, eprop.bptt_loss(), opt)
        _, h_b = bptt.fit((X_tr, y_tr), **fit)
        t_b = time.perf_counter() - started
        acc_e, acc_b = float(h_e["test_accuracy"][-1]), float(h_b["test_accuracy"][-1])
        results["eprop"].append(acc_e)
        results["bptt"].append(acc_b)
        print(f"seed {seed}: e-prop test accuracy {acc_e:.3f} ({t_e:.0f} s), "
              f"BPTT test accuracy {acc_b:.3f} ({t_b:.0f} s)")
    mean_e, mean_b = np.mean(results["eprop"]), np.mean(results["bptt"])
    gap = 100 * (mean_b - mean_e)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({**results, "epochs": args.epochs, "hidden": args.hidden,
                   "gap_points": gap}, f, indent=1)
    print(f"e-prop mean test accuracy: {mean_e:.3f}")
    print(f"BPTT mean test accuracy: {mean_b:.3f}")
    print(f"accuracy gap (BPTT - e-prop): {gap:.1f} points")


if __name__ == "__main__":
    main()
