"""Neuron-sharded simulation on 8 forced CPU devices. Not collected by default (the
device count must be set before JAX starts): `tests/test_parallel.py` runs this file
with pytest in a subprocess with `XLA_FLAGS=--xla_force_host_platform_device_count=8`."""

import pathlib
import re
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcdyn as fd

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))
from coba_ei import COBA, PARAMS  # noqa: E402

pytestmark = pytest.mark.skipif(jax.device_count() != 8, reason="needs 8 (forced) devices")


def _collectives(hlo: str) -> dict:
    names = ("all-gather", "all-reduce", "collective-permute", "all-to-all", "reduce-scatter")
    return {n: len(re.findall(rf"\b{n}(?:-start)?\(", hlo)) for n in names}


def test_coba_spike_trains_equal_one_device_for_1000_steps():
    num, steps = 4000, 1000
    net = COBA(num, key=jax.random.key(0), seed=0)
    state = net.init_state(key=jax.random.key(1))
    drive = jnp.full((steps,), PARAMS["I_ext"])

    def simulate(model, s):
        return fd.run(model, drive, dt=0.1, state=s)[1]

    one = jax.device_put((net, state), jax.devices()[0])
    expected = np.asarray(jax.jit(simulate)(*one))
    mesh = fd.parallel.neuron_mesh()
    sharded = fd.parallel.NeuronSharded(net, mesh, num=num)
    state8 = sharded.init_state(key=jax.random.key(1))
    # The state is split over the 8 devices, 500 neurons each, except the spikes.
    assert state8["neurons"].V.sharding.shard_shape((num,)) == (num // 8,)
    assert state8["exc"].g.sharding.shard_shape((num,)) == (num // 8,)
    assert state8["neurons"].spike.sharding.is_fully_replicated
    run = jax.jit(simulate)
    spikes = run(sharded, state8)
    assert spikes.sharding.shard_shape(spikes.shape) == (steps, num // 8)
    spikes = np.asarray(spikes)
    assert expected.sum() > 500  # the network is active (about 20 Hz)
    np.testing.assert_array_equal(spikes, expected)
    # One collective per step: the all-gather of the spike vector, nothing else.
    counts = _collectives(run.lower(sharded, state8).compile().as_text())
    assert counts == {"all-gather": 1, "all-reduce": 0, "collective-permute": 0,
                      "all-to-all": 0, "reduce-scatter": 0}, counts


@pytest.mark.parametrize("per_synapse", [pytest.param(False, marks=pytest.mark.slow), True])
def test_projection_product_and_gradients_match(per_synapse):
    num_pre, num_post, batch = 40, 32, 3
    syn = fd.synapses.Exponential(
        num_pre, num_post, conn=fd.conn.FixedProb(0.2, seed=3),
        g_max=fd.init.Normal(0.5, 0.1) if per_synapse else 0.7, mode=fd.batching_mode,
        key=jax.random.key(2),
    )
    mesh = fd.parallel.neuron_mesh()
    sharded = fd.parallel.shard_model(syn, mesh)
    conn, conn8 = syn.conn, sharded.conn
    assert isinstance(conn8, fd.parallel.ShardedCSRProjection)
    assert conn8.num_connections == conn.num_connections and conn8.block == num_post // 8
    x = (jax.random.uniform(jax.random.key(4), (batch, num_pre)) < 0.3).astype(jnp.float32)
    y = conn.apply(x, syn.g_max)
    for event in (True, False):
        y8 = jax.jit(lambda x, w, e=event: conn8.apply(x, w, event=e))(x, sharded.g_max)
        np.testing.assert_allclose(np.asarray(y8), np.asarray(y), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        np.asarray(conn8.to_dense(sharded.g_max)), np.asarray(conn.to_dense(syn.g_max)),
        rtol=0, atol=0,
    )
    cot = jax.random.normal(jax.random.key(5), (batch, num_post))

    def loss(p, xx, w):
        return jnp.sum(p.apply(xx, w, event=True) * cot)

    gx, gw = jax.grad(loss, argnums=(1, 2))(conn, x, syn.g_max)
    gx8, gw8 = jax.jit(jax.grad(loss, argnums=(1, 2)))(conn8, x, sharded.g_max)
    np.testing.assert_allclose(np.asarray(gx8), np.asarray(gx), rtol=1e-5, atol=1e-5)
    if per_synapse:
        # Back from the block layout to the original synapse order.
        dense8 = conn8.to_dense(gw8)
        np.testing.assert_allclose(np.asarray(dense8), np.asarray(conn.to_dense(gw)),
                                   rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_allclose(float(gw8), float(gw), rtol=1e-5)


class _EI(fd.DynamicalSystem):
    """A batched E/I network (the COBA example slices a non-batched spike vector)."""

    pop: fd.neurons.LIF
    exc: fd.synapses.Exponential
    inh: fd.synapses.Exponential
    num_exc: int

    def __call__(self, state, x, ctx):
        V, s = state["pop"].V, state["pop"].spike
        exc, I_e = self.exc(state["exc"], (s[..., : self.num_exc], V), ctx)
        inh, I_i = self.inh(state["inh"], (s[..., self.num_exc :], V), ctx)
        pop, out = self.pop(state["pop"], I_e + I_i + x, ctx)
        return {"pop": pop, "exc": exc, "inh": inh}, out


def test_batched_network_with_per_synapse_weights_matches():
    num, num_exc, steps, batch = 400, 320, 100, 2
    p = PARAMS
    with fd.batching_environment():
        pop = fd.neurons.LIF(num, tau=p["tau"], V_rest=p["V_rest"], V_reset=p["V_reset"],
                             V_th=p["V_th"], tau_ref=p["tau_ref"],
                             V_initializer=fd.init.Normal(p["V0_mean"], p["V0_std"]))
        exc = fd.synapses.Exponential(
            num_exc, num, conn=fd.conn.FixedProb(0.05, seed=0), tau=p["tau_e"],
            g_max=fd.init.Uniform(0.0, 2.0 * p["w_e"] * 4000 / (0.05 * num) / 80),
            output=fd.synouts.COBA(E=p["E_e"]), key=jax.random.key(0))
        inh = fd.synapses.Exponential(
            num - num_exc, num, conn=fd.conn.FixedProb(0.05, seed=1), tau=p["tau_i"],
            g_max=p["w_i"] * 4000 / (0.05 * num) / 80, output=fd.synouts.COBA(E=p["E_i"]))
    net = _EI(pop, exc, inh, num_exc, mode=fd.batching_mode)
    state = net.init_state(batch, key=jax.random.key(1))
    drive = jnp.full((steps, batch, num), p["I_ext"])
    expected = np.asarray(jax.jit(lambda s: fd.run(net, drive, dt=0.1, state=s)[1])(state))
    sharded = fd.parallel.NeuronSharded(net, fd.parallel.neuron_mesh(), num=num)
    assert sharded.model.exc.g_max.shape == sharded.model.exc.conn.weight_shape
    state8 = sharded.init_state(batch, key=jax.random.key(1))
    assert state8["pop"].V.sharding.shard_shape((batch, num)) == (batch, num // 8)
    got = jax.jit(lambda s: fd.run(sharded, drive, dt=0.1, state=s)[1])(state8)
    assert expected.sum() > 50
    # Per-synapse weights: each neuron's inputs are summed in the same order.
    np.testing.assert_array_equal(np.asarray(got), expected)


def test_uneven_split_is_refused():
    mesh = fd.parallel.neuron_mesh()
    syn = fd.synapses.Exponential(10, 12, conn=fd.conn.FixedProb(0.5, seed=0))
    with pytest.raises(ValueError, match="12 postsynaptic neurons do not split evenly over 8"):
        fd.parallel.shard_model(syn, mesh)
    with pytest.raises(ValueError, match="12 neurons do not split evenly over 8 devices"):
        fd.parallel.shard_neurons({"V": jnp.zeros(12)}, mesh, num=12)
    with pytest.raises(ValueError, match="12 neurons do not split evenly"):
        fd.parallel.NeuronSharded(syn, mesh, num=12)
    sharded = fd.parallel.shard_model(
        fd.synapses.Exponential(10, 16, conn=fd.conn.FixedProb(0.5, seed=0)), mesh)
    with pytest.raises(ValueError, match="per-synapse weights must have the block shape"):
        sharded.conn.apply(jnp.ones((1, 10)), jnp.ones(7))
