"""Data parallelism: sharded training equals single-device training."""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import PartitionSpec

import funcdyn
from funcdyn import losses, train

SCRIPT = textwrap.dedent(
    """
    import sys
    import equinox as eqx, jax, jax.numpy as jnp, numpy as np, optax
    from jax.sharding import PartitionSpec
    import funcdyn
    from funcdyn import losses, train
    from funcdyn.layers import Dense

    assert jax.device_count() == 4, jax.devices()
    k1, k2 = jax.random.split(jax.random.key(0))
    mode = funcdyn.training_mode
    model = funcdyn.Sequential(Dense(3, 8, mode=mode, key=k1), jnp.tanh,
                               Dense(8, 2, mode=mode, key=k2), mode=mode)
    X = np.asarray(jax.random.normal(jax.random.key(1), (40, 6, 3)), np.float32)
    Y = (X[:, :, 0].sum(1) > 0).astype(np.int32)
    loss = train.sequence_loss(losses.cross_entropy_mean_over_time,
                               metrics={"acc": losses.accuracy_mean_over_time})

    mesh = train.batch_mesh()
    sharded = train.shard_batch((X[:16], Y[:16]), mesh)
    assert sharded[0].sharding.spec == PartitionSpec("batch", None, None), sharded[0].sharding
    assert len(sharded[0].addressable_shards) == 4
    assert sharded[0].addressable_shards[0].data.shape == (4, 6, 3)

    def run_steps(m, mesh):
        init, step = train.make_step(loss, optax.adam(1e-2), has_aux=True, mesh=mesh)
        s = init(m)
        # The last batch (6 samples) does not split over 4 devices: it is replicated.
        for lo, hi in ((0, 16), (16, 32), (32, 38)):
            m, s, l, aux = step(m, s, (X[lo:hi], Y[lo:hi]), None)
        return m, l

    single, l1 = run_steps(model, None)
    multi, l4 = run_steps(model, mesh)
    assert multi.layers[0].W.sharding.is_fully_replicated
    np.testing.assert_allclose(l4, l1, rtol=1e-5)
    for a, b in zip(jax.tree_util.tree_leaves(eqx.filter(multi, eqx.is_array)),
                    jax.tree_util.tree_leaves(eqx.filter(single, eqx.is_array))):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

    if "--fit" not in sys.argv:
        print("SHARDING-OK")
        raise SystemExit
    # fit: mesh="auto" shards over the 4 devices (batches of 16, 16 and 8).
    kw = dict(num_epoch=2, batch_size=16, key=jax.random.key(2), test_data=(X, Y),
              progress=False)
    auto = train.BPTT(model, loss, optax.adam(1e-2))
    assert auto.mesh is not None and auto.mesh.size == 4
    m4, h4 = auto.fit((X, Y), **kw)
    m1, h1 = train.BPTT(model, loss, optax.adam(1e-2), mesh=None).fit((X, Y), **kw)
    for a, b in zip(jax.tree_util.tree_leaves(eqx.filter(m4, eqx.is_array)),
                    jax.tree_util.tree_leaves(eqx.filter(m1, eqx.is_array))):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h4.step_values(), h1.step_values(), rtol=1e-5)
    np.testing.assert_allclose(h4["test_loss"], h1["test_loss"], rtol=1e-5)
    print("SHARDING-OK")
    """
)


def _run_on_four_devices(*args):
    env = dict(os.environ)
    env["XLA_FLAGS"] = env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    env["JAX_PLATFORMS"] = "cpu"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args], env=env, capture_output=True, text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SHARDING-OK" in out.stdout


def test_sharded_step_equals_single_device_on_four_cpu_devices():
    _run_on_four_devices()


@pytest.mark.slow
def test_sharded_fit_equals_single_device_on_four_cpu_devices():
    _run_on_four_devices("--fit")


def test_one_device_mesh_is_a_no_op(getkey):
    mesh = train.batch_mesh(jax.devices()[:1])
    x = np.ones((4, 3), np.float32)
    placed = train.shard_batch({"x": x, "n": 3}, mesh)
    assert placed["n"] == 3
    np.testing.assert_array_equal(placed["x"], x)
    assert placed["x"].sharding.spec == PartitionSpec("batch", None)
    scalar = train.shard_batch(jnp.float32(1.0), mesh)
    assert scalar.sharding.is_fully_replicated
    rep = train.replicate({"w": x, "f": 1.5}, mesh)
    assert rep["f"] == 1.5 and rep["w"].sharding.is_fully_replicated

    model = funcdyn.layers.Dense(3, 2, mode=funcdyn.training_mode, key=getkey())

    def loss_fn(m, batch, key):
        x, y = batch
        return losses.cross_entropy(m(None, x, funcdyn.Context())[1], y)

    batch = (np.asarray(jax.random.normal(getkey(), (8, 3)), np.float32), np.arange(8) % 2)
    results = []
    for mesh_ in (None, mesh):
        init, step = train.make_step(loss_fn, optax.adam(1e-2), mesh=mesh_)
        m, s, loss, _ = step(model, init(model), batch, None)
        results.append(m.W)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)
    assert train.BPTT(model, loss_fn, optax.sgd(0.1)).mesh is None  # one device: no mesh


def test_batch_mesh_errors():
    with pytest.raises(ValueError, match="empty"):
        train.batch_mesh([])
