"""The seed tutorial's DeepRNN, trained with BPTT on a sequence task: scikit-learn's 8x8
handwritten digits read one row per time step (8 steps of 8 pixels), classified from the
output at the last step.

The network is four stacked `LSTMCell`s (num_in -> 100 -> 200 -> 200 -> 100), each followed
by `Dropout(0.2)` (which *drops* 20% of the units; BrainPy's `Dropout(0.2)` would keep only
20%), and a `Dense` readout to the 10 classes. Each layer is applied once per step, in
order (the tutorial's version applies `l2` twice and skips `l3`).

Training is `funcdyn.train.BPTT` with Adam (cosine learning-rate decay) on the
cross-entropy of the last step; the test split is a stratified third of the data. The
final line is `final test accuracy: 0.xxx`.

    python examples/deep_rnn.py [--quick] [--epochs 20] [--seed 0]
"""

import argparse
import time

import equinox as eqx
import jax
import numpy as np
import optax
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import funcdyn as fd


class DeepRNN(fd.DynamicalSystem):
    """Four LSTM layers with dropout and a dense readout; the state is a dict keyed by
    layer name (the default `init_state` gathers it)."""

    l1: fd.layers.LSTMCell
    d1: fd.layers.Dropout
    l2: fd.layers.LSTMCell
    d2: fd.layers.Dropout
    l3: fd.layers.LSTMCell
    d3: fd.layers.Dropout
    l4: fd.layers.LSTMCell
    d4: fd.layers.Dropout
    lout: fd.layers.Dense

    def __init__(self, num_in, num_out, *, dropout=0.2, mode=None, key):
        keys = jax.random.split(key, 5)
        kw = dict(mode=mode)
        self.l1 = fd.layers.LSTMCell(num_in, 100, key=keys[0], **kw)
        self.d1 = fd.layers.Dropout(dropout, **kw)
        self.l2 = fd.layers.LSTMCell(100, 200, key=keys[1], **kw)
        self.d2 = fd.layers.Dropout(dropout, **kw)
        self.l3 = fd.layers.LSTMCell(200, 200, key=keys[2], **kw)
        self.d3 = fd.layers.Dropout(dropout, **kw)
        self.l4 = fd.layers.LSTMCell(200, 100, key=keys[3], **kw)
        self.d4 = fd.layers.Dropout(dropout, **kw)
        self.lout = fd.layers.Dense(100, num_out, key=keys[4], **kw)
        self.mode = fd.training_mode if mode is None else mode

    def __call__(self, state, x, ctx):
        new = dict(state)
        for name in ("l1", "d1", "l2", "d2", "l3", "d3", "l4", "d4", "lout"):
            # Each part gets its own child context: distinct dropout masks per layer.
            new[name], x = getattr(self, name)(state[name], x, ctx.child(name))
        return new, x


def load_row_sequences(seed):
    """Digits as sequences of rows: X (n, 8, 8) in [0, 1], y (n,), stratified 2/3 : 1/3."""
    images, labels = load_digits(return_X_y=True)
    X = (images / 16.0).reshape(-1, 8, 8).astype(np.float32)
    return train_test_split(X, labels.astype(np.int32), test_size=1 / 3,
                            stratify=labels, random_state=seed)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few epochs (CI)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    epochs = 4 if args.quick else args.epochs

    X_train, X_test, y_train, y_test = load_row_sequences(args.seed)
    key = jax.random.key(args.seed)
    model_key, fit_key = jax.random.split(key)
    model = DeepRNN(8, 10, mode=fd.training_mode, key=model_key)

    loss_fn = fd.train.sequence_loss(
        fd.losses.cross_entropy_last_step, dt=1.0,
        metrics={"accuracy": fd.losses.accuracy_last_step},
    )
    steps_per_epoch = -(-len(y_train) // args.batch_size)
    schedule = optax.cosine_decay_schedule(args.lr, epochs * steps_per_epoch)
    trainer = fd.train.BPTT(model, loss_fn, optax.adam(schedule))

    def report(r):
        print(f"epoch {r.epoch + 1:2d}  train loss {r.metrics['train_loss']:.3f}  "
              f"train acc {r.metrics['train_accuracy']:.3f}  "
              f"test acc {r.metrics['test_accuracy']:.3f}", flush=True)

    started = time.perf_counter()
    trained, history = trainer.fit(
        (X_train, y_train), num_epoch=epochs, batch_size=args.batch_size,
        test_data=(X_test, y_test), key=fit_key, callbacks=[report],
    )
    elapsed = time.perf_counter() - started
    n_params = sum(a.size for a in jax.tree.leaves(eqx.filter(trained, fd.trainable(trained))))
    print(f"{n_params} trainable parameters, {elapsed:.1f} s of training")
    print(f"final test accuracy: {history['test_accuracy'][-1]:.3f}")


if __name__ == "__main__":
    main()
