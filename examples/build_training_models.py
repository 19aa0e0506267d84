# %% [markdown]
# # Building training models, the funcdyn way
#
# This walks through every section of BrainPy's tutorial *Building Training Models* and
# does each step with funcdyn: an Equinox-style library where a model is an immutable
# pytree, one call is one time step (`new_state, y = model(state, x, ctx)`), state goes in
# and comes out, and randomness is an explicit key.
#
# Where the tutorial shows a behaviour that is a bug (resetting a trainable RNN state
# crashes, `NVAR` accepts training mode, the DeepRNN applies `l2` twice, dropout's
# probability means *keep*), this port prints the correct behaviour instead.
#
# Run it as a script (`python examples/build_training_models.py [--quick]`) or as the
# notebook `examples/build_training_models.ipynb`, which has the same cells.

# %%
import argparse
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

import funcdyn as fd

# --quick (CI) trains each model for fewer steps; the notebook sets QUICK itself.
if "ipykernel" in sys.modules:
    QUICK = False
else:
    parser = argparse.ArgumentParser(description="BrainPy's tutorial, ported to funcdyn")
    parser.add_argument("--quick", action="store_true", help="fewer training steps (CI)")
    QUICK = parser.parse_args().quick
TRAIN_STEPS = 20 if QUICK else 100
key = jax.random.key(0)
keys = iter(jax.random.split(key, 100))   # a fresh key per construction below


def count_trainable(model):
    """The number of trainable numbers: the size of the arrays `fd.trainable` selects."""
    params = eqx.filter(model, fd.trainable(model))
    return sum(a.size for a in jax.tree.leaves(params))

# %% [markdown]
# ## 1. Modes and what they change
#
# Every model has a static `mode`: `nonbatching_mode`, `batching_mode` or
# `training_mode`. A mode changes exactly two things, **never the maths**:
#
# - whether states and inputs carry a leading batch axis (`is_batching`);
# - whether the model's arrays are selected for training by `funcdyn.trainable`
#   (`is_trainable`).

# %%
for mode in (fd.nonbatching_mode, fd.batching_mode, fd.training_mode):
    print(f"{mode!s:16}  is_batching={mode.is_batching!s:5}  is_trainable={mode.is_trainable}")

# %% [markdown]
# Pass `mode=` to a constructor, or build inside `fd.training_environment()` /
# `fd.batching_environment()`, which set the default mode of the models constructed in the
# `with` block (and only there: nothing global is read when the model runs).

# %%
with fd.training_environment():
    layer = fd.layers.Dense(3, 4, key=next(keys))
print("built inside training_environment():", layer.mode)
print("built outside:", fd.layers.Dense(3, 4, key=next(keys)).mode)

# %% [markdown]
# ### A LIF neuron in non-batching and in training mode
#
# The same LIF population in both modes, driven by the same input current: the training-
# mode neuron has a batch axis (here 1) and trainable parameters, and computes exactly the
# same membrane potential and spikes.

# %%
lif_single = fd.neurons.LIF(100, tau=10.0, V_rest=0.0, V_reset=0.0, V_th=1.0,
                            mode=fd.nonbatching_mode)
lif_train = fd.neurons.LIF(100, tau=10.0, V_rest=0.0, V_reset=0.0, V_th=1.0,
                           mode=fd.training_mode)
print(lif_train)

current = 2.0 * jax.random.uniform(next(keys), (50, 100))           # (T, 100)
_, spikes_single, rec_single = fd.run(lif_single, current, dt=1.0,
                                      monitors={"V": lambda s: s.V})
_, spikes_train, rec_train = fd.run(lif_train, current[:, None, :], dt=1.0,   # (T, 1, 100)
                                    monitors={"V": lambda s: s.V})
print("state without / with batch axis:", lif_single.init_state().V.shape,
      lif_train.init_state(1).V.shape)
print("identical potentials:", bool(jnp.all(rec_single["V"] == rec_train["V"][:, 0])),
      " identical spikes:", bool(jnp.all(spikes_single == spikes_train[:, 0])),
      f" ({int(spikes_single.sum())} spikes)")
print("trainable arrays: non-batching", count_trainable(lif_single),
      " training", count_trainable(lif_train), "(tau, V_rest, V_reset, V_th, R)")

# %% [markdown]
# ### A layer that cannot be trained refuses training mode
#
# `NVAR` (next-generation reservoir computing) has no parameters at all. BrainPy's
# tutorial builds it in training mode without complaint; funcdyn refuses at construction,
# with a message that says what to do instead.

# %%
try:
    fd.layers.NVAR(1, delay=1, order=2, mode=fd.training_mode)
except ValueError as err:
    print("refused:", err)

nvar = fd.layers.NVAR(1, delay=1, order=2, mode=fd.batching_mode)
print(nvar)

# %% [markdown]
# ### Dense weights in batching mode and in training mode
#
# The weights are arrays in both modes. `fd.trainable(model)` (a filter spec for
# `eqx.partition`) selects them only in training mode; in batching mode they are
# constants, e.g. a frozen layer in front of a trained one.

# %%
k = next(keys)
dense_batching = fd.layers.Dense(10, 100, mode=fd.batching_mode, key=k)
dense_training = fd.layers.Dense(10, 100, mode=fd.training_mode, key=k)
print("W:", dense_batching.W.shape, "in both; identical values:",
      bool(jnp.all(dense_batching.W == dense_training.W)))
print("trainable arrays in batching mode:", count_trainable(dense_batching))
print("trainable arrays in training mode:", count_trainable(dense_training), "(W and b)")

# %% [markdown]
# ### An RNN cell with a trainable initial state
#
# With `train_state=True` the initial state `h0` is a parameter of shape `(num_out,)`, with
# no batch axis. `init_state(batch_size)` broadcasts it over any batch size, so it is
# trained like a weight and survives every reset. In BrainPy the corresponding
# `rnn.reset(batch_size=5)` crashes; in funcdyn a reset *is* `init_state`, which is pure.

# %%
rnn = fd.layers.RNNCell(1, 100, train_state=True, mode=fd.training_mode, key=next(keys))
print("h0:", rnn.h0.shape, "(a parameter)")
h = rnn.init_state(batch_size=5)
print("init_state(batch_size=5) ->", h.shape)
print("init_state(batch_size=128) ->", rnn.init_state(batch_size=128).shape)

# A learned h0 is what every later reset starts from:
rnn_learned = eqx.tree_at(lambda cell: cell.h0, rnn, jnp.full(100, 0.5))
print("after 'learning' h0 = 0.5, init_state(3)[0, :3] ->", rnn_learned.init_state(3)[0, :3])

# %% [markdown]
# ## 2. Naming a node
#
# Every model takes a keyword-only `name`, shown first in its repr (and usable to find
# it, e.g. by the readout trainers). Names are static: they never affect the maths.

# %%
named = fd.layers.Dense(3, 4, name="my_dense", key=next(keys))
print(repr(named))

# %% [markdown]
# ## 3. Every way to initialise a parameter
#
# A parameter argument is an array (used as is, shape checked), a callable of the shape
# (BrainPy's convention), an initialiser from `funcdyn.init` (called with the
# constructor's `key`), or `None` for an optional parameter such as a bias.

# %%
as_array = fd.layers.Dense(10, 50, W_initializer=jnp.ones((10, 50)))
as_callable = fd.layers.Dense(10, 50, W_initializer=lambda shape: 0.01 * jnp.ones(shape))
as_initializer = fd.layers.Dense(10, 50, W_initializer=fd.init.KaimingNormal(), key=next(keys))
no_bias = fd.layers.Dense(10, 50, W_initializer=fd.init.Normal(0.0, 0.1),
                          b_initializer=None, key=next(keys))
for label, layer in [("array", as_array), ("callable", as_callable),
                     ("initializer", as_initializer), ("no bias", no_bias)]:
    b = None if layer.b is None else layer.b.shape
    print(f"{label:12} W {layer.W.shape} std {float(layer.W.std()):.3f}  b {b}")

try:
    fd.layers.Dense(10, 50, W_initializer=jnp.ones((5, 5)))
except ValueError as err:
    print("a wrong shape is refused:", err)
try:
    fd.layers.Dense(10, 50, W_initializer=fd.init.KaimingNormal())
except ValueError as err:
    print("a random initialiser without a key is refused:", err)

# %% [markdown]
# ## 4. Customising models
#
# A custom model is a `fd.DynamicalSystem` subclass: parameters are array fields, sizes
# are static fields, `init_state(batch_size)` returns the initial state, and
# `__call__(state, x, ctx)` is one step. Here is the tutorial's recurrent layer,
# `h = tanh(x @ win + h @ wrec)`, with trainable `win` and `wrec`.

# %%
class RecurrentLayer(fd.DynamicalSystem):
    win: jax.Array
    wrec: jax.Array
    num_in: int = eqx.field(static=True)
    num_out: int = eqx.field(static=True)

    def __init__(self, num_in, num_out, *, mode=None, name=None, key):
        k1, k2 = jax.random.split(key)
        self.num_in, self.num_out = num_in, num_out
        self.win = fd.init.parameter(fd.init.XavierNormal(), (num_in, num_out),
                                     name="win", key=k1)
        self.wrec = fd.init.parameter(fd.init.Orthogonal(), (num_out, num_out),
                                      name="wrec", key=k2)
        self.mode = fd.get_default_mode() if mode is None else mode
        self.name = name

    def init_state(self, batch_size=None, *, key=None):
        self.check_batch_size(batch_size)
        shape = (self.num_out,) if batch_size is None else (batch_size, self.num_out)
        return jnp.zeros(shape)

    def __call__(self, h, x, ctx):
        h = jnp.tanh(x @ self.win + h @ self.wrec)
        return h, h


layer = RecurrentLayer(3, 8, mode=fd.training_mode, key=next(keys))
final, ys, _ = fd.run(layer, jnp.ones((20, 4, 3)), dt=1.0)     # 20 steps, batch of 4
print("RecurrentLayer outputs:", ys.shape, " trainable parameters:", count_trainable(layer))
fd.testing.check_contract(layer, jnp.ones((4, 3)), batch_size=4)
print("RecurrentLayer passes funcdyn.testing.check_contract (jit, vmap, scan, grad, ...)")

# %% [markdown]
# The tutorial's dropout layer reads the global `bp.share['fit']` and keeps each unit with
# probability `prob`. In funcdyn the training flag and the random key come in the step's
# `Context`, and `p` is the probability of **dropping** a unit (the Equinox / PyTorch
# convention): BrainPy's `Dropout(0.8)` is funcdyn's `Dropout(0.2)`.

# %%
class MyDropout(fd.DynamicalSystem):
    p: float = eqx.field(static=True)

    def init_state(self, batch_size=None, *, key=None):
        self.check_batch_size(batch_size)
        return None

    def __call__(self, state, x, ctx):
        if not ctx.fit:                                  # test phase: the identity
            return state, x
        keep = jax.random.bernoulli(ctx.require_key("MyDropout"), 1.0 - self.p, x.shape)
        return state, jnp.where(keep, x / (1.0 - self.p), 0.0)


x = jnp.ones((1000, 100))
for drop in (MyDropout(p=0.2, mode=fd.batching_mode),
             fd.layers.Dropout(0.2, mode=fd.batching_mode)):
    _, y_fit = drop(None, x, fd.Context(fit=True, key=next(keys)))
    _, y_test = drop(None, x, fd.Context(fit=False))
    print(f"{type(drop).__name__}(p=0.2) drops {float(jnp.mean(y_fit == 0)):.1%} of the units "
          f"when fit=True (kept ones scaled to {float(y_fit.max()):.2f}); "
          f"identity when fit=False: {bool(jnp.all(y_test == x))}")

# %% [markdown]
# ## 5. Three models, built, run and trained
#
# Each model below is built, run over a sequence with `fd.run` (one compiled
# `lax.scan`), and trained for a few steps with the optax step maker
# `fd.train.make_step`, which updates exactly the arrays that `fd.trainable` selects.

# %%
def train_a_few_steps(model, xs, ys, loss_on_outputs, *, steps, lr, dt=1.0):
    """Trains `model` on one batch (time-major xs) and returns it with the first and
    last loss."""
    def loss_fn(model, batch, key):
        x, y = batch
        _, outputs, _ = fd.run(model, x, dt=dt, fit=True, key=key)
        return loss_on_outputs(outputs, y)

    init, step = fd.train.make_step(loss_fn, optax.adam(lr))
    opt_state = init(model)
    losses = []
    for i in range(steps):
        model, opt_state, loss, _ = step(model, opt_state, (xs, ys), jax.random.fold_in(key, i))
        losses.append(float(loss))
    return model, losses[0], losses[-1]


def fmt(loss):
    return f"{loss:.4g}"

# %% [markdown]
# ### The DeepRNN
#
# Four stacked LSTM cells with dropout and a dense readout. The tutorial's `update` feeds
# the output of `l2` through `l2` again (and never uses `l3`); here each layer is applied
# once, in order. Its `Dropout(0.2)` means *drop 20%* here.

# %%
class DeepRNN(fd.DynamicalSystem):
    l1: fd.layers.LSTMCell
    d1: fd.layers.Dropout
    l2: fd.layers.LSTMCell
    d2: fd.layers.Dropout
    l3: fd.layers.LSTMCell
    d3: fd.layers.Dropout
    l4: fd.layers.LSTMCell
    d4: fd.layers.Dropout
    lout: fd.layers.Dense

    def __init__(self, num_in, num_out, *, key):
        k = jax.random.split(key, 5)
        self.l1 = fd.layers.LSTMCell(num_in, 100, key=k[0])
        self.d1 = fd.layers.Dropout(0.2)
        self.l2 = fd.layers.LSTMCell(100, 200, key=k[1])
        self.d2 = fd.layers.Dropout(0.2)
        self.l3 = fd.layers.LSTMCell(200, 200, key=k[2])
        self.d3 = fd.layers.Dropout(0.2)
        self.l4 = fd.layers.LSTMCell(200, 100, key=k[3])
        self.d4 = fd.layers.Dropout(0.2)
        self.lout = fd.layers.Dense(100, num_out, key=k[4])
        self.mode = fd.get_default_mode()

    def __call__(self, state, x, ctx):
        new = dict(state)
        for name in ("l1", "d1", "l2", "d2", "l3", "d3", "l4", "d4", "lout"):
            new[name], x = getattr(self, name)(state[name], x, ctx.child(name))
        return new, x


with fd.training_environment():
    deep_rnn = DeepRNN(100, 10, key=next(keys))

# A toy sequence task: the class of each sequence is given by the mean of its inputs.
T, B = 20, 32
labels = jax.random.randint(next(keys), (B,), 0, 10)
prototypes = jax.random.normal(next(keys), (10, 100))
xs = prototypes[labels][None] + jax.random.normal(next(keys), (T, B, 100))   # (T, B, 100)

final_state, outputs, _ = fd.run(deep_rnn, xs, dt=1.0)
print("DeepRNN output over the sequence:", outputs.shape, " state keys:", list(final_state))

loss_last_step = lambda ys, y: fd.losses.cross_entropy_last_step(ys, y, time_axis=0)
deep_rnn, first, last = train_a_few_steps(deep_rnn, xs, labels, loss_last_step,
                                          steps=TRAIN_STEPS, lr=1e-3)
print(f"DeepRNN loss: {fmt(first)} -> {fmt(last)} after {TRAIN_STEPS} steps")

# %% [markdown]
# ### The NG-RC model
#
# An `NVAR` (delay 4, order 2, stride 5) in batching mode feeds a `Dense` readout in
# training mode. Only the readout is trainable; the same step maker trains it, leaving the
# NVAR untouched. (For a readout, the closed-form ridge regression of
# `fd.train.OfflineTrainer` is the better tool; both are shown.)

# %%
class NGRC(fd.DynamicalSystem):
    r: fd.layers.NVAR
    o: fd.layers.Dense

    def __init__(self, num_in, num_out, *, key):
        self.r = fd.layers.NVAR(num_in, delay=4, order=2, stride=5, mode=fd.batching_mode)
        self.o = fd.layers.Dense(self.r.num_out, num_out, mode=fd.training_mode, key=key)
        self.mode = fd.batching_mode

    def __call__(self, state, x, ctx):
        sr, features = self.r(state["r"], x, ctx.child("r"))
        so, y = self.o(state["o"], features, ctx.child("o"))
        return {"r": sr, "o": so}, y


ngrc = NGRC(1, 1, key=next(keys))
print("NVAR features:", ngrc.r.num_out, " trainable parameters:", count_trainable(ngrc),
      "(the readout's", ngrc.o.W.size, "weights and", ngrc.o.b.size, "bias)")

# One-step-ahead prediction of a sum of two sines, 4 sequences at once.
t = jnp.arange(400) * 0.05
phases = jnp.linspace(0.0, 1.5, 4)
signal = jnp.sin(t[:, None] + phases) + 0.5 * jnp.sin(2.3 * t[:, None] + phases)   # (400, 4)
xs, ys = signal[:-1, :, None], signal[1:, :, None]                                    # (T, 4, 1)

_, outputs, _ = fd.run(ngrc, xs, dt=1.0)
print("NG-RC output over the sequence:", outputs.shape)
mse = lambda out, y: fd.losses.mean_squared_error(out, y)
trained_ngrc, first, last = train_a_few_steps(ngrc, xs, ys, mse, steps=TRAIN_STEPS, lr=1e-2)
print(f"NG-RC loss: {fmt(first)} -> {fmt(last)} after {TRAIN_STEPS} steps")
print("NVAR unchanged by training:", eqx.tree_equal(trained_ngrc.r, ngrc.r) is True)

ridge = fd.train.OfflineTrainer(ngrc, fd.train.RidgeRegression(alpha=1e-6))
fitted = ridge.fit(xs, ys, dt=1.0)
_, outputs, _ = fd.run(fitted, xs, dt=1.0)
print(f"NG-RC ridge fit in one solve: mse {float(mse(outputs[20:], ys[20:])):.2e} "
      "(after the 15-step warm-up of the delay taps)")

# %% [markdown]
# ### The spiking network
#
# The seed's surrogate-gradient SNN (Neftci, Mostafa & Zenke 2019): input spikes -> an
# exponential synapse (tau 10 ms, `g_max` from `KaimingNormal(scale=20)`) -> LIF neurons
# (tau 10 ms, threshold 1, reset to 0) -> an exponential synapse -> a leaky-integrator
# readout (tau 5 ms), whose membrane potential is the output. The spike is a Heaviside
# step in every mode; its gradient is a surrogate.

# %%
class SNN(fd.DynamicalSystem):
    i: fd.neurons.InputGroup
    r: fd.neurons.LIF
    o: fd.neurons.LeakyIntegrator
    i2r: fd.synapses.Exponential
    r2o: fd.synapses.Exponential

    def __init__(self, num_in, num_rec, num_out, *, key):
        k1, k2 = jax.random.split(key)
        self.i = fd.neurons.InputGroup(num_in)
        self.r = fd.neurons.LIF(num_rec, tau=10.0, V_reset=0.0, V_rest=0.0, V_th=1.0,
                                spike_fn=fd.surrogate.InverseSquare(alpha=10.0))
        self.o = fd.neurons.LeakyIntegrator(num_out, tau=5.0)
        self.i2r = fd.synapses.Exponential(num_in, num_rec, tau=10.0,
                                           g_max=fd.init.KaimingNormal(scale=20.0), key=k1)
        self.r2o = fd.synapses.Exponential(num_rec, num_out, tau=10.0,
                                           g_max=fd.init.KaimingNormal(scale=20.0), key=k2)
        self.mode = fd.get_default_mode()

    def __call__(self, state, x, ctx):
        new = dict(state)
        new["i"], spikes_in = self.i(state["i"], x, ctx.child("i"))
        new["i2r"], current_r = self.i2r(state["i2r"], spikes_in, ctx.child("i2r"))
        new["r"], spikes_r = self.r(state["r"], current_r, ctx.child("r"))
        new["r2o"], current_o = self.r2o(state["r2o"], spikes_r, ctx.child("r2o"))
        new["o"], V_out = self.o(state["o"], current_o, ctx.child("o"))
        return new, V_out                                   # the readout's potential


with fd.training_environment():
    snn = SNN(100, 200, 2, key=next(keys))

# A toy task: class 0 fires more on the first 50 inputs, class 1 on the last 50.
T, B = 50, 32
labels = jax.random.randint(next(keys), (B,), 0, 2)
first_half = jnp.arange(100) < 50
rates = jnp.where(first_half == (labels[:, None] == 0), 0.12, 0.08)           # (B, 100)
xs = jax.random.bernoulli(next(keys), rates, (T, B, 100)).astype(jnp.float32)  # spikes

final_state, V_out, records = fd.run(snn, xs, dt=1.0,
                                     monitors={"hidden spikes": lambda s: s["r"].spike})
print("SNN readout potentials:", V_out.shape,
      f" hidden firing probability per step: {float(records['hidden spikes'].mean()):.3f}")

loss_max_over_time = lambda ys, y: fd.losses.cross_entropy_max_over_time(ys, y, time_axis=0)
snn, first, last = train_a_few_steps(snn, xs, labels, loss_max_over_time,
                                     steps=TRAIN_STEPS, lr=2e-3)
print(f"SNN loss: {fmt(first)} -> {fmt(last)} after {TRAIN_STEPS} steps")
_, V_out, _ = fd.run(snn, xs, dt=1.0)
print("SNN accuracy on its batch:",
      float(fd.losses.accuracy_max_over_time(V_out, labels, time_axis=0)))

# %% [markdown]
# ## Summary
#
# | BrainPy tutorial | funcdyn |
# | --- | --- |
# | `model.reset(batch_size)` mutates variables | `state = model.init_state(batch_size)`, pure |
# | `bp.share['fit']`, global | `ctx.fit`, passed to every step |
# | `bm.random` global state | explicit keys: `key=` at construction, `ctx.key` per step |
# | `NVAR(mode=training_mode)` accepted | refused at construction |
# | `Dropout(prob)` keeps with `prob` | `Dropout(p)` drops with `p` |
# | `bp.BPTT(...).fit(...)` | `fd.train.make_step` (your loop) or `fd.train.BPTT(...).fit(...)` |
