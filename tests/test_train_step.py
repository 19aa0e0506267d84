"""funcdyn.train.make_step: the jitted optax step."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcdyn
from funcdyn import losses, train
from funcdyn._core._modes import resolve_mode
from funcdyn.layers import Dense


class TanhRNN(funcdyn.DynamicalSystem):
    """h' = tanh(x W_in + h W_rec), y = h W_out: a custom model for the tests."""

    W_in: jax.Array
    W_rec: jax.Array
    W_out: jax.Array
    num_hidden: int = eqx.field(static=True)

    def __init__(self, n_in, n_hidden, n_out, *, key, mode=None, name=None):
        k1, k2, k3 = jax.random.split(key, 3)
        self.W_in = jax.random.normal(k1, (n_in, n_hidden)) / np.sqrt(n_in)
        self.W_rec = jax.random.normal(k2, (n_hidden, n_hidden)) * 0.5 / np.sqrt(n_hidden)
        self.W_out = jax.random.normal(k3, (n_hidden, n_out)) / np.sqrt(n_hidden)
        self.num_hidden = n_hidden
        self.mode = resolve_mode(mode)
        self.name = name

    def init_state(self, batch_size=None, *, key=None):
        self.check_batch_size(batch_size)
        return jnp.zeros((batch_size, self.num_hidden))

    def __call__(self, h, x, ctx):
        h = jnp.tanh(x @ self.W_in + h @ self.W_rec)
        return h, h @ self.W_out


def sign_task(key, n=64, T=12):
    """Class = whether channel 0 has a positive mean over time."""
    X = np.asarray(jax.random.normal(key, (n, T, 2)), np.float32)
    Y = (X[:, :, 0].mean(1) > 0).astype(np.int32)
    return X, Y


def mse_loss(model, batch, key):
    x, y = batch
    _, out = model(model.init_state(x.shape[0]), x, funcdyn.Context())
    return jnp.mean((out - y) ** 2)


def dense_batch(key, n=16):
    x = jax.random.normal(key, (n, 3))
    y = x @ jnp.array([[1.0], [-2.0], [0.5]]) + 0.3
    return x, y


def test_step_equals_hand_written_sgd(getkey):
    model = Dense(3, 1, mode=funcdyn.training_mode, key=getkey())
    batch = dense_batch(getkey())
    init, step = train.make_step(mse_loss, optax.sgd(0.1))
    new, opt_state, loss, aux = step(model, init(model), batch, None)
    grads = jax.grad(lambda m: mse_loss(m, batch, None))(model)
    np.testing.assert_allclose(new.W, model.W - 0.1 * grads.W, rtol=1e-6)
    np.testing.assert_allclose(new.b, model.b - 0.1 * grads.b, rtol=1e-6)
    assert float(loss) == pytest.approx(float(mse_loss(model, batch, None)))
    assert aux == {}


def test_trains_only_trainable_arrays(getkey):
    frozen = Dense(3, 4, mode=funcdyn.batching_mode, key=getkey())
    head = Dense(4, 1, mode=funcdyn.training_mode, key=getkey())
    model = funcdyn.Sequential(frozen, head, mode=funcdyn.batching_mode)
    init, step = train.make_step(mse_loss, optax.adam(1e-2))
    new, *_ = step(model, init(model), dense_batch(getkey()), None)
    assert new.layers[0].W is model.layers[0].W
    np.testing.assert_array_equal(new.layers[0].b, model.layers[0].b)
    assert not np.allclose(new.layers[1].W, model.layers[1].W)


def test_user_filter_spec(getkey):
    model = Dense(3, 1, mode=funcdyn.training_mode, key=getkey())
    spec = jax.tree_util.tree_map(lambda _: False, model)
    spec = eqx.tree_at(lambda m: m.W, spec, True)
    init, step = train.make_step(mse_loss, optax.sgd(0.1), filter_spec=spec)
    new, *_ = step(model, init(model), dense_batch(getkey()), None)
    np.testing.assert_array_equal(new.b, model.b)
    assert not np.allclose(new.W, model.W)


def test_no_recompilation(getkey):
    traces = []

    def loss_fn(model, batch, key):
        traces.append(1)
        return mse_loss(model, batch, key)

    model = Dense(3, 1, mode=funcdyn.training_mode, key=getkey())
    init, step = train.make_step(loss_fn, optax.adam(1e-2))
    opt_state = init(model)
    for i in range(4):
        model, opt_state, loss, _ = step(model, opt_state, dense_batch(getkey()), getkey())
    assert len(traces) == 1
    # A new batch shape compiles once more, and only once.
    for _ in range(2):
        model, opt_state, *_ = step(model, opt_state, dense_batch(getkey(), n=8), getkey())
    assert len(traces) == 2


def test_has_aux_and_keys(getkey):
    def loss_fn(model, batch, key):
        loss = mse_loss(model, batch, key)
        return loss, {"noise": jax.random.uniform(key), "double": 2 * loss}

    model = Dense(3, 1, mode=funcdyn.training_mode, key=getkey())
    init, step = train.make_step(loss_fn, optax.sgd(0.1), has_aux=True)
    key = getkey()
    _, _, loss, aux = step(model, init(model), dense_batch(getkey()), key)
    assert float(aux["double"]) == pytest.approx(2 * float(loss))
    assert float(aux["noise"]) == pytest.approx(float(jax.random.uniform(key)))


@pytest.mark.parametrize(
    "optimizer",
    [
        optax.chain(optax.clip_by_global_norm(0.1), optax.adam(1e-2)),
        optax.adam(optax.exponential_decay(1e-2, 5, 0.5)),
        optax.chain(optax.clip(0.05), optax.sgd(optax.linear_schedule(0.1, 0.0, 10))),
    ],
    ids=["clip+adam", "adam+decay", "clip+sgd+schedule"],
)
def test_optax_chains_reduce_the_loss(getkey, optimizer):
    model = Dense(3, 1, mode=funcdyn.training_mode, key=getkey())
    init, step = train.make_step(mse_loss, optimizer)
    opt_state = init(model)
    batch = dense_batch(getkey(), n=32)
    first = float(mse_loss(model, batch, None))
    for _ in range(20):
        model, opt_state, loss, _ = step(model, opt_state, batch, None)
    assert float(loss) < first


def test_clipping_is_applied(getkey):
    model = Dense(3, 1, mode=funcdyn.training_mode, key=getkey())
    batch = dense_batch(getkey())
    init, step = train.make_step(
        mse_loss, optax.chain(optax.clip_by_global_norm(1e-3), optax.sgd(1.0))
    )
    new, *_ = step(model, init(model), batch, None)
    change = jnp.sqrt(jnp.sum((new.W - model.W) ** 2) + jnp.sum((new.b - model.b) ** 2))
    assert float(change) == pytest.approx(1e-3, rel=1e-4)


def test_multisteps_accumulates(getkey):
    model = Dense(3, 1, mode=funcdyn.training_mode, key=getkey())
    b1, b2 = dense_batch(getkey()), dense_batch(getkey())
    init, step = train.make_step(mse_loss, optax.MultiSteps(optax.sgd(0.1), every_k_schedule=2))
    opt_state = init(model)
    m1, opt_state, *_ = step(model, opt_state, b1, None)
    np.testing.assert_array_equal(m1.W, model.W)  # nothing applied yet
    m2, opt_state, *_ = step(m1, opt_state, b2, None)
    g1 = jax.grad(lambda m: mse_loss(m, b1, None))(model)
    g2 = jax.grad(lambda m: mse_loss(m, b2, None))(model)
    np.testing.assert_allclose(m2.W, model.W - 0.1 * (g1.W + g2.W) / 2, rtol=1e-5)


def test_donation_gives_the_same_result(getkey):
    model = Dense(3, 1, mode=funcdyn.training_mode, key=getkey())
    batch = dense_batch(getkey())
    init, step = train.make_step(mse_loss, optax.adam(1e-2))
    init_d, step_d = train.make_step(mse_loss, optax.adam(1e-2), donate=True)
    a, sa = model, init(model)
    b = jax.tree_util.tree_map(lambda x: jnp.array(x, copy=True) if eqx.is_array(x) else x, model)
    sb = init_d(b)
    for _ in range(3):
        a, sa, la, _ = step(a, sa, batch, None)
        b, sb, lb, _ = step_d(b, sb, batch, None)
    np.testing.assert_array_equal(a.W, b.W)
    assert float(la) == float(lb)


class ArrayLoss(eqx.Module):
    """A loss holding an array: unhashable, so it takes the general (filter_jit) path."""

    scale: jax.Array

    def __call__(self, model, batch, key):
        return self.scale * mse_loss(model, batch, key)


def test_loss_holding_arrays_gives_the_same_step(getkey):
    model = Dense(3, 1, mode=funcdyn.training_mode, key=getkey())
    batch = dense_batch(getkey())
    results = []
    for loss_fn in (lambda m, b, k: 2.0 * mse_loss(m, b, k), ArrayLoss(jnp.asarray(2.0))):
        init, step = train.make_step(loss_fn, optax.adam(1e-2))
        m, s, loss, _ = step(model, init(model), batch, None)
        m, s, loss, _ = step(m, s, batch, None)
        results.append((m.W, float(loss)))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-6)
    assert results[0][1] == pytest.approx(results[1][1], rel=1e-6)


def test_sequence_loss_decreases_for_a_custom_rnn(getkey):
    X, Y = sign_task(getkey(), n=64)
    model = TanhRNN(2, 16, 2, key=getkey(), mode=funcdyn.training_mode)
    loss_fn = train.sequence_loss(
        losses.cross_entropy_last_step, dt=1.0, metrics={"acc": losses.accuracy_last_step}
    )
    init, step = train.make_step(loss_fn, optax.adam(2e-2), has_aux=True)
    opt_state = init(model)
    first = float(loss_fn(model, (X, Y), None)[0])
    for i in range(30):
        model, opt_state, loss, aux = step(model, opt_state, (X, Y), None)
    assert float(loss) < 0.7 * first
    assert set(aux) == {"acc"}


def test_sequence_loss_time_major_and_monitors(getkey):
    X, Y = sign_task(getkey(), n=8, T=5)
    model = TanhRNN(2, 4, 2, key=getkey(), mode=funcdyn.training_mode)
    seen = {}

    def fn(ys, y, records):
        seen["ys"], seen["h"] = ys.shape, records["h"].shape
        return losses.cross_entropy_last_step(ys, y, time_axis=0) + 0.0 * jnp.mean(records["h"])

    loss_fn = train.sequence_loss(fn, time_major=True, monitors={"h": lambda h: h})
    loss, aux = loss_fn(model, (np.swapaxes(X, 0, 1), Y), None)
    assert seen == {"ys": (5, 8, 2), "h": (5, 8, 4)}
    batch_major = train.sequence_loss(losses.cross_entropy_last_step)
    np.testing.assert_allclose(loss, batch_major(model, (X, Y), None)[0], rtol=1e-6)


def test_batch_major_step_equals_time_major_step_with_monitors(getkey):
    """make_step transposes a batch-major sequence loss's inputs in a separate call (a
    speed fix): three steps give the same parameters, losses and batch-major outputs
    and records as the time-major loss, and a batch that is not `(x, y)` still reaches
    the loss unchanged."""
    X, Y = sign_task(getkey(), n=8, T=5)
    model = TanhRNN(2, 4, 2, key=getkey(), mode=funcdyn.training_mode)
    seen = []

    def fn_bm(ys, y, records):
        seen.append((ys.shape, records["h"].shape))
        return losses.cross_entropy_last_step(ys, y) + 1e-3 * jnp.mean(records["h"] ** 2)

    def fn_tm(ys, y, records):
        return losses.cross_entropy_last_step(ys, y, time_axis=0) + 1e-3 * jnp.mean(
            records["h"] ** 2
        )

    monitors = {"h": lambda h: h}
    bm = train.sequence_loss(fn_bm, monitors=monitors, metrics={"ys": lambda ys, y, r: ys})
    tm = train.sequence_loss(fn_tm, monitors=monitors, time_major=True,
                             metrics={"ys": lambda ys, y, r: ys})
    results = {}
    for name, loss_fn, batch in [("bm", bm, (X, Y)), ("tm", tm, (np.swapaxes(X, 0, 1), Y))]:
        init, step = train.make_step(loss_fn, optax.adam(1e-2), has_aux=True)
        m, o, out = model, init(model), []
        for _ in range(3):
            m, o, loss, aux = step(m, o, batch, None)
            out.append((float(loss), np.asarray(aux["ys"])))
        results[name] = (m, out)
    # The batch-major loss saw batch-major outputs and records.
    assert seen[0] == ((8, 5, 2), (8, 5, 4))
    (m_bm, out_bm), (m_tm, out_tm) = results["bm"], results["tm"]
    for (l1, ys1), (l2, ys2) in zip(out_bm, out_tm):
        np.testing.assert_allclose(l1, l2, rtol=1e-6)
        np.testing.assert_allclose(ys1, np.swapaxes(ys2, 0, 1), rtol=1e-5, atol=1e-6)
    for a, b in zip(jax.tree.leaves(m_bm), jax.tree.leaves(m_tm)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    assert abs(out_bm[-1][0] - out_bm[0][0]) > 0  # it trained

    # A batch that is not a pair goes to the loss as it is (here: its own error).
    init, step = train.make_step(bm, optax.adam(1e-2), has_aux=True)
    with pytest.raises(ValueError, match="too many values to unpack|unpack"):
        step(model, init(model), (X, Y, Y), None)


def test_errors(getkey):
    model = Dense(3, 1, mode=funcdyn.training_mode, key=getkey())
    batch = dense_batch(getkey())
    with pytest.raises(TypeError, match="must be callable"):
        train.make_step(3, optax.sgd(0.1))
    with pytest.raises(TypeError, match="GradientTransformation"):
        train.make_step(mse_loss, "adam")
    with pytest.raises(TypeError, match="has_aux"):
        train.make_step(mse_loss, optax.sgd(0.1), has_aux=1)
    with pytest.raises(TypeError, match="Mesh"):
        train.make_step(mse_loss, optax.sgd(0.1), mesh="auto")
    mesh = jax.sharding.Mesh(np.asarray(jax.devices()), ("data",))
    with pytest.raises(ValueError, match="axis named 'batch'"):
        train.make_step(mse_loss, optax.sgd(0.1), mesh=mesh)
    init, step = train.make_step(mse_loss, optax.sgd(0.1))
    frozen = Dense(3, 1, mode=funcdyn.batching_mode, key=getkey())
    with pytest.raises(ValueError, match="no trainable arrays"):
        init(frozen)
    init, step = train.make_step(lambda m, b, k: (mse_loss(m, b, k), {}), optax.sgd(0.1))
    with pytest.raises(ValueError, match="pass has_aux=True"):
        step(model, init(model), batch, None)
    init, step = train.make_step(mse_loss, optax.sgd(0.1), has_aux=True)
    with pytest.raises(ValueError, match="must return \\(loss, aux\\)"):
        step(model, init(model), batch, None)
    init, step = train.make_step(lambda m, b, k: jnp.zeros(3), optax.sgd(0.1))
    with pytest.raises(ValueError, match="scalar loss"):
        step(model, init(model), batch, None)
    with pytest.raises(ValueError, match="`dt`"):
        train.sequence_loss(losses.cross_entropy, dt=0)
    with pytest.raises(TypeError, match="metrics"):
        train.sequence_loss(losses.cross_entropy, metrics={"a": 1})


@pytest.mark.slow
@pytest.mark.parametrize("script", ["bench_train_snn.py", "bench_memory.py"])
def test_benchmark_scripts_run_quick(script):
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run(
        [sys.executable, os.path.join(root, "benchmarks", script), "--quick"],
        capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "goal" in out.stdout
