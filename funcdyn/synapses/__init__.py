"""Synapses: presynaptic spikes to postsynaptic currents through a connectivity."""

from ._alpha import Alpha as Alpha
from ._base import AbstractSynapse as AbstractSynapse, DelayState as DelayState
from ._delta import Delta as Delta, DeltaState as DeltaState
from ._dual_exponential import (
    DualExponential as DualExponential,
    DualExponentialState as DualExponentialState,
)
from ._exponential import Exponential as Exponential, ExponentialState as ExponentialState
from ._kinetic import AMPA as AMPA, GABAa as GABAa, KineticState as KineticState
from ._nmda import NMDA as NMDA, NMDAState as NMDAState
from ._std import STD as STD, STDState as STDState
from ._stp import STP as STP, STPState as STPState
