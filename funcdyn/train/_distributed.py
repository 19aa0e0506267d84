"""Multi-process training helpers on top of `jax.distributed`: who am I, which part of
the data do I feed, and who writes the files."""

import os
from collections.abc import Callable
from typing import Any

import jax
import jax.tree_util as jtu
import numpy as np
from jax.experimental import multihost_utils


def process_index() -> int:
    """This process's index in `[0, process_count())`; 0 without `jax.distributed`."""
    return jax.process_index()


def process_count() -> int:
    """The number of processes of the run; 1 without `jax.distributed`."""
    return jax.process_count()


def is_main_process() -> bool:
    """Whether this process writes the run's files (checkpoints, logs): process 0."""
    return jax.process_index() == 0


def initialize(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    local_device_ids: Any = None,
) -> None:
    """Starts this process's part of a multi-process run: `jax.distributed.initialize`,
    after choosing the `gloo` collectives on CPU (without them a CPU run has no
    cross-process all-reduce).

    Call it first, before any other JAX call. Without arguments `jax.distributed` reads
    the cluster's environment (SLURM, Open MPI, Kubernetes, Cloud TPU); else pass the
    three values, the same address on every process (a host and free port of process
    0, e.g. `"10.0.0.1:12345"`). `process_id` and `num_processes` also come from the
    variables `FUNCDYN_PROCESS_ID` and `FUNCDYN_NUM_PROCESSES` when set, and the address
    from `FUNCDYN_COORDINATOR`.

    **Arguments:** as `jax.distributed.initialize`.

    ```python
    funcdyn.train.initialize("127.0.0.1:12345", num_processes=2, process_id=rank)
    mesh = funcdyn.train.batch_mesh()            # spans the devices of every process
    ```
    """
    env = os.environ
    if coordinator_address is None:
        coordinator_address = env.get("FUNCDYN_COORDINATOR")
    if num_processes is None and "FUNCDYN_NUM_PROCESSES" in env:
        num_processes = int(env["FUNCDYN_NUM_PROCESSES"])
    if process_id is None and "FUNCDYN_PROCESS_ID" in env:
        process_id = int(env["FUNCDYN_PROCESS_ID"])
    # Must be set before the CPU backend starts; harmless on GPU/TPU.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=coordinator_address,
        num_processes=num_processes,
        process_id=process_id,
        local_device_ids=local_device_ids,
    )


def on_main_process(write: Callable[[], Any], *, name: str = "funcdyn-write") -> None:
    """Runs `write()` on process 0 only, then waits until every process gets here, so a
    file (a checkpoint) is written once and is complete before any process reads it.

    Without `jax.distributed` (one process) this is just `write()`. The arrays `write`
    saves must be fully replicated (parameters and optimizer states of data-parallel
    training are), so that process 0 holds their whole value.

    ```python
    funcdyn.train.on_main_process(lambda: funcdyn.train.save_checkpoint(
        path, model=model, opt_state=opt_state, step=step, epoch=epoch))
    ```
    """
    if jax.process_count() == 1:
        write()
        return
    if jax.process_index() == 0:
        write()
    multihost_utils.sync_global_devices(name)


def process_slice(global_size: int) -> slice:
    """The part of a global batch of `global_size` samples this process feeds: the
    `process_index()`-th of `process_count()` equal consecutive blocks.

    This is the layout [`funcdyn.train.shard_batch`][] assembles: process `p`'s local
    batch becomes rows `p * B / P` to `(p + 1) * B / P` of the global batch (with one
    device per process; with several, the same block is split over its devices).

    **Raises:** `ValueError` when `global_size` is not divisible by the process count.
    """
    count = jax.process_count()
    if isinstance(global_size, bool) or not isinstance(global_size, (int, np.integer)):
        raise TypeError(f"process_slice: `global_size` must be an int, got {global_size!r}.")
    if global_size < 1 or global_size % count:
        raise ValueError(
            f"process_slice: a global batch of {global_size} samples does not split evenly "
            f"over {count} processes; use a multiple of {count}."
        )
    local = global_size // count
    start = jax.process_index() * local
    return slice(start, start + local)


def process_local_batches(data: Any, batch_size: int) -> Any:
    """This process's share of array data `(num_samples, ...)` cut into global batches of
    `batch_size`: from each consecutive block of `batch_size` samples, the rows of
    [`funcdyn.train.process_slice`][]`(batch_size)`, concatenated.

    Passing the result to `BPTT.fit(..., batch_size=batch_size // process_count(),
    shuffle=False)` on every process trains on exactly the global batches
    `data[k * batch_size : (k + 1) * batch_size]`, as one process would.

    **Arguments:** `data`: a pytree of arrays with the sample axis first (an `(X, Y)`
    pair); `batch_size`: the global batch size, a multiple of the process count, and
    `num_samples` a multiple of it (the last short batch would not split evenly).
    """
    leaves = jtu.tree_leaves(data)
    if not leaves:
        raise ValueError("process_local_batches: `data` has no arrays.")
    n = int(np.shape(leaves[0])[0])
    part = process_slice(batch_size)
    if n % batch_size:
        raise ValueError(
            f"process_local_batches: {n} samples are not a whole number of global batches "
            f"of {batch_size}; drop the last {n % batch_size} samples or change batch_size."
        )

    def take(leaf):
        leaf = np.asarray(leaf)
        if leaf.shape[0] != n:
            raise ValueError(
                f"process_local_batches: every array needs {n} samples on its first axis, "
                f"got shape {leaf.shape}."
            )
        blocks = leaf.reshape((n // batch_size, batch_size) + leaf.shape[1:])
        local = blocks[:, part]
        return local.reshape((-1,) + leaf.shape[1:])

    return jtu.tree_map(take, data)
