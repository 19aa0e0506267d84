"""N-MNIST through tonic; first download it once: python -c "import tonic; tonic.datasets.NMNIST('data/tonic'); tonic.datasets.NMNIST('data/tonic', train=False)"

A spiking network trained with surrogate gradients on N-MNIST (MNIST digits recorded with
an event camera: 34 x 34 pixels, 2 polarities), read through tonic and
`funcdyn.data.TonicLoader`, which turns each batch of event recordings into frames
(`n_time_bins` time bins) when it is needed: the dataset is never loaded into memory.
The network is Dense -> LIF -> Dense -> leaky-integrator readout, trained with
`funcdyn.train.BPTT` on the readout's mean over time.

    python examples/tonic_nmnist.py [--data data/tonic] [--epochs 3] [--limit 6000]
    python examples/tonic_nmnist.py --synthetic --quick   # no download: synthetic events

`--synthetic` replaces N-MNIST by a small synthetic event dataset in tonic's event dtype
(each class lights its own band of pixels), so that the pipeline runs anywhere (it is
what the tests run). Prints per-epoch accuracies and `final test accuracy: ...`; writes
the history to `outputs/tonic_nmnist/history.json` (or `--out`).
"""

import argparse
import json
import os
import time

import jax
import numpy as np
import optax

import funcdyn as fd


class SyntheticEvents:
    """A tonic-style event dataset: `(events, label)` samples in tonic's event dtype."""

    sensor_size = (34, 34, 2)
    dtype = np.dtype([("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])

    def __init__(self, n, *, num_classes=10, seed=0):
        self.n, self.num_classes, self.seed = n, num_classes, seed

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        rng = np.random.default_rng([self.seed, i])
        label = int(rng.integers(self.num_classes))
        k = 300
        ev = np.zeros(k, self.dtype)
        band = 3 * label  # each class: its own band of rows, plus noise everywhere
        signal = rng.random(k) < 0.7
        ev["y"] = np.where(signal, band + rng.integers(0, 3, k), rng.integers(0, 34, k))
        ev["x"] = rng.integers(0, 34, k)
        ev["p"] = rng.integers(0, 2, k)
        ev["t"] = np.sort(rng.integers(0, 300_000, k))
        return ev, label


class Subset:
    def __init__(self, dataset, n):
        self.dataset, self.n = dataset, min(n, len(dataset))
        self.sensor_size = dataset.sensor_size

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.dataset[i]


def load(args):
    if args.synthetic:
        return SyntheticEvents(args.limit, seed=0), SyntheticEvents(args.limit // 4, seed=1)
    import tonic

    root = os.path.join(args.data, "NMNIST")
    if not os.path.isdir(root):
        raise SystemExit(
            f"N-MNIST is not in {args.data!r}. Download it once with:\n  python -c \"import "
            f"tonic; tonic.datasets.NMNIST('{args.data}'); tonic.datasets.NMNIST('{args.data}', "
            "train=False)\"\nor run with --synthetic."
        )
    train = tonic.datasets.NMNIST(args.data, train=True)
    test = tonic.datasets.NMNIST(args.data, train=False)
    return Subset(train, args.limit), Subset(test, args.limit // 4)


def build(key, num_in, hidden):
    k1, k2 = jax.random.split(key)
    with fd.training_environment():
        return (
            fd.layers.Dense(num_in, hidden, W_initializer=fd.init.KaimingNormal(scale=20.0), key=k1)
            >> fd.neurons.LIF(hidden, tau=10.0, V_th=1.0, V_reset=0.0, V_rest=0.0)
            >> fd.layers.Dense(hidden, 10, key=k2)
            >> fd.neurons.LeakyIntegrator(10, tau=5.0)
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join("data", "tonic"))
    parser.add_argument("--synthetic", action="store_true", help="synthetic events, no download")
    parser.add_argument("--quick", action="store_true", help="few samples and epochs (CI)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=6000, help="training samples used")
    parser.add_argument("--time-bins", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join("outputs", "tonic_nmnist"))
    args = parser.parse_args(argv)
    if args.quick:
        args.limit, args.epochs = min(args.limit, 384), min(args.epochs, 3)

    train_set, test_set = load(args)
    kw = dict(n_time_bins=args.time_bins)
    train = fd.data.TonicLoader(train_set, args.batch_size, seed=args.seed, **kw)
    test = fd.data.TonicLoader(test_set, args.batch_size, shuffle=False, **kw)
    num_in = int(np.prod(train_set.sensor_size))
    print(f"{type(train_set).__name__}: {len(train_set)} training / {len(test_set)} test "
          f"samples, {args.time_bins} time bins of {num_in} inputs; {train}")

    model = build(jax.random.key(args.seed), num_in, 128)
    loss = fd.train.sequence_loss(fd.losses.cross_entropy_mean_over_time, dt=1.0,
                                  metrics={"accuracy": fd.losses.accuracy_mean_over_time})
    trainer = fd.train.BPTT(model, loss, optax.adam(2e-2))

    def report(r):
        print(f"epoch {r.epoch + 1:2d}/{args.epochs}  loss {r.metrics['train_loss']:.4f}  "
              f"train acc {r.metrics['train_accuracy']:.3f}  "
              f"test acc {r.metrics['test_accuracy']:.3f}")

    start = time.perf_counter()
    _, history = trainer.fit(train, num_epoch=args.epochs, key=jax.random.key(args.seed + 1),
                             test_data=test, callbacks=[report])
    print(f"training took {time.perf_counter() - start:.1f} s")
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "history.json")
    with open(path, "w") as f:
        json.dump(history.to_dict(), f)
    print(f"history saved to {path}")
    print(f"final test accuracy: {history['test_accuracy'][-1]:.3f}")


if __name__ == "__main__":
    main()
