"""Model-parallel (neuron-sharded) simulation: a population and the synapses onto it
split over the devices of a `jax.sharding.Mesh`."""

from ._mesh import neuron_mesh as neuron_mesh
from ._projection import ShardedCSRProjection as ShardedCSRProjection
from ._shard import shard_model as shard_model, shard_neurons as shard_neurons
from ._network import NeuronSharded as NeuronSharded
