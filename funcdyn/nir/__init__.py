"""NIR (the Neuromorphic Intermediate Representation) import and export.

`from_nir(graph, dt=...)` builds a funcdyn model from a `nir.NIRGraph` (or a `.nir`
file); `to_nir(model, dt=...)` writes a funcdyn model as a `nir.NIRGraph`. The `nir`
package is optional (`pip install funcdyn[nir]`) and imported only when one of them runs.
"""

from ._channels_first import ChannelsFirst as ChannelsFirst
from ._delay import Delay as Delay
from ._delay import DelayState as DelayState
from ._export import to_nir as to_nir
from ._graph_model import NIRNetwork as NIRNetwork
from ._import import from_nir as from_nir
from ._integrator import Integrator as Integrator
from ._integrator import IntegratorState as IntegratorState
from ._scale import Scale as Scale
from ._spike import StrictHeaviside as StrictHeaviside
from ._sum_pool import SumPool2d as SumPool2d
from ._threshold import Threshold as Threshold
