"""Losses and metrics: plain functions of outputs and targets, for use inside a loss.

Sequences are batch-major, `(batch, T, ...)`, as in [`funcdyn.train.BPTT`][]; pass
`time_axis=0` for the time-major outputs that [`funcdyn.run`][] returns by default.
"""

from ._accuracy import (
    accuracy as accuracy,
    accuracy_last_step as accuracy_last_step,
    accuracy_max_over_time as accuracy_max_over_time,
    accuracy_mean_over_time as accuracy_mean_over_time,
)
from ._cross_entropy import (
    cross_entropy as cross_entropy,
    cross_entropy_last_step as cross_entropy_last_step,
    cross_entropy_max_over_time as cross_entropy_max_over_time,
    cross_entropy_mean_over_time as cross_entropy_mean_over_time,
)
from ._firing_rate import (
    firing_rate as firing_rate,  # alias of mean_rate (its former name)
    mean_rate as mean_rate,
    rate_l1 as rate_l1,
    rate_l2 as rate_l2,
)
from ._mse import mean_squared_error as mean_squared_error
from ._time import (
    last_step as last_step,
    max_over_time as max_over_time,
    mean_over_time as mean_over_time,
)
