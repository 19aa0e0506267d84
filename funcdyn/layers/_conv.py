"""Convolutions over 1, 2 or 3 spatial axes, channels last."""

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from .._core._modes import Mode, resolve_mode
from .._core._system import DynamicalSystem
from ..init import XavierNormal, ZeroInit, parameter
from ..typing import ParamSpec
from ._checks import check_positive_int
from ._recurrent import split_key

Padding = str | int | Sequence[int] | Sequence[tuple[int, int]]

_SPATIAL = {1: "W", 2: "HW", 3: "DHW"}


def dimension_numbers(num_spatial_dims: int) -> tuple[str, str, str]:
    """Channels-last specs of `lax.conv_general_dilated`: `NHWC`, `HWIO`, `NHWC`."""
    s = _SPATIAL[num_spatial_dims]
    return f"N{s}C", f"{s}IO", f"N{s}C"


def check_num_spatial_dims(value, cls: str) -> int:
    is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not is_int or value not in (1, 2, 3):
        raise ValueError(f"{cls}: `num_spatial_dims` must be 1, 2 or 3, got {value!r}.")
    return int(value)


def as_tuple(value, n: int, arg: str, cls: str) -> tuple[int, ...]:
    """An int or a sequence of `n` ints, all >= 1, as a tuple of `n` ints."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value,) * n
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != n:
        raise ValueError(
            f"{cls}: `{arg}` must be a positive int or a sequence of {n} positive ints, "
            f"got {value!r}."
        )
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(
                f"{cls}: `{arg}` must be a positive int or a sequence of {n} positive ints, "
                f"got {value!r}."
            )
    return tuple(int(v) for v in value)


def as_padding(value, n: int, cls: str) -> str | tuple[tuple[int, int], ...]:
    """`"SAME"`, `"VALID"`, or `n` `(low, high)` pairs of non-negative ints."""
    message = (
        f"{cls}: `padding` must be 'SAME', 'VALID', a non-negative int, a sequence of {n} "
        f"ints or a sequence of {n} (low, high) pairs, got {value!r}."
    )
    if isinstance(value, str):
        if value.upper() not in ("SAME", "VALID"):
            raise ValueError(message)
        return value.upper()

    def is_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0

    if is_int(value):
        return ((int(value), int(value)),) * n
    if not isinstance(value, Sequence) or len(value) != n:
        raise ValueError(message)
    pads = []
    for v in value:
        if is_int(v):
            pads.append((int(v), int(v)))
        elif isinstance(v, Sequence) and len(v) == 2 and all(is_int(u) for u in v):
            pads.append((int(v[0]), int(v[1])))
        else:
            raise ValueError(message)
    return tuple(pads)


def output_size(size: int, kernel: int, stride: int, dilation: int, padding) -> int:
    """The length of one spatial axis after a convolution or a pooling window."""
    if padding == "SAME":
        return -(-size // stride)
    low, high = (0, 0) if padding == "VALID" else padding
    span = dilation * (kernel - 1) + 1
    return (size + low + high - span) // stride + 1


def check_spatial_input(model, x, num_spatial_dims: int, channels: int, what: str) -> Array:
    """Checks the input has the spatial axes, a channel axis of `channels`, and a batch
    axis exactly when the model's mode has one."""
    x = jnp.asarray(x)
    cls = type(model).__name__
    batch = 1 if model.mode.is_batching else 0
    if x.ndim != batch + num_spatial_dims + 1 or x.shape[-1] != channels:
        spatial = ", ".join(f"s{k}" for k in range(1, num_spatial_dims + 1))
        expected = f"({'batch, ' if batch else ''}{spatial}, {channels})"
        raise ValueError(
            f"{cls} in {model.mode} expects {what} of shape {expected} (channels last), "
            f"got {x.shape}."
        )
    return x


class Conv(DynamicalSystem):
    r"""A convolution (strictly, a cross-correlation) over `num_spatial_dims` spatial axes,
    channels last, as in BrainPy and TensorFlow. Stateless:

    $$y[p, o] = b[o] + \sum_{k, c} x[s \cdot p + d \cdot k, c]\, W[k, c, o].$$

    **Arguments:**

    - `num_spatial_dims`: 1, 2 or 3 ([`funcdyn.layers.Conv1d`][],
      [`funcdyn.layers.Conv2d`][] and [`funcdyn.layers.Conv3d`][] fix it).
    - `in_channels`, `out_channels`: channel counts.
    - `kernel_size`: an int or a sequence of `num_spatial_dims` ints.
    - `stride`, `dilation`: ints or sequences (the dilation spreads the kernel taps).
    - `padding`: `"SAME"` (output size `ceil(size / stride)`), `"VALID"` (no padding), an
      int, a sequence of ints, or a sequence of `(low, high)` pairs (zero padding).
    - `groups`: the number of channel groups (it must divide both channel counts); each
      group of `out_channels // groups` outputs sees `in_channels // groups` inputs.
    - `W_initializer`: the kernel `W`, shape
      `(*kernel_size, in_channels // groups, out_channels)` (default
      [`funcdyn.init.XavierNormal`][]).
    - `b_initializer`: the bias, shape `(out_channels,)` (default zeros), or `None`.
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][].
    - `key`: a PRNG key, needed by random initialisers.

    **Shapes:** `x` is `(*spatial, in_channels)` in non-batching mode and
    `(batch, *spatial, in_channels)` in batching modes; `y` is
    `([batch,] *out_spatial, out_channels)`. The state is `None`.

    ```python
    conv = funcdyn.layers.Conv2d(3, 16, kernel_size=3, mode=funcdyn.training_mode, key=key)
    _, y = conv(None, images, ctx)    # (batch, 28, 28, 3) -> (batch, 28, 28, 16)
    ```
    """

    W: Array
    b: Array | None
    num_spatial_dims: int = eqx.field(static=True)
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    kernel_size: tuple[int, ...] = eqx.field(static=True)
    stride: tuple[int, ...] = eqx.field(static=True)
    padding: str | tuple[tuple[int, int], ...] = eqx.field(static=True)
    dilation: tuple[int, ...] = eqx.field(static=True)
    groups: int = eqx.field(static=True)

    def __init__(
        self,
        num_spatial_dims: int,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: Padding = "SAME",
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        W_initializer: ParamSpec = XavierNormal(),
        b_initializer: ParamSpec = ZeroInit(),
        *,
        mode: Mode | None = None,
        name: str | None = None,
        key: PRNGKeyArray | None = None,
    ):
        cls = type(self).__name__
        n = check_num_spatial_dims(num_spatial_dims, cls)
        check_positive_int(in_channels, "in_channels", cls)
        check_positive_int(out_channels, "out_channels", cls)
        check_positive_int(groups, "groups", cls)
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{cls}: `groups` ({groups}) must divide both in_channels ({in_channels}) "
                f"and out_channels ({out_channels})."
            )
        self.num_spatial_dims = n
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = as_tuple(kernel_size, n, "kernel_size", cls)
        self.stride = as_tuple(stride, n, "stride", cls)
        self.dilation = as_tuple(dilation, n, "dilation", cls)
        self.padding = as_padding(padding, n, cls)
        self.groups = groups
        shape = self.kernel_size + (in_channels // groups, out_channels)
        kw, kb = split_key(key, 2)
        self.W = parameter(W_initializer, shape, name="W_initializer", key=kw)
        self.b = parameter(b_initializer, (out_channels,), name="b_initializer", key=kb,
                           allow_none=True)
        self.mode = resolve_mode(mode)
        self.name = name

    def init_state(self, batch_size: int | None = None, *, key=None) -> None:
        """A convolution has no state: returns `None`."""
        self.check_batch_size(batch_size)
        return None

    def out_shape(self, spatial: Sequence[int]) -> tuple[int, ...]:
        """The output spatial shape for an input of spatial shape `spatial`."""
        pads = self.padding
        if isinstance(pads, str):
            pads = (pads,) * self.num_spatial_dims
        return tuple(
            output_size(*args)
            for args in zip(spatial, self.kernel_size, self.stride, self.dilation, pads)
        )

    def __call__(self, state: None, x: Array, ctx: Context) -> tuple[None, Array]:
        n = self.num_spatial_dims
        x = check_spatial_input(self, x, n, self.in_channels, "input")
        spatial = x.shape[-n - 1 : -1]
        out = self.out_shape(spatial)
        if min(out) < 1:
            raise ValueError(
                f"{type(self).__name__}: the input's spatial shape {spatial} is smaller than "
                f"the (dilated) kernel {self.kernel_size} with padding {self.padding!r}; "
                "use a larger input, padding='SAME' or a smaller kernel."
            )
        batched = x if self.mode.is_batching else x[None]
        y = jax.lax.conv_general_dilated(
            batched,
            self.W,
            window_strides=self.stride,
            padding=self.padding,
            rhs_dilation=self.dilation,
            dimension_numbers=dimension_numbers(n),
            feature_group_count=self.groups,
        )
        if self.b is not None:
            y = y + jnp.broadcast_to(self.b, y.shape)
        return state, (y if self.mode.is_batching else y[0])


def _fixed_dims(n: int):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: Padding = "SAME",
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        W_initializer: ParamSpec = XavierNormal(),
        b_initializer: ParamSpec = ZeroInit(),
        *,
        mode: Mode | None = None,
        name: str | None = None,
        key: PRNGKeyArray | None = None,
    ):
        Conv.__init__(
            self, n, in_channels, out_channels, kernel_size, stride, padding, dilation,
            groups, W_initializer, b_initializer, mode=mode, name=name, key=key,
        )

    return __init__


class Conv1d(Conv):
    """A 1-d [`funcdyn.layers.Conv`][]: `x` is `([batch,] length, in_channels)`.

    Takes the arguments of [`funcdyn.layers.Conv`][] without `num_spatial_dims`:
    `Conv1d(in_channels, out_channels, kernel_size, stride=1, padding="SAME",
    dilation=1, groups=1, W_initializer=..., b_initializer=..., *, mode, name, key)`.
    """

    __init__ = _fixed_dims(1)


class Conv2d(Conv):
    """A 2-d [`funcdyn.layers.Conv`][]: `x` is `([batch,] height, width, in_channels)`.

    Takes the arguments of [`funcdyn.layers.Conv`][] without `num_spatial_dims`:
    `Conv2d(in_channels, out_channels, kernel_size, stride=1, padding="SAME",
    dilation=1, groups=1, W_initializer=..., b_initializer=..., *, mode, name, key)`.
    """

    __init__ = _fixed_dims(2)


class Conv3d(Conv):
    """A 3-d [`funcdyn.layers.Conv`][]: `x` is
    `([batch,] depth, height, width, in_channels)`.

    Takes the arguments of [`funcdyn.layers.Conv`][] without `num_spatial_dims`:
    `Conv3d(in_channels, out_channels, kernel_size, stride=1, padding="SAME",
    dilation=1, groups=1, W_initializer=..., b_initializer=..., *, mode, name, key)`.
    """

    __init__ = _fixed_dims(3)
