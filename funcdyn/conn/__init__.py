"""Connectivity: which presynaptic neurons connect to which postsynaptic ones, built as
dense masks or sparse (event-driven) operators."""

from ._connector import Connector as Connector
from ._event import csr_event_matvec as csr_event_matvec, csr_matvec as csr_matvec
from ._given import IJConn as IJConn, MatConn as MatConn
from ._graphs import ScaleFreeBA as ScaleFreeBA, SmallWorld as SmallWorld
from ._projection import (
    AllToAllProjection as AllToAllProjection,
    CSRProjection as CSRProjection,
    DenseProjection as DenseProjection,
    OneToOneProjection as OneToOneProjection,
    Projection as Projection,
)
from ._random import (
    FixedPostNum as FixedPostNum,
    FixedPreNum as FixedPreNum,
    FixedProb as FixedProb,
    FixedTotalNum as FixedTotalNum,
    GaussianProb as GaussianProb,
)
from ._regular import All2All as All2All, One2One as One2One
