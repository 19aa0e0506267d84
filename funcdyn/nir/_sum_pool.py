"""NIR's `SumPool2d`: the sum over each pooling window, channels first."""

import equinox as eqx
import jax
import numpy as np
from jaxtyping import Array

from .. import Context, DynamicalSystem
from ._checks import mode_or_default


def _pair(value, arg: str, minimum: int) -> tuple[int, int]:
    v = np.asarray(value).reshape(-1)
    if v.size == 1:
        v = np.repeat(v, 2)
    if v.size != 2 or not np.issubdtype(v.dtype, np.integer) or np.any(v < minimum):
        raise ValueError(
            f"SumPool2d: `{arg}` must be an int or a pair of ints >= {minimum}, got {value!r}."
        )
    return int(v[0]), int(v[1])


class SumPool2d(DynamicalSystem):
    r"""Sum pooling over the two spatial axes, channels first (NIR's layout). Stateless:

    $$y[c, i, j] = \sum_{a < k_h,\ b < k_w} x[c,\ s_h i + a - p_h,\ s_w j + b - p_w]$$

    with zeros outside the input (`padding` on both sides of each axis).

    **Arguments:**

    - `kernel_size`, `stride`, `padding`: ints or `(height, width)` pairs (kernel and
      stride >= 1, padding >= 0).
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][].

    **Shapes:** `x` is `(C, H, W)` or `(batch, C, H, W)`; `y` is `(C, H', W')` with
    `H' = (H + 2 p_h - k_h) // s_h + 1`.

    ```python
    pool = funcdyn.nir.SumPool2d(2, 2, 0)
    _, y = pool(None, jnp.ones((3, 4, 4)), funcdyn.Context(dt=1.0))   # (3, 2, 2) of 4.0
    ```
    """

    kernel_size: tuple[int, int] = eqx.field(static=True)
    stride: tuple[int, int] = eqx.field(static=True)
    padding: tuple[int, int] = eqx.field(static=True)

    def __init__(self, kernel_size, stride=None, padding=0, *, mode=None, name=None):
        self.kernel_size = _pair(kernel_size, "kernel_size", 1)
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", 1)
        self.padding = _pair(padding, "padding", 0)
        self.mode = mode_or_default(mode)
        self.name = name

    def out_shape(self, shape) -> tuple[int, int, int]:
        """The output `(C, H', W')` for an input `(C, H, W)`."""
        c, h, w = shape
        out = tuple(
            (n + 2 * p - k) // s + 1
            for n, k, s, p in zip((h, w), self.kernel_size, self.stride, self.padding)
        )
        return (c,) + out

    def init_state(self, batch_size=None, *, key=None) -> None:
        """Stateless: `None`."""
        self.check_batch_size(batch_size)
        return None

    def __call__(self, state: None, x, ctx: Context) -> tuple[None, Array]:
        batch = 1 if self.mode.is_batching else 0
        if x.ndim != batch + 3:
            raise ValueError(
                f"SumPool2d in {self.mode} expects input of shape "
                f"({'batch, ' if batch else ''}C, H, W), got {x.shape}."
            )
        if min(self.out_shape(x.shape[batch:])[1:]) < 1:
            raise ValueError(
                f"SumPool2d: the input's spatial shape {x.shape[batch + 1:]} is smaller than "
                f"the window {self.kernel_size} with padding {self.padding}."
            )
        lead = (1,) * (batch + 1)
        pads = ((0, 0),) * (batch + 1) + tuple((p, p) for p in self.padding)
        y = jax.lax.reduce_window(
            x, 0.0, jax.lax.add, lead + self.kernel_size, lead + self.stride, pads
        )
        return state, y
