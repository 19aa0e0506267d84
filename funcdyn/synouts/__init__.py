"""Synaptic outputs: how a conductance becomes a postsynaptic current."""

from ._base import SynOut as SynOut
from ._coba import COBA as COBA
from ._cuba import CUBA as CUBA
from ._mg_block import MgBlock as MgBlock
