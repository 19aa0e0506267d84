"""funcdyn.parallel: the 8-device cases run in a subprocess (the forced device count must
be set before JAX starts); the checks that need no second device run here."""

import os
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh

import funcdyn as fd

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_eight_forced_devices():
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") +
                        " --xla_force_host_platform_device_count=8").strip()
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "tests" / "parallel_cases.py"), "-q",
         "-n", "0", "-p", "no:cacheprovider", "-rs"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "needs 8 (forced) devices" not in proc.stdout, proc.stdout[-2000:]
    assert " passed" in proc.stdout


def _small_net():
    pop = fd.neurons.LIF(8, tau=10.0, V_rest=0.0, V_reset=0.0, V_th=1.0)
    syn = fd.synapses.Exponential(8, 8, conn=fd.conn.FixedProb(0.5, seed=1), g_max=0.5)
    return pop, syn


def test_one_device_mesh_matches_unsharded():
    pop, syn = _small_net()

    class Net(fd.DynamicalSystem):
        pop: fd.neurons.LIF
        syn: fd.synapses.Exponential

        def __call__(self, state, x, ctx):
            syn_state, I = self.syn(state["syn"], state["pop"].spike, ctx)
            pop_state, out = self.pop(state["pop"], I + x, ctx)
            return {"pop": pop_state, "syn": syn_state}, out

    net = Net(pop, syn)
    xs = 4.0 * jax.random.uniform(jax.random.key(0), (50, 8))
    expected = fd.run(net, xs, dt=1.0)[1]
    sharded = fd.parallel.NeuronSharded(net, fd.parallel.neuron_mesh(), num=8)
    got = jax.jit(lambda s: fd.run(sharded, xs, dt=1.0, state=s)[1])(sharded.init_state())
    assert float(jnp.sum(expected)) > 0
    np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))


def test_errors():
    pop, syn = _small_net()
    mesh = fd.parallel.neuron_mesh()
    other = Mesh(np.asarray(jax.devices()), ("batch",))
    with pytest.raises(ValueError, match="`devices` is empty"):
        fd.parallel.neuron_mesh([])
    with pytest.raises(ValueError, match="needs an axis named 'neurons'"):
        fd.parallel.shard_model(syn, other)
    with pytest.raises(TypeError, match="must be a jax.sharding.Mesh"):
        fd.parallel.shard_neurons({}, "cpu", num=8)
    with pytest.raises(ValueError, match="no synapse with a sparse connectivity"):
        fd.parallel.shard_model(pop, mesh)
    with pytest.raises(TypeError, match="must be a funcdyn.conn.CSRProjection"):
        fd.parallel.ShardedCSRProjection(fd.conn.All2All().build(3, 3), mesh)
    with pytest.raises(ValueError, match="`num` must be a positive int"):
        fd.parallel.shard_neurons({}, mesh, num=0)
    with pytest.raises(TypeError, match="`exchange` must be a sequence"):
        fd.parallel.NeuronSharded(syn, mesh, num=8, exchange="spike")
    with pytest.raises(TypeError, match="must be a network with `init_state`"):
        fd.parallel.NeuronSharded(jnp.zeros(3), mesh, num=8)
