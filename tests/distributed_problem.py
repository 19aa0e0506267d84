"""The training problem shared by the 2-process test and its single-process reference:
a small spiking network (Dense >> LIF >> Dense), its data, loss and optimizer."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

import funcdyn as fd

BATCH, T, STEPS, CHECKPOINT_AT, EPOCHS = 8, 10, 6, 3, 2
NUM_SAMPLES = 4 * BATCH


def model():
    k1, k2 = jax.random.split(jax.random.key(0))
    mode = fd.training_mode
    return (fd.layers.Dense(3, 16, mode=mode, key=k1)
            >> fd.neurons.LIF(16, tau=5.0, V_rest=0.0, V_reset=0.0, V_th=1.0, mode=mode)
            >> fd.layers.Dense(16, 2, mode=mode, key=k2))


def data():
    rng = np.random.default_rng(0)
    X = rng.uniform(0.0, 1.0, (NUM_SAMPLES, T, 3)).astype(np.float32)
    Y = np.stack([X[:, :, 0].mean(1), X[:, :, 1:].mean((1, 2))], axis=1).astype(np.float32)
    return X, Y


def global_batch(X, Y, k):
    rows = slice((k % (NUM_SAMPLES // BATCH)) * BATCH, (k % (NUM_SAMPLES // BATCH) + 1) * BATCH)
    return X[rows], Y[rows]


def step_key(k):
    return jax.random.fold_in(jax.random.key(1), k)


def loss_fn(net, batch, key):
    x, y = batch
    _, ys, _ = fd.run(net, x, dt=1.0, state=net.init_state(x.shape[0]), time_major=False)
    return jnp.mean((jnp.mean(ys, axis=1) - y) ** 2)


def optimizer():
    return optax.adam(1e-2)
