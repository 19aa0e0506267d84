"""Train a spiking neural network with surrogate gradients on handwritten digits.

The network is the seed tutorial's surrogate-gradient SNN (Neftci, Mostafa & Zenke 2019):

    InputGroup(64) -> Exponential synapse (tau 10 ms, g_max ~ KaimingNormal(scale=20))
                   -> LIF(200; tau 10 ms, V_th 1, V_reset 0)
                   -> Exponential synapse (tau 10 ms)
                   -> LeakyIntegrator(10; tau 5 ms)    # the output: membrane potentials

The data are scikit-learn's 8x8 handwritten digits (1,797 images bundled with
scikit-learn: nothing is downloaded), split into a stratified two-thirds training set and
one-third test set. Each image is held for `T` steps of 1 ms and turned into spikes by an
encoder layer in front of the network:

- `latency` (default, `funcdyn.encoding.LatencyEncoder`): each pixel fires once,
  brighter pixels earlier; nearly blank pixels never;
- `rate` (`funcdyn.encoding.PoissonEncoder`): each pixel fires at every step with a
  probability proportional to its brightness (at most 0.5), drawn from the step's key,
  so every batch sees new spikes.

The loss is the cross-entropy of the readout's maximum potential over time. The spike is a
Heaviside step forward and a surrogate derivative backward, and the whole sequence is one
`lax.scan` differentiated end to end (BPTT) by `funcdyn.train.BPTT` with Adam. As in the
seed, the synaptic weights are trained; time constants and thresholds stay fixed.

It prints the train and test accuracy of every epoch (and shows a progress bar in a
terminal), saves a figure (loss curve, a spike raster of the hidden layer, membrane
potentials) in `--out`, and ends with the line `final test accuracy: 0.9xx`.

    python examples/train_snn.py [--epochs 30] [--encoding latency|rate] [--seed 0]
                                 [--out outputs/train_snn] [--quick]
"""

import argparse
import os
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import funcdyn as fd

NUM_IN, NUM_OUT = 64, 10
HIDDEN = 3            # position of the LIF layer in the model (its state is state[HIDDEN])
SYNAPSES = (2, 4)     # positions of the two synapses
# The surrogate's width matches the scale of V - V_th here (threshold 1); InverseSquare's
# default alpha = 100 suits millivolt-scale potentials.
SURROGATE_ALPHA = 10.0


def build_snn(num_hidden: int, encoding: str, num_steps: int, *, key) -> fd.Sequential:
    """The encoder and the seed's SNN, in training mode. The model's input at every step is
    the raw image (pixel values 0-16); its state is the tuple of the layers' states; its
    output is the readout's membrane potential."""
    k1, k2 = jax.random.split(key)
    with fd.training_environment():
        if encoding == "latency":
            # Spike times from 0 to 0.8 (T - 1) ms, brightest first; pixels < 5% silent.
            encoder = fd.encoding.LatencyEncoder(tau=0.8 * (num_steps - 1), threshold=0.05,
                                                 min_val=0.0, max_val=16.0)
        else:
            encoder = fd.encoding.PoissonEncoder(min_val=0.0, max_val=32.0)  # p <= 0.5
        return (
            encoder
            >> fd.neurons.InputGroup(NUM_IN)
            >> fd.synapses.Exponential(NUM_IN, num_hidden, tau=10.0,
                                       g_max=fd.init.KaimingNormal(scale=20.0), key=k1)
            >> fd.neurons.LIF(num_hidden, tau=10.0, V_rest=0.0, V_reset=0.0, V_th=1.0,
                              spike_fn=fd.surrogate.InverseSquare(alpha=SURROGATE_ALPHA))
            >> fd.synapses.Exponential(num_hidden, NUM_OUT, tau=10.0,
                                       g_max=fd.init.KaimingNormal(scale=20.0), key=k2)
            >> fd.neurons.LeakyIntegrator(NUM_OUT, tau=5.0)
        )


def weights_only(model: fd.Sequential):
    """A filter spec selecting the synaptic weights `g_max`. In training mode every array
    of the model *can* train (the time constants and thresholds too); as in the seed,
    this example trains the weights only, which generalises slightly better here."""
    spec = jax.tree.map(lambda _: False, model)
    return eqx.tree_at(lambda m: tuple(m.layers[i].g_max for i in SYNAPSES), spec,
                       replace=(True,) * len(SYNAPSES))


def load_data(seed: int, num_steps: int):
    """Digits held for `num_steps` steps, `X: (n, T, 64)` (pixel values 0-16), and labels,
    split 2/3 : 1/3, stratified by class."""
    images, labels = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        images.astype(np.float32), labels.astype(np.int32), test_size=1 / 3,
        stratify=labels, random_state=seed)
    hold = lambda X: np.repeat(X[:, None, :], num_steps, axis=1)  # noqa: E731
    return hold(X_train), hold(X_test), y_train, y_test


def save_figure(path, history, model, x, label, *, key):
    """Loss curve, and the hidden spikes and membrane potentials for one test digit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monitors = {"spike": lambda s: s[HIDDEN].spike, "V_hidden": lambda s: s[HIDDEN].V}
    _, V_out, rec = fd.run(model, x[:, None, :], dt=1.0, key=key, monitors=monitors)
    V_out, spikes, V_hidden = (np.asarray(a[:, 0]) for a in (V_out, rec["spike"], rec["V_hidden"]))
    num_steps = V_out.shape[0]

    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
    ax = axes[0]
    ax.plot(history.step_values("loss"), lw=0.8)
    ax.set(xlabel="optimizer step", ylabel="training loss", yscale="log",
           title="loss (cross-entropy)")
    ax = axes[1]
    t, n = np.nonzero(spikes)
    ax.scatter(t, n, s=4, c="k", marker="|")
    ax.set(xlim=(-0.5, num_steps - 0.5), xlabel="time (ms)", ylabel="hidden neuron",
           title=f"hidden spikes (a test digit {label})")
    ax = axes[2]
    for i in np.argsort(-spikes.sum(0))[:3]:
        (line,) = ax.plot(V_hidden[:, i], lw=1, label=f"neuron {i}")
        # V is recorded after the reset, so a spike shows as a drop: mark it above.
        ax.vlines(np.nonzero(spikes[:, i])[0], 1.05, 1.35, color=line.get_color())
    ax.axhline(1.0, color="grey", ls="--", lw=0.8)
    ax.set(xlabel="time (ms)", ylabel="V", title="LIF membrane (threshold 1; ticks: spikes)")
    ax.legend(fontsize=7)
    ax = axes[3]
    for c in range(NUM_OUT):
        ax.plot(V_out[:, c], lw=2.5 if c == label else 0.8, label=str(c))
    ax.set(xlabel="time (ms)", ylabel="V", title="readout potentials (bold: true class)")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--encoding", choices=("latency", "rate"), default="latency")
    parser.add_argument("--hidden", type=int, default=200, help="LIF neurons")
    parser.add_argument("--steps", type=int, default=25, help="time steps (1 ms) per image")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join("outputs", "train_snn"),
                        help="folder for the figure")
    parser.add_argument("--quick", action="store_true", help="a few epochs (CI)")
    args = parser.parse_args(argv)
    epochs = 5 if args.quick else args.epochs

    X_train, X_test, y_train, y_test = load_data(args.seed, args.steps)
    key = jax.random.key(args.seed)
    model_key, fit_key, plot_key = jax.random.split(key, 3)
    model = build_snn(args.hidden, args.encoding, args.steps, key=model_key)

    loss_fn = fd.train.sequence_loss(
        fd.losses.cross_entropy_max_over_time, dt=1.0,
        metrics={"accuracy": fd.losses.accuracy_max_over_time},
    )
    trainer = fd.train.BPTT(model, loss_fn, optax.adam(args.lr),
                            filter_spec=weights_only(model))

    def report(r):
        print(f"epoch {r.epoch + 1:3d}/{epochs}  loss {r.metrics['train_loss']:.4f}  "
              f"train acc {r.metrics['train_accuracy']:.3f}  "
              f"test acc {r.metrics['test_accuracy']:.3f}", flush=True)

    print(f"{len(y_train)} training and {len(y_test)} test digits, {args.encoding} coding "
          f"over {args.steps} steps of 1 ms, {args.hidden} LIF neurons, "
          f"{jax.device_count()} {jax.devices()[0].platform} device(s)")
    started = time.perf_counter()
    model, history = trainer.fit(
        (X_train, y_train), num_epoch=epochs, batch_size=args.batch_size,
        test_data=(X_test, y_test), test_batch_size=len(y_test), key=fit_key,
        callbacks=[report],
    )
    elapsed = time.perf_counter() - started
    print(f"training took {elapsed:.1f} s ({elapsed / epochs:.2f} s per epoch, "
          "compilation included)")

    os.makedirs(args.out, exist_ok=True)
    figure = os.path.join(args.out, "train_snn.png")
    save_figure(figure, history, model, jnp.asarray(X_test[0]), int(y_test[0]), key=plot_key)
    print(f"figure saved to {figure}")
    print(f"final test accuracy: {history['test_accuracy'][-1]:.3f}")


if __name__ == "__main__":
    main()
