"""Max and average pooling over 1, 2 or 3 spatial axes, channels last."""

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._core._context import Context
from .._core._modes import Mode, resolve_mode
from .._core._system import DynamicalSystem
from ._conv import Padding, as_padding, as_tuple, check_num_spatial_dims, output_size


class _Pool(DynamicalSystem):
    kernel_size: int | tuple[int, ...] = eqx.field(static=True)
    stride: int | tuple[int, ...] | None = eqx.field(static=True)
    padding: Padding = eqx.field(static=True)
    num_spatial_dims: int | None = eqx.field(static=True)

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] | None = None,
        padding: Padding = "VALID",
        num_spatial_dims: int | None = None,
        *,
        mode: Mode | None = None,
        name: str | None = None,
    ):
        cls = type(self).__name__
        if num_spatial_dims is None and isinstance(kernel_size, Sequence):
            num_spatial_dims = len(kernel_size)
        if num_spatial_dims is not None:
            n = check_num_spatial_dims(num_spatial_dims, cls)
            # Validate now; keep the normalised values.
            kernel_size = as_tuple(kernel_size, n, "kernel_size", cls)
            if stride is not None:
                stride = as_tuple(stride, n, "stride", cls)
            padding = as_padding(padding, n, cls)
        else:
            as_tuple(kernel_size, 1, "kernel_size", cls)
            if stride is not None:
                as_tuple(stride, 1, "stride", cls)
            if not isinstance(padding, str) and not isinstance(padding, (int, np.integer)):
                raise ValueError(
                    f"{cls}: with an int `kernel_size` and no `num_spatial_dims`, `padding` "
                    f"must be 'SAME', 'VALID' or an int, got {padding!r}."
                )
            padding = as_padding(padding, 1, cls)
            if not isinstance(padding, str):
                padding = padding[0][0]
            kernel_size = int(kernel_size)
            stride = None if stride is None else int(stride)
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.num_spatial_dims = num_spatial_dims
        self.mode = resolve_mode(mode)
        self.name = name

    def init_state(self, batch_size: int | None = None, *, key=None) -> None:
        """Pooling has no state: returns `None`."""
        self.check_batch_size(batch_size)
        return None

    def _window(self, x: Array):
        cls = type(self).__name__
        x = jnp.asarray(x)
        batch = 1 if self.mode.is_batching else 0
        n = self.num_spatial_dims
        if n is None:
            n = x.ndim - batch - 1
            if n not in (1, 2, 3):
                after = " after the batch axis" if batch else ""
                raise ValueError(
                    f"{cls} in {self.mode} pools every axis{after} before the channel (last) "
                    f"axis, 1 to 3 of them; got an input of shape {x.shape}. Pass "
                    "`num_spatial_dims` or a tuple `kernel_size` to fix the pooled axes."
                )
        elif x.ndim != batch + n + 1:
            spatial = ", ".join(f"s{k}" for k in range(1, n + 1))
            raise ValueError(
                f"{cls} in {self.mode} expects input of shape "
                f"({'batch, ' if batch else ''}{spatial}, channels), got {x.shape}."
            )
        kernel = as_tuple(self.kernel_size, n, "kernel_size", cls)
        stride = kernel if self.stride is None else as_tuple(self.stride, n, "stride", cls)
        padding = self.padding if isinstance(self.padding, str) else as_padding(
            self.padding, n, cls
        )
        spatial = x.shape[batch : batch + n]
        pads = (padding,) * n if isinstance(padding, str) else padding
        out = [output_size(s, k, st, 1, p) for s, k, st, p in zip(spatial, kernel, stride, pads)]
        if min(out) < 1:
            raise ValueError(
                f"{cls}: the input's spatial shape {spatial} is smaller than the window "
                f"{kernel} with padding {padding!r}."
            )
        lead = (1,) * batch
        window = lead + kernel + (1,)
        strides = lead + stride + (1,)
        if not isinstance(padding, str):
            padding = ((0, 0),) * batch + padding + ((0, 0),)
        return x, window, strides, padding


class MaxPool(_Pool):
    r"""Max pooling over the spatial axes, channels last. Stateless:
    $y[p, c] = \max_{k} x[s \cdot p + k, c]$ (padding is $-\infty$).

    **Arguments:**

    - `kernel_size`: the window, an int or a sequence of ints (one per spatial axis).
    - `stride`: an int or a sequence; default: the window size (non-overlapping).
    - `padding`: `"VALID"` (default), `"SAME"`, an int, a sequence of ints or of
      `(low, high)` pairs.
    - `num_spatial_dims`: 1, 2 or 3. By default it is the length of `kernel_size` when
      that is a sequence; with an int `kernel_size`, every axis between the batch axis
      (if any) and the last (channel) axis is pooled.
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][].

    **Shapes:** `x` is `([batch,] *spatial, channels)`; `y` is
    `([batch,] *out_spatial, channels)`. The state is `None`.

    ```python
    pool = funcdyn.layers.MaxPool(2, mode=funcdyn.batching_mode)
    _, y = pool(None, x, ctx)     # (batch, 28, 28, 16) -> (batch, 14, 14, 16)
    ```
    """

    def __call__(self, state: None, x: Array, ctx: Context) -> tuple[None, Array]:
        x, window, strides, padding = self._window(x)
        # A Python scalar init lets JAX recognise the max monoid, which it differentiates.
        if jnp.issubdtype(x.dtype, jnp.inexact):
            init = -float("inf")
        else:
            init = int(jnp.iinfo(x.dtype).min)
        y = jax.lax.reduce_window(x, init, jax.lax.max, window, strides, padding)
        return state, y


class AvgPool(_Pool):
    r"""Average pooling over the spatial axes, channels last. Stateless:
    $y[p, c] = \frac{1}{|K|} \sum_{k \in K} x[s \cdot p + k, c]$.

    Padded positions count as zeros and the sum is always divided by the window size
    `|K|` (PyTorch's default `count_include_pad=True`).

    **Arguments:** as for [`funcdyn.layers.MaxPool`][].

    ```python
    pool = funcdyn.layers.AvgPool((2, 2), mode=funcdyn.batching_mode)
    _, y = pool(None, x, ctx)     # (batch, 28, 28, 16) -> (batch, 14, 14, 16)
    ```
    """

    def __call__(self, state: None, x: Array, ctx: Context) -> tuple[None, Array]:
        x, window, strides, padding = self._window(x)
        y = jax.lax.reduce_window(x, 0, jax.lax.add, window, strides, padding)
        return state, y / float(np.prod(window))


def _fixed_dims(base: type, n: int):
    def __init__(
        self,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] | None = None,
        padding: Padding = "VALID",
        *,
        mode: Mode | None = None,
        name: str | None = None,
    ):
        base.__init__(self, kernel_size, stride, padding, n, mode=mode, name=name)

    return __init__


class MaxPool1d(MaxPool):
    """[`funcdyn.layers.MaxPool`][] over one spatial axis:
    `MaxPool1d(kernel_size, stride=None, padding="VALID", *, mode, name)`."""

    __init__ = _fixed_dims(MaxPool, 1)


class MaxPool2d(MaxPool):
    """[`funcdyn.layers.MaxPool`][] over two spatial axes:
    `MaxPool2d(kernel_size, stride=None, padding="VALID", *, mode, name)`."""

    __init__ = _fixed_dims(MaxPool, 2)


class MaxPool3d(MaxPool):
    """[`funcdyn.layers.MaxPool`][] over three spatial axes:
    `MaxPool3d(kernel_size, stride=None, padding="VALID", *, mode, name)`."""

    __init__ = _fixed_dims(MaxPool, 3)


class AvgPool1d(AvgPool):
    """[`funcdyn.layers.AvgPool`][] over one spatial axis:
    `AvgPool1d(kernel_size, stride=None, padding="VALID", *, mode, name)`."""

    __init__ = _fixed_dims(AvgPool, 1)


class AvgPool2d(AvgPool):
    """[`funcdyn.layers.AvgPool`][] over two spatial axes:
    `AvgPool2d(kernel_size, stride=None, padding="VALID", *, mode, name)`."""

    __init__ = _fixed_dims(AvgPool, 2)


class AvgPool3d(AvgPool):
    """[`funcdyn.layers.AvgPool`][] over three spatial axes:
    `AvgPool3d(kernel_size, stride=None, padding="VALID", *, mode, name)`."""

    __init__ = _fixed_dims(AvgPool, 3)
