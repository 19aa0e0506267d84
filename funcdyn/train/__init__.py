"""Training: a jitted optax step maker, BPTT fit/predict, checkpoints, data parallelism,
and readout training (offline ridge, online RLS / LMS)."""

from ._bptt import BPTT as BPTT
from ._fit_loop import Report as Report
from ._checkpoint import (
    Checkpoint as Checkpoint,
    CheckpointError as CheckpointError,
    load_checkpoint as load_checkpoint,
    save_checkpoint as save_checkpoint,
)
from ._distributed import (
    initialize as initialize,
    is_main_process as is_main_process,
    on_main_process as on_main_process,
    process_count as process_count,
    process_index as process_index,
    process_local_batches as process_local_batches,
    process_slice as process_slice,
)
from ._history import EarlyStopping as EarlyStopping, History as History
from ._sequence_loss import SequenceLoss as SequenceLoss, sequence_loss as sequence_loss
from ._sharding import (
    batch_mesh as batch_mesh,
    replicate as replicate,
    shard_batch as shard_batch,
)
from ._step import (
    make_step as make_step,
    NonFiniteError as NonFiniteError,
    partition_trainable as partition_trainable,
)
from ._truncated import (
    make_truncated_step as make_truncated_step,
    TruncatedBPTT as TruncatedBPTT,
    TruncatedLoss as TruncatedLoss,
)
from ._fit_method import OfflineMethod as OfflineMethod
from ._forecast import forecast as forecast
from ._lasso import LassoRegression as LassoRegression, lasso_regression as lasso_regression
from ._logistic import (
    logistic_regression as logistic_regression,
    LogisticRegression as LogisticRegression,
)
from ._offline import OfflineTrainer as OfflineTrainer
from ._online import (
    LMS as LMS,
    OnlineMethod as OnlineMethod,
    OnlineTrainer as OnlineTrainer,
    RLS as RLS,
    RLSState as RLSState,
)
from ._ridge import (
    least_squares as least_squares,
    LinearRegression as LinearRegression,
    ridge_regression as ridge_regression,
    RidgeRegression as RidgeRegression,
)
from ._eprop import EPropRule as EPropRule
from ._eprop_network import EPropNetwork as EPropNetwork, EPropState as EPropState
from ._forward_trainer import ForwardTrainer as ForwardTrainer, OnlineCarry as OnlineCarry
from ._rtrl import RTRLRule as RTRLRule
from ._trace_rule import TraceRule as TraceRule
