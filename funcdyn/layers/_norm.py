"""Normalisation layers: layer norm and batch norm (running statistics in the state)."""

from collections.abc import Sequence
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from .._checks import check_positive, check_range
from .._core._context import Context
from .._core._modes import Mode, resolve_mode
from .._core._system import DynamicalSystem
from ..init import OneInit, ZeroInit, default_float_dtype, parameter
from ..typing import ParamSpec
from ._checks import check_positive_int
from ._recurrent import split_key


def _check_epsilon(epsilon, cls: str) -> float:
    return check_positive(epsilon, "epsilon", cls)


def _normalise(x, mean, var, epsilon, scale, bias):
    """`(x - mean) / sqrt(var + epsilon) * scale + bias`, broadcasting explicitly."""
    y = (x - jnp.broadcast_to(mean, x.shape)) * jnp.broadcast_to(
        jax.lax.rsqrt(var + epsilon), x.shape
    )
    if scale is not None:
        y = y * jnp.broadcast_to(scale, x.shape)
    if bias is not None:
        y = y + jnp.broadcast_to(bias, x.shape)
    return y


class LayerNorm(DynamicalSystem):
    r"""Layer normalisation (Ba et al. 2016) over the last axes of each example.
    Stateless:

    $$y = \frac{x - \mathrm{E}[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}} \odot \gamma + \beta,$$

    the mean and (biased) variance taken over the trailing `normalized_shape` axes.

    **Arguments:**

    - `normalized_shape`: an int or a tuple: the trailing axes to normalise over.
    - `epsilon`: added to the variance (default `1e-5`).
    - `scale_initializer`: $\gamma$, shape `normalized_shape` (default ones), or `None`.
    - `bias_initializer`: $\beta$, shape `normalized_shape` (default zeros), or `None`.
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][].
    - `key`: a PRNG key, for random initialisers.

    **Shapes:** `x` is `([batch,] ..., *normalized_shape)` (any leading example axes);
    `y` has its shape. The state is `None`.

    ```python
    norm = funcdyn.layers.LayerNorm(64, mode=funcdyn.training_mode)
    _, y = norm(None, x, ctx)     # (batch, 64) -> (batch, 64)
    ```
    """

    scale: Array | None
    bias: Array | None
    normalized_shape: tuple[int, ...] = eqx.field(static=True)
    epsilon: float = eqx.field(static=True)

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        epsilon: float = 1e-5,
        scale_initializer: ParamSpec = OneInit(),
        bias_initializer: ParamSpec = ZeroInit(),
        *,
        mode: Mode | None = None,
        name: str | None = None,
        key: PRNGKeyArray | None = None,
    ):
        cls = type(self).__name__
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (normalized_shape,)
        if (
            not isinstance(normalized_shape, Sequence)
            or len(normalized_shape) == 0
            or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1
                   for s in normalized_shape)
        ):
            raise ValueError(
                f"{cls}: `normalized_shape` must be a positive int or a non-empty tuple of "
                f"positive ints, got {normalized_shape!r}."
            )
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.epsilon = _check_epsilon(epsilon, cls)
        shape = self.normalized_shape
        ks, kb = split_key(key, 2)
        self.scale = parameter(scale_initializer, shape, name="scale_initializer", key=ks,
                               allow_none=True)
        self.bias = parameter(bias_initializer, shape, name="bias_initializer", key=kb,
                              allow_none=True)
        self.mode = resolve_mode(mode)
        self.name = name

    def init_state(self, batch_size: int | None = None, *, key=None) -> None:
        """LayerNorm has no state: returns `None`."""
        self.check_batch_size(batch_size)
        return None

    def __call__(self, state: None, x: Array, ctx: Context) -> tuple[None, Array]:
        x = jnp.asarray(x)
        k = len(self.normalized_shape)
        batch = 1 if self.mode.is_batching else 0
        if x.ndim < k + batch or x.shape[x.ndim - k :] != self.normalized_shape:
            lead = "batch, ..., " if batch else "..., "
            raise ValueError(
                f"{type(self).__name__} in {self.mode} expects input of shape "
                f"({lead}{', '.join(map(str, self.normalized_shape))}), got {x.shape}."
            )
        axes = tuple(range(x.ndim - k, x.ndim))
        mean = jnp.mean(x, axis=axes, keepdims=True)
        var = jnp.var(x, axis=axes, keepdims=True)
        return state, _normalise(x, mean, var, self.epsilon, self.scale, self.bias)


class BatchNormState(eqx.Module):
    """The state of the batch norms: the running `mean` and `var`, shape
    `(num_features,)`. They are statistics of the whole batch, so they have no batch
    axis in any mode."""

    mean: Array
    var: Array


class _BatchNorm(DynamicalSystem):
    scale: Array | None
    bias: Array | None
    num_features: int = eqx.field(static=True)
    epsilon: float = eqx.field(static=True)
    momentum: float = eqx.field(static=True)

    # Numbers of axes of one example (the channel axis included) that are accepted.
    example_ndims: ClassVar = ()
    layout: ClassVar = ""

    def __init__(
        self,
        num_features: int,
        epsilon: float = 1e-5,
        momentum: float = 0.99,
        scale_initializer: ParamSpec = OneInit(),
        bias_initializer: ParamSpec = ZeroInit(),
        *,
        mode: Mode | None = None,
        name: str | None = None,
        key: PRNGKeyArray | None = None,
    ):
        cls = type(self).__name__
        check_positive_int(num_features, "num_features", cls)
        self.num_features = num_features
        self.epsilon = _check_epsilon(epsilon, cls)
        self.momentum = check_range(
            momentum, "momentum", cls, low=0.0, high=1.0, high_open=True,
            hint="It is the weight of the old running statistics (PyTorch's 0.1 is 0.9 here).",
        )
        shape = (num_features,)
        ks, kb = split_key(key, 2)
        self.scale = parameter(scale_initializer, shape, name="scale_initializer", key=ks,
                               allow_none=True)
        self.bias = parameter(bias_initializer, shape, name="bias_initializer", key=kb,
                              allow_none=True)
        self.mode = resolve_mode(mode)
        self.name = name

    def init_state(self, batch_size: int | None = None, *, key=None) -> BatchNormState:
        """Running mean zeros and running variance ones, shape `(num_features,)` (no batch
        axis in any mode)."""
        self.check_batch_size(batch_size)
        dtype = default_float_dtype()
        return BatchNormState(
            mean=jnp.zeros((self.num_features,), dtype),
            var=jnp.ones((self.num_features,), dtype),
        )

    def __call__(self, state: BatchNormState, x: Array, ctx: Context
                 ) -> tuple[BatchNormState, Array]:
        cls = type(self).__name__
        x = jnp.asarray(x)
        batch = 1 if self.mode.is_batching else 0
        if x.ndim - batch not in self.example_ndims or x.shape[-1] != self.num_features:
            layouts = " or ".join(
                "(" + ("batch, " if batch else "") + lay.format(c=self.num_features) + ")"
                for lay in self.layout
            )
            raise ValueError(
                f"{cls} in {self.mode} expects input of shape {layouts} (channels last), "
                f"got {x.shape}."
            )
        if not isinstance(state, BatchNormState):
            raise TypeError(
                f"{cls}: the state must be a BatchNormState (from init_state), got "
                f"{type(state).__name__}."
            )
        if not ctx.fit:
            return state, _normalise(x, state.mean, state.var, self.epsilon, self.scale,
                                     self.bias)
        if not batch:
            raise ValueError(
                f"{cls}: batch statistics (ctx.fit=True) need a batch axis, which "
                "NonBatchingMode does not have. Build the layer in funcdyn.batching_mode or "
                "funcdyn.training_mode; in NonBatchingMode it can only normalise with its "
                "running statistics (fit=False)."
            )
        axes = tuple(range(x.ndim - 1))
        count = int(np.prod(x.shape[:-1]))
        if count < 2:
            # The batch variance of one value is 0 and its mean the value itself: the
            # output would be exactly `bias` whatever the input. Shapes are static, so
            # this is caught at trace time.
            raise ValueError(
                f"{cls}: batch statistics (ctx.fit=True) need more than one value per "
                f"channel, got input of shape {x.shape} (one value per channel: the "
                "output would be all zeros plus the bias). Train with a batch of at least "
                "2, or evaluate with ctx.fit=False (running statistics)."
            )
        mean = jnp.mean(x, axis=axes)
        var = jnp.var(x, axis=axes)
        # The running statistics are bookkeeping for evaluation, not part of the model
        # being differentiated.
        m = self.momentum
        new_state = BatchNormState(
            mean=m * state.mean + (1.0 - m) * jax.lax.stop_gradient(mean),
            var=m * state.var + (1.0 - m) * jax.lax.stop_gradient(var),
        )
        return new_state, _normalise(x, mean, var, self.epsilon, self.scale, self.bias)


_BATCH_NORM_DOC = r"""Batch normalisation (Ioffe & Szegedy 2015) over {what}, channels last:

    $$y = \frac{{x - \mu}}{{\sqrt{{\sigma^2 + \epsilon}}}} \odot \gamma + \beta.$$

    When `ctx.fit` is `True`, $\mu$ and $\sigma^2$ are the mean and (biased) variance of
    the current batch over every axis but the channel axis, and the running statistics in
    the state are updated as
    `running = momentum * running + (1 - momentum) * batch_statistic` (the Flax, Equinox
    and BrainPy convention; PyTorch's `momentum=0.1` is `momentum=0.9` here). When
    `ctx.fit` is `False` the running statistics are used and the state is unchanged.

    Batch statistics need a batch axis: in `NonBatchingMode` the layer only evaluates
    (`fit=False`), and `fit=True` raises a `ValueError`.

    **Arguments:**

    - `num_features`: the number of channels (the last axis).
    - `epsilon`: added to the variance (default `1e-5`).
    - `momentum`: the weight of the old running statistics, in `[0, 1)` (default `0.99`).
    - `scale_initializer`: $\gamma$, shape `(num_features,)` (default ones), or `None`.
    - `bias_initializer`: $\beta$, shape `(num_features,)` (default zeros), or `None`.
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][].
    - `key`: a PRNG key, for random initialisers.

    **Shapes:** `x` is {shapes}; `y` has its shape. The state is a
    [`funcdyn.layers.BatchNormState`][] of shape `(num_features,)` arrays.

    ```python
    bn = funcdyn.layers.{name}(16, mode=funcdyn.training_mode)
    state = bn.init_state(32)
    state, y = bn(state, x, funcdyn.Context(fit=True))   # batch statistics
    ```
    """


class BatchNorm1d(_BatchNorm):
    __doc__ = _BATCH_NORM_DOC.format(
        what="features or sequences",
        shapes="`([batch,] num_features)` or `([batch,] length, num_features)`",
        name="BatchNorm1d",
    )
    example_ndims: ClassVar = (1, 2)
    layout: ClassVar = ("{c}", "length, {c}")


class BatchNorm2d(_BatchNorm):
    __doc__ = _BATCH_NORM_DOC.format(
        what="images", shapes="`([batch,] height, width, num_features)`", name="BatchNorm2d"
    )
    example_ndims: ClassVar = (3,)
    layout: ClassVar = ("height, width, {c}",)


class BatchNorm3d(_BatchNorm):
    __doc__ = _BATCH_NORM_DOC.format(
        what="volumes", shapes="`([batch,] depth, height, width, num_features)`",
        name="BatchNorm3d",
    )
    example_ndims: ClassVar = (4,)
    layout: ClassVar = ("depth, height, width, {c}",)
