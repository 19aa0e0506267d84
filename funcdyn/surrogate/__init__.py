"""Spike functions: the Heaviside step forward, a surrogate derivative backward."""

from ._arctan import Arctan as Arctan
from ._base import Surrogate as Surrogate
from ._boxcar import Boxcar as Boxcar
from ._erf import ERF as ERF
from ._fast_sigmoid import FastSigmoid as FastSigmoid
from ._gaussian import Gaussian as Gaussian
from ._inverse_square import InverseSquare as InverseSquare
from ._leaky_relu import LeakyRelu as LeakyRelu
from ._log_tailed_relu import LogTailedRelu as LogTailedRelu
from ._multi_gaussian import MultiGaussian as MultiGaussian
from ._nonzero_sign_log import NonzeroSignLog as NonzeroSignLog
from ._piecewise_exp import PiecewiseExp as PiecewiseExp
from ._piecewise_leaky_relu import PiecewiseLeakyRelu as PiecewiseLeakyRelu
from ._piecewise_quadratic import PiecewiseQuadratic as PiecewiseQuadratic
from ._q_pseudo_spike import QPseudoSpike as QPseudoSpike
from ._relu_grad import ReluGrad as ReluGrad
from ._s2nn import S2NN as S2NN
from ._sigmoid import Sigmoid as Sigmoid
from ._slayer_grad import SlayerGrad as SlayerGrad
from ._soft_sign import SoftSign as SoftSign
from ._squarewave_fourier import SquarewaveFourierSeries as SquarewaveFourierSeries
from ._straight_through import StraightThrough as StraightThrough
from ._triangle import Triangle as Triangle
