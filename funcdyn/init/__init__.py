"""Parameter initialisers and the rule that resolves a parameter argument."""

from ._base import default_float_dtype as default_float_dtype, Initializer as Initializer
from ._constant import (
    Constant as Constant,
    IdentityMatrix as IdentityMatrix,
    IdentityMatrix as Identity,  # alias of IdentityMatrix (its former name)
    OneInit as OneInit,
    ZeroInit as ZeroInit,
)
from ._orthogonal import Orthogonal as Orthogonal
from ._parameter import parameter as parameter
from ._random import Normal as Normal, TruncatedNormal as TruncatedNormal, Uniform as Uniform
from ._variance_scaling import (
    compute_fans as compute_fans,
    KaimingNormal as KaimingNormal,
    KaimingUniform as KaimingUniform,
    LecunNormal as LecunNormal,
    LecunUniform as LecunUniform,
    VarianceScaling as VarianceScaling,
    XavierNormal as XavierNormal,
    XavierUniform as XavierUniform,
)
