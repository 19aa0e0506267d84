"""Layers: dense, dropout, and the rate-model and reservoir layers."""

from ._dense import Dense as Dense
from ._dropout import Dropout as Dropout
