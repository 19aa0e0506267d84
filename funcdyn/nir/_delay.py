"""NIR's `Delay`: each element's input comes out a fixed number of steps later."""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .. import Context, DynamicalSystem
from ._checks import bshape, check_example_shape, mode_or_default


class DelayState(eqx.Module):
    """The state of a [`funcdyn.nir.Delay`][]: `history[k]` is the input of `k + 1` steps
    ago, shape `(max_steps, *shape)` (batch axis first in a batching mode)."""

    history: Array


class Delay(DynamicalSystem):
    r"""A per-element transmission delay, NIR's `Delay` node:

    $$y(t) = x(t - \tau), \qquad y_n = x_{n - d}, \quad d = \tau / \Delta t.$$

    Before the first `d` steps the output is zero (nothing has arrived yet). A delay of
    zero steps passes the input through in the same step.

    **Arguments:**

    - `steps`: the delay of each element in steps, an int or an int array of the
      per-example shape (>= 0). [`funcdyn.nir.from_nir`][] converts NIR's delays (seconds)
      to steps of its `dt` and refuses delays that are not a whole number of steps.
    - `shape`: the per-example shape, needed when `steps` is a single int.
    - `dt`: the step size the delays were counted in; a step with another
      `Context.dt` is refused.
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][].

    ```python
    delay = funcdyn.nir.Delay(jnp.array([0, 2]), dt=1.0)
    state = delay.init_state()
    state, y = delay(state, jnp.array([1.0, 1.0]), funcdyn.Context(dt=1.0))  # [1, 0]
    ```
    """

    steps: Array
    shape: tuple[int, ...] = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)
    dt: float = eqx.field(static=True)

    def __init__(self, steps, shape=None, *, dt: float, mode=None, name=None):
        raw = np.asarray(steps)
        if raw.dtype == bool or not np.issubdtype(raw.dtype, np.integer):
            raise TypeError(f"Delay: `steps` must be ints (a delay in steps), got {steps!r}.")
        if np.any(raw < 0):
            raise ValueError(f"Delay: `steps` must be >= 0, got {steps!r}.")
        if shape is None:
            shape = raw.shape
        shape = tuple(int(s) for s in shape)
        try:
            raw = np.broadcast_to(raw, shape)
        except ValueError as err:
            raise ValueError(
                f"Delay: `steps` of shape {raw.shape} does not fit `shape` {shape}."
            ) from err
        if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not dt > 0:
            raise ValueError(f"Delay: `dt` must be a positive float, got {dt!r}.")
        self.steps = jnp.asarray(raw, dtype=jnp.int32)
        self.shape = shape
        self.max_steps = int(raw.max()) if raw.size else 0
        self.dt = float(dt)
        self.mode = mode_or_default(mode)
        self.name = name

    def init_state(self, batch_size=None, *, key=None) -> DelayState:
        """An empty (all-zero) history."""
        shape = bshape(self, batch_size, self.shape)
        lead = shape[: len(shape) - len(self.shape)]
        return DelayState(history=jnp.zeros(lead + (self.max_steps,) + self.shape))

    def __call__(self, state: DelayState, x, ctx: Context) -> tuple[DelayState, Array]:
        if ctx.dt != self.dt:
            raise ValueError(
                f"Delay counts its delays in steps of dt={self.dt}; it was stepped with "
                f"dt={ctx.dt}. Rebuild it (or re-import the graph) with this dt."
            )
        x = check_example_shape(self, x, self.shape)
        if self.max_steps == 0:
            return state, x
        axis = 1 if self.mode.is_batching else 0
        full = jnp.concatenate([jnp.expand_dims(x, axis), state.history.astype(x.dtype)], axis)
        index = jnp.broadcast_to(
            jnp.expand_dims(self.steps, 0), (1,) + self.shape
        )
        if self.mode.is_batching:
            index = jnp.broadcast_to(index[None], (x.shape[0], 1) + self.shape)
        y = jnp.take_along_axis(full, index, axis=axis)
        y = jnp.squeeze(y, axis)
        history = jnp.take(full, jnp.arange(self.max_steps), axis=axis)
        return DelayState(history=history), y
