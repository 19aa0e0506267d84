"""Delta modulation: spikes on changes of the input."""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._checks import check_bool, check_positive
from .._core._context import Context
from .._core._modes import Mode, resolve_mode
from .._core._system import DynamicalSystem
from ..init._base import default_float_dtype


class DiffEncoder(DynamicalSystem):
    r"""Delta modulation: a spike where the input rose by at least `threshold` since the
    previous step,

    $$s_t = \begin{cases} 1 & x_t - x_{t-1} \ge \theta \\
    -1 & x_t - x_{t-1} \le -\theta \text{ and off\_spike} \\ 0 & \text{otherwise,}
    \end{cases}$$

    with $x_{-1} = 0$ (the first step compares with zero). The state is the previous
    input. The output is piecewise constant in `x`: its gradient is zero.

    **Arguments:**

    - `num`: the number of inputs (the state's size).
    - `threshold`: $\theta > 0$, default `0.1`.
    - `off_spike`: also emit `-1` spikes on decreases. Default `False`.
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][].

    **Shapes:** `x` is `(num,)` or `(batch, num)`; so are the spikes.

    ```python
    encoder = funcdyn.encoding.DiffEncoder(1, threshold=0.5, off_spike=True)
    _, spikes, _ = funcdyn.run(encoder, signal[:, None], dt=1.0)
    ```
    """

    num: int = eqx.field(static=True)
    threshold: float = eqx.field(static=True)
    off_spike: bool = eqx.field(static=True)

    def __init__(
        self,
        num: int,
        threshold: float = 0.1,
        off_spike: bool = False,
        *,
        mode: Mode | None = None,
        name: str | None = None,
    ):
        if isinstance(num, (bool, np.bool_)) or not isinstance(num, (int, np.integer)) or num < 1:
            raise ValueError(f"DiffEncoder: `num` must be a positive int, got {num!r}.")
        self.num = int(num)
        self.threshold = check_positive(threshold, "threshold", "DiffEncoder")
        self.off_spike = check_bool(off_spike, "off_spike", "DiffEncoder")
        self.mode = resolve_mode(mode)
        self.name = name

    def init_state(self, batch_size: int | None = None, *, key=None) -> Array:
        """The previous input: zeros, `(num,)` or `(batch, num)`."""
        self.check_batch_size(batch_size)
        shape = (self.num,) if batch_size is None else (batch_size, self.num)
        return jnp.zeros(shape, default_float_dtype())

    def __call__(self, state: Array, x: Array, ctx: Context) -> tuple[Array, Array]:
        x = jnp.asarray(x)
        if x.shape != state.shape:
            raise ValueError(
                f"DiffEncoder in {self.mode} expects input of shape {state.shape}, got {x.shape}."
            )
        x = x.astype(state.dtype)
        change = x - state
        spikes = (change >= self.threshold).astype(state.dtype)
        if self.off_spike:
            spikes = spikes - (change <= -self.threshold).astype(state.dtype)
        # A NaN input (or state) is a NaN output, never "no change".
        return x, jnp.where(jnp.isnan(change), change, spikes)
