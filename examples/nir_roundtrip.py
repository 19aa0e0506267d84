"""Train the digits SNN, export it to NIR, re-import it, and compare test accuracies.

The network is the one of `examples/train_snn.py` (latency-coded 8x8 digits ->
Exponential synapse -> LIF -> Exponential synapse -> LeakyIntegrator readout). After
training, everything behind the spike encoder is written as a NIR graph with
`funcdyn.nir.to_nir` (the synapses become `Linear` + `CubaLIF` / `CubaLI` nodes, time
constants in seconds), saved with `nir.write`, read back with `funcdyn.nir.from_nir`, put
behind the same encoder, and evaluated on the same test digits. Both accuracies are
printed; they are the same.

    python examples/nir_roundtrip.py [--epochs 10] [--seed 0]
                                     [--out outputs/nir_roundtrip] [--quick]
"""

import argparse
import os
import sys

import jax
import jax.numpy as jnp
import nir
import numpy as np
import optax

import funcdyn as fd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_snn import build_snn, load_data, weights_only  # noqa: E402

DT = 1.0  # ms


def readout(model, X) -> np.ndarray:
    """The readout potentials `(n, T, 10)` for digits `X: (n, T, 64)`."""
    _, V, _ = fd.run(model, jnp.asarray(X), dt=DT, time_major=False)
    return np.asarray(V)


def accuracy(V, y) -> float:
    """Accuracy of the class with the largest potential over time."""
    return float(np.mean(np.argmax(V.max(axis=1), axis=-1) == y))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--hidden", type=int, default=200)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join("outputs", "nir_roundtrip"))
    parser.add_argument("--quick", action="store_true", help="a small, short run (CI)")
    args = parser.parse_args(argv)
    epochs, hidden = (5, 128) if args.quick else (args.epochs, args.hidden)

    X_train, X_test, y_train, y_test = load_data(args.seed, args.steps)
    model_key, fit_key = jax.random.split(jax.random.key(args.seed))
    model = build_snn(hidden, "latency", args.steps, key=model_key)
    loss_fn = fd.train.sequence_loss(fd.losses.cross_entropy_max_over_time, dt=DT)
    trainer = fd.train.BPTT(model, loss_fn, optax.adam(5e-3), filter_spec=weights_only(model))
    model, _ = trainer.fit((X_train, y_train), num_epoch=epochs, batch_size=64, key=fit_key)

    encoder, network = model[:1], model[1:]
    graph = fd.nir.to_nir(network, dt=DT)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "digits_snn.nir")
    nir.write(path, graph)
    print("NIR graph:", " -> ".join(f"{k} ({type(v).__name__})" for k, v in graph.nodes.items()))
    print(f"written to {path}")

    imported = encoder >> fd.nir.from_nir(path, dt=DT, mode=fd.batching_mode)
    V_funcdyn, V_nir = readout(model, X_test), readout(imported, X_test)
    # The synapse's jump W becomes NIR's w_in = 1 / (1 - exp(-dt/tau)) on a held current:
    # equal up to float32 rounding.
    print(f"max |V_funcdyn - V_nir| over the test set: {np.abs(V_funcdyn - V_nir).max():.2e}")
    print(f"funcdyn test accuracy: {accuracy(V_funcdyn, y_test):.4f}")
    print(f"re-imported from NIR test accuracy: {accuracy(V_nir, y_test):.4f}")


if __name__ == "__main__":
    main()
