"""A network simulated with its neurons split over the devices of a mesh."""

from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.tree_util as jtu
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from .._core._modes import BatchingMode, NonBatchingMode, TrainingMode
from .._core._system import DynamicalSystem
from ._mesh import check_neuron_mesh, NEURON_AXIS
from ._shard import check_num, shard_model


def _last_name(path) -> str | None:
    if not path:
        return None
    key = path[-1]
    for attr in ("name", "key"):
        value = getattr(key, attr, None)
        if isinstance(value, str):
            return value
    return None


def _specs(tree: Any, num: int, exchange: tuple[str, ...]):
    """The partition spec of each array leaf: split along a last axis of length `num`,
    whole when the leaf is named in `exchange` (or of another size)."""

    def spec(path, leaf):
        ndim = np.ndim(leaf)
        if ndim == 0 or np.shape(leaf)[-1] != num or _last_name(path) in exchange:
            return P()
        return P(*([None] * (ndim - 1) + [NEURON_AXIS]))

    return jtu.tree_map_with_path(spec, tree)


class NeuronSharded(DynamicalSystem):
    r"""Runs a network of `num` neurons with the neurons, their state and the synapses
    onto them split over the devices of a mesh (model parallelism).

    Device `d` of `D` owns the neurons `d * num / D <= j < (d + 1) * num / D`: their
    potentials, refractory times and postsynaptic conductances, and every synapse onto
    them (the sparse synapses are split by [`funcdyn.parallel.shard_model`][]). One
    step is

    1. *exchange*: the state leaves named in `exchange` (the spike vectors, `"spike"`)
       are gathered whole onto every device: **one all-gather per step**, of the spikes
       of the last step, whatever slices of them the network's synapses read (an E/I
       split need not fall on a device boundary);
    2. the network's own step: each synapse runs the event-driven product over its local
       block (only the synapses of the neurons that spiked onto the local neurons), and
       the neuron and synapse updates run elementwise on each device's own neurons.

    The results are those of the unsharded network: the same arithmetic on the same
    values, so with scalar weights the spike trains are identical; a per-synapse weight
    sums a neuron's inputs in the same order as well.

    Run it under `jax.jit` like any model (`funcdyn.run(sharded, xs, ...)`); the step
    contains no host round trip. On forced CPU devices
    (`XLA_FLAGS=--xla_force_host_platform_device_count=8`) the devices share one
    processor, so this shows the overheads of the split, not a speedup.

    **Arguments:**

    - `model`: the network, a [`funcdyn.DynamicalSystem`][] whose state holds arrays of
      `num` neurons on their last axis, with sparse synapses
      ([`funcdyn.conn.CSRProjection`][]).
    - `mesh`: from [`funcdyn.parallel.neuron_mesh`][]; its size must divide `num` and
      the postsynaptic population of every sparse synapse.
    - `num`: the number of neurons split over the devices.
    - `exchange`: the names (attribute or dict key) of the state leaves every device
      needs whole each step; default `("spike",)`.

    **Shapes:** those of `model`.

    ```python
    mesh = funcdyn.parallel.neuron_mesh()                    # e.g. 8 devices
    net = funcdyn.parallel.NeuronSharded(COBA(80_000, key=key), mesh, num=80_000)
    state = net.init_state(key=key)
    run = jax.jit(lambda s: funcdyn.run(net, drive, dt=0.1, state=s)[1])
    spikes = run(state)                                      # (T, 80_000), sharded
    ```
    """

    model: Any
    mesh: Mesh = eqx.field(static=True)
    num: int = eqx.field(static=True)
    exchange: tuple[str, ...] = eqx.field(static=True)

    supported_modes = (NonBatchingMode, BatchingMode, TrainingMode)

    def __init__(
        self,
        model: Any,
        mesh: Mesh,
        *,
        num: int,
        exchange: Sequence[str] = ("spike",),
        name: str | None = None,
    ):
        mesh = check_neuron_mesh(mesh, "NeuronSharded")
        check_num(num, mesh, "NeuronSharded")
        if isinstance(exchange, str) or not all(isinstance(e, str) for e in exchange):
            raise TypeError(
                f"NeuronSharded: `exchange` must be a sequence of state leaf names such as "
                f"('spike',), got {exchange!r}."
            )
        if not callable(model) or not hasattr(model, "init_state"):
            raise TypeError(
                "NeuronSharded: `model` must be a network with `init_state` and a step "
                f"`(state, x, ctx)`, got {type(model).__name__}."
            )
        self.model = shard_model(model, mesh)
        self.mesh = mesh
        self.num = int(num)
        self.exchange = tuple(exchange)
        mode = getattr(model, "mode", None)
        if mode is not None:
            self.mode = mode
        self.name = name

    def _constrain(self, tree: Any, place: bool) -> Any:
        specs = _specs(tree, self.num, self.exchange)
        put = jax.device_put if place else jax.lax.with_sharding_constraint
        return jtu.tree_map(
            lambda leaf, spec: put(leaf, NamedSharding(self.mesh, spec)), tree, specs
        )

    def init_state(self, batch_size: int | None = None, *, key: PRNGKeyArray | None = None):
        """The network's initial state, placed on the mesh."""
        return self._constrain(self.model.init_state(batch_size, key=key), place=True)

    def __call__(self, state: Any, x: Any, ctx: Context) -> tuple[Any, Array]:
        # Asking for the exchanged leaves whole makes XLA gather each of them once here.
        state = self._constrain(state, place=False)
        state, y = self.model(state, x, ctx)
        # ... and keeps everything else split (the carry of a scan stays on its devices).
        specs = _specs(state, self.num, ())
        state = jtu.tree_map(
            lambda leaf, spec: jax.lax.with_sharding_constraint(
                leaf, NamedSharding(self.mesh, spec)
            ),
            state,
            specs,
        )
        return state, y
