"""The device mesh of a neuron-sharded simulation."""

from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import Mesh

NEURON_AXIS = "neurons"


def neuron_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A one-dimensional device mesh whose only axis, `"neurons"`, splits a population.

    **Arguments:**

    - `devices`: the devices to use; default `jax.devices()` (every device of every
      process on a multi-host run).

    **Returns:** a `jax.sharding.Mesh` with the axis name `"neurons"`.

    ```python
    mesh = funcdyn.parallel.neuron_mesh()          # all devices
    mesh = funcdyn.parallel.neuron_mesh(jax.devices()[:4])
    ```
    """
    devices = jax.devices() if devices is None else list(devices)
    if not devices:
        raise ValueError("neuron_mesh: `devices` is empty; pass at least one device.")
    return Mesh(np.asarray(devices), (NEURON_AXIS,))


def check_neuron_mesh(mesh, who: str) -> Mesh:
    if not isinstance(mesh, Mesh):
        raise TypeError(
            f"{who}: `mesh` must be a jax.sharding.Mesh (see funcdyn.parallel.neuron_mesh), "
            f"got {type(mesh).__name__}."
        )
    if NEURON_AXIS not in mesh.axis_names:
        raise ValueError(
            f"{who}: the mesh needs an axis named {NEURON_AXIS!r} to split the neurons over; "
            f"it has {mesh.axis_names}. Build it with funcdyn.parallel.neuron_mesh()."
        )
    return mesh
