"""Encoders (spikes from values) and input helpers (currents over time)."""

from ._diff import DiffEncoder as DiffEncoder
from ._inputs import (
    constant_input as constant_input,
    ramp_input as ramp_input,
    section_input as section_input,
    spike_input as spike_input,
)
from ._latency import LatencyEncoder as LatencyEncoder
from ._poisson import PoissonEncoder as PoissonEncoder
