"""Layers: dense, dropout, and the rate-model and reservoir layers."""

from ._activation import Activation as Activation, Identity as Identity
from ._conv import Conv as Conv, Conv1d as Conv1d, Conv2d as Conv2d, Conv3d as Conv3d
from ._conv_lstm import ConvLSTMCell as ConvLSTMCell
from ._dense import Dense as Dense
from ._flatten import Flatten as Flatten, Unflatten as Unflatten
from ._gru_cell import GRUCell as GRUCell
from ._lstm_cell import LSTMCell as LSTMCell, LSTMState as LSTMState
from ._norm import (
    BatchNorm1d as BatchNorm1d,
    BatchNorm2d as BatchNorm2d,
    BatchNorm3d as BatchNorm3d,
    BatchNormState as BatchNormState,
    LayerNorm as LayerNorm,
)
from ._pool import (
    AvgPool as AvgPool,
    AvgPool1d as AvgPool1d,
    AvgPool2d as AvgPool2d,
    AvgPool3d as AvgPool3d,
    MaxPool as MaxPool,
    MaxPool1d as MaxPool1d,
    MaxPool2d as MaxPool2d,
    MaxPool3d as MaxPool3d,
)
from ._rnn_cell import RNNCell as RNNCell
from ._dropout import Dropout as Dropout
from ._nvar import NVAR as NVAR, NVARState as NVARState
from ._reservoir import Reservoir as Reservoir, ReservoirState as ReservoirState
