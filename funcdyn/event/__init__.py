"""Event-driven simulation with exact spike times and exact gradients.

The same neuron objects that run on the time grid (`neuron(state, x, ctx)` with
surrogate gradients) run here from event to event: LIF, IF and the leaky integrator in
closed form, any other ODE neuron with diffrax event detection.
"""

from ._closed_form import ClosedForm as ClosedForm
from ._current import PiecewiseConstant as PiecewiseConstant
from ._layer import Layer as Layer
from ._max_membrane import max_membrane_cross_entropy as max_membrane_cross_entropy
from ._method import AbstractEventMethod as AbstractEventMethod
from ._network import Network as Network
from ._ode import ODE as ODE
from ._spike_train import SpikeTrain as SpikeTrain
from ._spikes import Spikes as Spikes
from ._ttfs_loss import (
    first_spike_prediction as first_spike_prediction,
)
from ._ttfs_loss import (
    ttfs_cross_entropy as ttfs_cross_entropy,
)
from ._yin_yang import yin_yang as yin_yang
