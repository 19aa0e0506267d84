"""Measurements of simulated activity: firing rates and raster plots."""

from ._firing_rate import firing_rate as firing_rate
from ._raster import raster_plot as raster_plot
