"""Placing a network on a neuron mesh: its sparse connectivities and its state."""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from ..conn import CSRProjection
from ..synapses import AbstractSynapse
from ._mesh import check_neuron_mesh, NEURON_AXIS
from ._projection import block_weights, ShardedCSRProjection, split_by_post


def check_num(num, mesh: Mesh, who: str) -> None:
    num_dev = mesh.shape[NEURON_AXIS]
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
        raise ValueError(f"{who}: `num` must be a positive int, got {num!r}.")
    if num % num_dev:
        raise ValueError(
            f"{who}: {num} neurons do not split evenly over {num_dev} devices; use a "
            f"population size divisible by {num_dev}."
        )


def _shard_synapse(syn: AbstractSynapse, mesh: Mesh) -> AbstractSynapse:
    conn = syn.conn
    if not isinstance(conn, CSRProjection):
        return syn
    sharded = ShardedCSRProjection(conn, mesh)
    w = syn.g_max
    if jnp.size(w) == 1:
        return eqx.tree_at(lambda s: s.conn, syn, sharded)
    w = np.broadcast_to(np.asarray(w), (conn.num_connections,))
    blocks = block_weights(w, split_by_post(conn, sharded.num_devices))
    blocks = jax.device_put(blocks, NamedSharding(mesh, P(NEURON_AXIS, None)))
    return eqx.tree_at(lambda s: (s.conn, s.g_max), syn, (sharded, blocks))


def shard_model(model: Any, mesh: Mesh) -> Any:
    """Splits every sparse synapse of `model` over the devices of `mesh` by
    postsynaptic neuron.

    Each [`funcdyn.synapses.AbstractSynapse`][] whose connectivity is a
    [`funcdyn.conn.CSRProjection`][] gets a [`funcdyn.parallel.ShardedCSRProjection`][]
    instead (a per-synapse `g_max` is moved into its block layout); nothing else
    changes, so the network's own `__call__` runs as before. Run it under `jax.jit` with
    a state placed by [`funcdyn.parallel.shard_neurons`][]: the neuron and synapse
    updates are elementwise and stay on the device that holds the neurons, and the
    synaptic products exchange the spikes.

    **Arguments:**

    - `model`: any pytree holding synapses (a network module, a dict, ...).
    - `mesh`: from [`funcdyn.parallel.neuron_mesh`][]; its size must divide the
      postsynaptic population of every sparse synapse.

    **Returns:** the model with its sparse synapses sharded.

    ```python
    mesh = funcdyn.parallel.neuron_mesh()
    net = funcdyn.parallel.shard_model(COBA(80_000, key=key), mesh)
    state = funcdyn.parallel.shard_neurons(net.init_state(key=key), mesh, num=80_000)
    final, spikes, _ = jax.jit(lambda s: funcdyn.run(net, drive, dt=0.1, state=s))(state)
    ```
    """
    mesh = check_neuron_mesh(mesh, "shard_model")
    found = []

    def visit(node):
        if isinstance(node, AbstractSynapse):
            new = _shard_synapse(node, mesh)
            found.append(new is not node)
            return new
        return node

    out = jtu.tree_map(visit, model, is_leaf=lambda n: isinstance(n, AbstractSynapse))
    if not any(found):
        raise ValueError(
            "shard_model: the model has no synapse with a sparse connectivity "
            "(funcdyn.conn.CSRProjection, e.g. from funcdyn.conn.FixedProb) to split; "
            "dense and all-to-all synapses are not sharded."
        )
    return out


def shard_neurons(tree: Any, mesh: Mesh, *, num: int) -> Any:
    """Places every array of `tree` whose last axis has length `num` split along that
    axis over `mesh`, and every other array whole on each device.

    **Arguments:**

    - `tree`: a pytree of arrays, e.g. the state of a network of `num` neurons (the
      potentials, spikes, refractory times and postsynaptic conductances are split;
      buffers of other sizes are replicated).
    - `mesh`: from [`funcdyn.parallel.neuron_mesh`][].
    - `num`: the population size; must be divisible by the mesh size.

    **Returns:** the placed pytree.
    """
    mesh = check_neuron_mesh(mesh, "shard_neurons")
    check_num(num, mesh, "shard_neurons")

    def place(leaf):
        if not isinstance(leaf, (jax.Array, np.ndarray)):
            return leaf
        ndim = np.ndim(leaf)
        if ndim and np.shape(leaf)[-1] == num:
            spec = P(*([None] * (ndim - 1) + [NEURON_AXIS]))
        else:
            spec = P()
        return jax.device_put(leaf, NamedSharding(mesh, spec))

    return jtu.tree_map(place, tree)
