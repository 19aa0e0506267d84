"""funcdyn: functional brain-dynamics models in JAX, the Equinox way.

Models are immutable pytrees; `new_state, y = model(state, x, ctx)` is one time step.
"""

from . import init as init, layers as layers, testing as testing
from . import train as train, losses as losses
from . import surrogate as surrogate, neurons as neurons
from . import data as data
from . import event as event
from . import conn as conn, synapses as synapses, synouts as synouts, encoding as encoding, measure as measure
from . import parallel as parallel
from .encoding import (
    constant_input as constant_input,
    ramp_input as ramp_input,
    section_input as section_input,
    spike_input as spike_input,
)
from .measure import firing_rate as firing_rate, raster_plot as raster_plot
from ._core._context import Context as Context
from ._core._modes import (
    BatchingMode as BatchingMode,
    batching_environment as batching_environment,
    batching_mode as batching_mode,
    environment as environment,
    get_default_mode as get_default_mode,
    Mode as Mode,
    NonBatchingMode as NonBatchingMode,
    nonbatching_mode as nonbatching_mode,
    training_environment as training_environment,
    training_mode as training_mode,
    TrainingMode as TrainingMode,
)
from ._core._sequential import Sequential as Sequential
from ._core._system import DynamicalSystem as DynamicalSystem
from ._core._trainable import trainable as trainable
from ._run import run as run
from ._simulate import simulate as simulate
from ._summary import summary as summary

from . import nir as nir  # imports the `nir` package only when a conversion runs

from ._version import get_version as _get_version

__version__ = _get_version()
