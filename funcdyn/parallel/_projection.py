"""A CSR connectivity split by postsynaptic neuron over the devices of a mesh."""

import functools
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
from jaxtyping import Array

from ..conn import csr_event_matvec, CSRProjection, Projection
from ._mesh import check_neuron_mesh, NEURON_AXIS


def _chunk(counts: np.ndarray) -> int:
    # Edges per dynamic slice: the largest local fan-out, unless a few hubs would make
    # every active neuron pay for theirs; then about twice the mean (hubs take several).
    if counts.size == 0 or counts.max() == 0:
        return 0
    largest = int(counts.max())
    mean = float(counts.mean())
    if largest <= 4 * mean + 32:
        return largest
    return min(largest, 1 << int(np.ceil(np.log2(2 * mean + 1))))


class _Split(NamedTuple):
    indptr: np.ndarray  # (D, num_pre + 1)
    indices: np.ndarray  # (D, width) local postsynaptic index; padding 0 (in range)
    pre: np.ndarray  # (D, width); padding num_pre (no neuron)
    edge_ids: np.ndarray  # (D, width) position in the original CSR; padding -1
    max_fanout: int
    chunk: int


def split_by_post(conn: CSRProjection, num_dev: int) -> _Split:
    """The per-device CSR blocks of `conn`, split by postsynaptic neuron."""
    block = conn.num_post // num_dev
    pre = np.asarray(conn.pre)
    post = np.asarray(conn.indices)
    shard = (post // block).astype(np.int16 if num_dev < 2**15 else np.int32)
    # A stable sort keeps each block in (pre, post) order: its own CSR layout.
    order = np.argsort(shard, kind="stable")
    counts = np.bincount(shard, minlength=num_dev)
    starts = np.concatenate([[0], np.cumsum(counts)])
    width = max(int(counts.max()) if counts.size else 0, 1)
    indptr = np.zeros((num_dev, conn.num_pre + 1), np.int32)
    indices = np.zeros((num_dev, width), np.int32)
    pres = np.full((num_dev, width), conn.num_pre, np.int32)
    edge_ids = np.full((num_dev, width), -1, np.int64)
    max_fanout, fans = 0, []
    for d in range(num_dev):
        ids = order[starts[d] : starts[d + 1]]
        n = ids.size
        local_pre = pre[ids]
        fan = np.bincount(local_pre, minlength=conn.num_pre)
        fans.append(fan[fan > 0])
        indptr[d, 1:] = np.cumsum(fan)
        indices[d, :n] = post[ids] - d * block
        pres[d, :n] = local_pre
        edge_ids[d, :n] = ids
        max_fanout = max(max_fanout, int(fan.max()) if fan.size else 0)
    fan_all = np.concatenate(fans) if fans else np.zeros(0, np.int64)
    return _Split(indptr, indices, pres, edge_ids, max_fanout, min(_chunk(fan_all), width))


def block_weights(w: np.ndarray, parts: _Split) -> np.ndarray:
    """Per-synapse weights `(nnz,)` in the original order -> the block layout."""
    ids = parts.edge_ids
    return np.where(ids >= 0, w[np.maximum(ids, 0)], np.zeros((), w.dtype))


class ShardedCSRProjection(Projection):
    r"""A sparse connectivity whose synapses are split over the devices of a mesh by
    their *postsynaptic* neuron: device `d` of `D` holds every synapse onto the neurons
    `d * B <= j < (d + 1) * B` (`B = num_post / D`), as its own CSR block indexed by
    the (global) presynaptic neuron.

    `apply(x, w)` computes the same `y = x W` as the
    [`funcdyn.conn.CSRProjection`][] it was built from, as a `jax.shard_map` over the
    mesh: every device receives the whole presynaptic vector `x` (for spikes, the one
    collective of a step: XLA gathers the spike vector, which is sharded like the
    neurons), runs the event-driven product of [`funcdyn.conn.csr_event_matvec`][] on its
    block (visiting only the synapses of active neurons onto its own neurons) and
    returns its slice of `y`, which stays on the device. Memory per device: the
    `nnz / D` synapses of its block plus a `num_pre + 1` row pointer.

    Build it with [`funcdyn.parallel.shard_model`][], which also moves a per-synapse
    weight into the block layout. Per-synapse weights have the shape `weight_shape =
    (D, nnz_max)` (block `d` in row `d`, zero-padded); the product is differentiable
    with respect to `x` and `w`.

    **Arguments:**

    - `conn`: the [`funcdyn.conn.CSRProjection`][] to split.
    - `mesh`: a mesh with a `"neurons"` axis ([`funcdyn.parallel.neuron_mesh`][]) whose
      size divides `conn.num_post`.

    **Attributes:** `num_devices`, `block` (`B`), `nnz` (the number of synapses).
    """

    indptr: Array
    indices: Array
    pre: Array
    mesh: Mesh = eqx.field(static=True)
    block: int = eqx.field(static=True)
    nnz: int = eqx.field(static=True)
    max_fanout: int = eqx.field(static=True)
    chunk: int = eqx.field(static=True)

    def __init__(self, conn: CSRProjection, mesh: Mesh):
        who = "ShardedCSRProjection"
        if not isinstance(conn, CSRProjection):
            raise TypeError(
                f"{who}: `conn` must be a funcdyn.conn.CSRProjection (a sparse connectivity, "
                f"e.g. built by funcdyn.conn.FixedProb), got {type(conn).__name__}."
            )
        mesh = check_neuron_mesh(mesh, who)
        num_dev = mesh.shape[NEURON_AXIS]
        if conn.num_post % num_dev:
            raise ValueError(
                f"{who}: {conn.num_post} postsynaptic neurons do not split evenly over "
                f"{num_dev} devices; use a population size divisible by {num_dev} (or a "
                f"mesh whose size divides {conn.num_post})."
            )
        parts = split_by_post(conn, num_dev)
        sharding = NamedSharding(mesh, P(NEURON_AXIS, None))
        self.indptr = jax.device_put(parts.indptr, sharding)
        self.indices = jax.device_put(parts.indices, sharding)
        self.pre = jax.device_put(parts.pre, sharding)
        self.mesh = mesh
        self.num_pre = conn.num_pre
        self.num_post = conn.num_post
        self.block = conn.num_post // num_dev
        self.nnz = conn.num_connections
        self.max_fanout = parts.max_fanout
        self.chunk = parts.chunk

    @property
    def num_devices(self) -> int:
        return self.mesh.shape[NEURON_AXIS]

    @property
    def weight_shape(self) -> tuple[int, ...]:
        return tuple(self.indices.shape)

    @property
    def num_connections(self) -> int:
        return self.nnz

    def apply(self, x: Array, w: Array, *, event: bool = True) -> Array:
        w = jnp.asarray(w, dtype=x.dtype)
        scalar = w.size == 1
        if scalar:
            w = w.reshape(())
        elif w.shape != self.weight_shape:
            raise ValueError(
                f"ShardedCSRProjection: per-synapse weights must have the block shape "
                f"{self.weight_shape} (funcdyn.parallel.shard_model moves them), got {w.shape}."
            )
        local = functools.partial(
            _local_product, event=event, scalar=scalar, block=self.block,
            chunk=self.chunk, max_fanout=self.max_fanout,
        )
        blocks = P(NEURON_AXIS, None)
        # Asking for `x` whole here lets XLA gather the sharded spike vector once, before
        # any slicing of it (an E/I split), instead of resharding each slice.
        x = jax.lax.with_sharding_constraint(x, NamedSharding(self.mesh, P()))
        return jax.shard_map(
            local,
            mesh=self.mesh,
            in_specs=(P(), P() if scalar else blocks, blocks, blocks, blocks),
            out_specs=P(None, NEURON_AXIS),
            # The library kernel's loops carry unannotated zeros: skip the varying-axis
            # type check (the specs above state the layout).
            check_vma=False,
        )(x, w, self.indptr, self.indices, self.pre)

    def to_dense(self, w: Array = 1.0) -> Array:
        w = jnp.broadcast_to(jnp.asarray(w, dtype=jnp.result_type(float)), self.weight_shape)
        offsets = (jnp.arange(self.num_devices, dtype=jnp.int32) * self.block)[:, None]
        dense = jnp.zeros((self.num_pre, self.num_post), w.dtype)
        # Padding has pre == num_pre: out of range, dropped.
        return dense.at[self.pre, self.indices + offsets].add(w, mode="drop")


def _local_product(x, w, indptr, indices, pre, *, event, scalar, block, chunk, max_fanout):
    """One device's `x W_d`: `x` `(batch, num_pre)` whole, the block `(1, ...)`."""
    w = w if scalar else w[0]
    indptr, indices, pre = indptr[0], indices[0], pre[0]
    if event:
        return csr_event_matvec(
            x, w, indptr, indices, pre, num_post=block, chunk=chunk, max_fanout=max_fanout
        )
    # Dense-valued x visits every synapse; padding (pre == num_pre) contributes zero.
    valid = (pre < x.shape[1])[None]
    values = x[:, jnp.minimum(pre, x.shape[1] - 1)]
    weights = w if scalar else w[None]
    values = jnp.where(valid, values * weights, jnp.zeros((), values.dtype))
    return jax.ops.segment_sum(values.T, indices, num_segments=block).T
