"""funcdyn and Equinox compose both ways: an `eqx.nn.MLP` inside a funcdyn `Sequential`,
and a funcdyn model inside an Equinox model. Both are trained with
`eqx.filter_value_and_grad` and optax, with no funcdyn training helper.

The task: a sequence of `T` noisy 2-d inputs whose two channels have slightly different
means; the label says which channel has the larger mean. No single step decides it: the
recurrent cell has to integrate over time.

1. `GRUCell >> eqx.nn.MLP` in training mode. The `Sequential` vmaps the plain Equinox
   MLP over the batch axis, and `funcdyn.trainable` selects its arrays too (they take the
   mode of the enclosing funcdyn model). The loss runs `funcdyn.run` over the sequence.
2. An `eqx.Module` classifier holding an `eqx.nn.Linear` encoder, a funcdyn `GRUCell` in
   non-batching mode (one example at a time, the Equinox convention) and an
   `eqx.nn.Linear` head; it is batched with `jax.vmap`, and `eqx.filter_value_and_grad`
   differentiates every floating-point array, the funcdyn cell's included.

Each part prints `<part> test accuracy: 0.xxx`.

    python examples/equinox_compose.py [--quick] [--steps 300] [--seed 0]
"""

import argparse

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import funcdyn as fd

T = 20          # steps per sequence
HIDDEN = 32


def make_data(rng, n):
    """`n` sequences `(n, T, 2)` and labels `(n,)`: which channel has the larger mean."""
    labels = rng.integers(0, 2, n)
    gap = rng.uniform(0.1, 0.5, n)
    means = np.stack([-gap, gap], axis=-1)                        # channel 1 is larger
    means = np.where(labels[:, None] == 1, means, -means)
    xs = means[:, None, :] + rng.normal(size=(n, T, 2))
    return jnp.asarray(xs, jnp.float32), jnp.asarray(labels, jnp.int32)


# -- 1. an Equinox MLP inside a funcdyn Sequential ---------------------------------------


def part_mlp_in_sequential(key, rng, train, test, steps, batch):
    k_rnn, k_mlp = jax.random.split(key)
    model = fd.Sequential(
        fd.layers.GRUCell(2, HIDDEN, mode=fd.training_mode, key=k_rnn),
        eqx.nn.MLP(HIDDEN, 2, width_size=32, depth=1, key=k_mlp),   # per example; vmapped
    )

    def loss_fn(params, static, x, y):
        model = eqx.combine(params, static)
        # funcdyn.run is time-major by default; the data are (batch, T, 2).
        _, logits, _ = fd.run(model, x, dt=1.0, time_major=False)
        loss = fd.losses.cross_entropy_last_step(logits, y)
        return loss

    params, static = eqx.partition(model, fd.trainable(model))
    optimizer = optax.adam(3e-3)
    opt_state = optimizer.init(params)

    @eqx.filter_jit
    def step(params, opt_state, x, y):
        loss, grads = eqx.filter_value_and_grad(loss_fn)(params, static, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return eqx.apply_updates(params, updates), opt_state, loss

    x_train, y_train = train
    for i in range(steps):
        idx = rng.integers(0, len(y_train), batch)
        params, opt_state, loss = step(params, opt_state, x_train[idx], y_train[idx])

    model = eqx.combine(params, static)
    _, logits, _ = fd.run(model, test[0], dt=1.0, time_major=False)
    return float(fd.losses.accuracy_last_step(logits, test[1])), float(loss)


# -- 2. a funcdyn model inside an Equinox model ------------------------------------------


class Classifier(eqx.Module):
    """An Equinox model for one sequence `(T, 2)`: encoder, funcdyn GRU cell, head."""

    encoder: eqx.nn.Linear
    rnn: fd.layers.GRUCell
    head: eqx.nn.Linear

    def __init__(self, key):
        k1, k2, k3 = jax.random.split(key, 3)
        self.encoder = eqx.nn.Linear(2, 8, key=k1)
        self.rnn = fd.layers.GRUCell(8, HIDDEN, mode=fd.nonbatching_mode, key=k2)
        self.head = eqx.nn.Linear(HIDDEN, 2, key=k3)

    def __call__(self, xs):
        hs = jax.vmap(self.encoder)(xs)                   # (T, 8)
        _, ys, _ = fd.run(self.rnn, hs, dt=1.0)           # (T, HIDDEN), one lax.scan
        return self.head(ys[-1])


def part_funcdyn_in_equinox(key, rng, train, test, steps, batch):
    model = Classifier(key)

    def loss_fn(model, x, y):
        logits = jax.vmap(model)(x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    optimizer = optax.adam(3e-3)
    opt_state = optimizer.init(eqx.filter(model, eqx.is_inexact_array))

    @eqx.filter_jit
    def step(model, opt_state, x, y):
        loss, grads = eqx.filter_value_and_grad(loss_fn)(model, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, model)
        return eqx.apply_updates(model, updates), opt_state, loss

    x_train, y_train = train
    for i in range(steps):
        idx = rng.integers(0, len(y_train), batch)
        model, opt_state, loss = step(model, opt_state, x_train[idx], y_train[idx])

    predictions = jnp.argmax(jax.vmap(model)(test[0]), axis=-1)
    return float(jnp.mean(predictions == test[1])), float(loss)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer training steps (CI)")
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps per part")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    steps = 120 if args.quick else args.steps

    rng = np.random.default_rng(args.seed)
    train = make_data(rng, 2048)
    test = make_data(rng, 512)
    k1, k2 = jax.random.split(jax.random.key(args.seed))

    # optax's Adam mixes an int32 step count with floats: keep standard promotion even
    # when the caller has enabled JAX's strict dtype promotion.
    with jax.numpy_dtype_promotion("standard"):
        acc1, loss1 = part_mlp_in_sequential(k1, rng, train, test, steps, batch=64)
        print(f"final train loss (MLP in Sequential): {loss1:.3f}")
        print(f"mlp-in-sequential test accuracy: {acc1:.3f}")
        acc2, loss2 = part_funcdyn_in_equinox(k2, rng, train, test, steps, batch=64)
        print(f"final train loss (funcdyn in Equinox): {loss2:.3f}")
        print(f"funcdyn-in-equinox test accuracy: {acc2:.3f}")


if __name__ == "__main__":
    main()
