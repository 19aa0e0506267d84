"""Neuron models: spiking populations, the readout integrator, and their integrators."""

from ._base import AbstractNeuron as AbstractNeuron
from ._base import AbstractSpikingNeuron as AbstractSpikingNeuron
from ._adex_if import AdExIF as AdExIF
from ._adex_if import AdExIFState as AdExIFState
from ._alif import ALIF as ALIF
from ._alif import ALIFState as ALIFState
from ._exp_if import ExpIF as ExpIF
from ._exp_if import ExpIFState as ExpIFState
from ._gif import GIF as GIF
from ._gif import GIFState as GIFState
from ._hh import HH as HH
from ._hh import HHState as HHState
from ._hh import hh_rates as hh_rates
from ._if import IF as IF
from ._input_group import InputGroup as InputGroup
from ._integrate import exp_euler_step as exp_euler_step
from ._integrate import solver_step as solver_step
from ._izhikevich import Izhikevich as Izhikevich
from ._izhikevich import IzhikevichState as IzhikevichState
from ._leaky_integrator import (
    LeakyIntegrator as LeakyIntegrator,
)
from ._leaky_integrator import (
    LeakyIntegratorState as LeakyIntegratorState,
)
from ._lif import LIF as LIF
from ._lif import LIFState as LIFState
from ._qua_if import QuaIF as QuaIF
from ._qua_if import QuaIFState as QuaIFState
from ._recurrent_lif import Recurrent as Recurrent
from ._recurrent_lif import RecurrentLIF as RecurrentLIF
