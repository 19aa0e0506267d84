"""Data parallelism: a one-axis device mesh, batch sharding and parameter replication."""

from collections.abc import Sequence
from typing import Any

import jax
import jax.tree_util as jtu
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

BATCH_AXIS = "batch"


def batch_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A one-dimensional device mesh whose only axis, `"batch"`, splits the batch.

    **Arguments:**

    - `devices`: the devices to use; default `jax.devices()`, i.e. every device of every
      process (so the same call builds the global mesh on a multi-host run).

    **Returns:** a `jax.sharding.Mesh` with the axis name `"batch"`.

    **Multi-host use.** Start every process with `jax.distributed.initialize()` (it reads
    the coordinator address, process count and id from the cluster environment, or take
    them as arguments) before any other JAX call. `jax.devices()` then lists the devices
    of all hosts and this mesh spans them. Each process feeds only its own part of every
    global batch (e.g. sample `i` of the global batch goes to process
    `i * process_count // global_batch`); [`funcdyn.train.shard_batch`][] assembles the
    global array with `jax.make_array_from_process_local_data`. The parameters are
    replicated on every device, and XLA inserts the all-reduce of the gradients.

    ```python
    jax.distributed.initialize()                # multi-host only
    mesh = funcdyn.train.batch_mesh()
    init, step = funcdyn.train.make_step(loss_fn, optax.adam(1e-3), mesh=mesh)
    ```
    """
    devices = jax.devices() if devices is None else list(devices)
    if not devices:
        raise ValueError("batch_mesh: `devices` is empty.")
    return Mesh(np.asarray(devices), (BATCH_AXIS,))


def check_mesh(mesh: Any, who: str) -> Mesh | None:
    """`mesh` if it is `None` or a mesh with a `"batch"` axis; a clear error otherwise."""
    if mesh is None:
        return None
    if not isinstance(mesh, Mesh):
        raise TypeError(
            f"{who}: `mesh` must be a jax.sharding.Mesh (see funcdyn.train.batch_mesh) or "
            f"None, got {type(mesh).__name__}."
        )
    if BATCH_AXIS not in mesh.axis_names:
        raise ValueError(
            f"{who}: the mesh needs an axis named {BATCH_AXIS!r} to split the batch over; "
            f"it has {mesh.axis_names}. Build it with funcdyn.train.batch_mesh()."
        )
    return mesh


def _batch_sharding(mesh: Mesh, ndim: int, axis: int) -> NamedSharding:
    spec = [None] * ndim
    spec[axis] = BATCH_AXIS
    return NamedSharding(mesh, PartitionSpec(*spec))


def shard_batch(batch: Any, mesh: Mesh, *, axis: int = 0) -> Any:
    """Places every array of `batch` on `mesh`, split along `axis` over the `"batch"`
    mesh axis.

    An array whose batch size does not divide evenly among the devices (or that has no
    axis `axis`, such as a scalar) is replicated instead, so a short last batch still
    runs (it compiles once more). On a multi-host run each process passes its local part
    of the batch and gets the global array back.

    **Arguments:**

    - `batch`: a pytree of arrays.
    - `mesh`: from [`funcdyn.train.batch_mesh`][].
    - `axis`: the batch axis of the arrays (0 for batch-major data).

    **Returns:** the pytree of sharded `jax.Array`s.
    """
    n_dev = mesh.shape[BATCH_AXIS]
    multi_process = jax.process_count() > 1

    def place(leaf):
        if not hasattr(leaf, "shape"):
            return leaf
        ndim = len(leaf.shape)
        if multi_process:
            if ndim <= axis:
                return jax.make_array_from_process_local_data(
                    NamedSharding(mesh, PartitionSpec()), np.asarray(leaf)
                )
            return jax.make_array_from_process_local_data(
                _batch_sharding(mesh, ndim, axis), np.asarray(leaf)
            )
        if ndim <= axis or leaf.shape[axis] % n_dev:
            return jax.device_put(leaf, NamedSharding(mesh, PartitionSpec()))
        return jax.device_put(leaf, _batch_sharding(mesh, ndim, axis))

    return jtu.tree_map(place, batch)


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Places every array of `tree` (parameters, optimizer state) whole on every device of
    `mesh`; other leaves are returned unchanged.

    On a multi-process run every process must pass the same values (the same model
    built from the same key, or a loaded checkpoint): each places its copy on its own
    devices, and the result is one global replicated array."""
    sharding = NamedSharding(mesh, PartitionSpec())
    multi_process = jax.process_count() > 1

    def place(leaf):
        if not isinstance(leaf, (jax.Array, np.ndarray)):
            return leaf
        if multi_process and not (isinstance(leaf, jax.Array) and leaf.sharding == sharding):
            # The mesh spans devices of other processes: each process supplies the
            # (identical) value for its own devices.
            if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
                return jax.device_put(leaf, sharding)
            return jax.make_array_from_process_local_data(sharding, np.asarray(leaf))
        return jax.device_put(leaf, sharding)

    return jtu.tree_map(place, tree)
