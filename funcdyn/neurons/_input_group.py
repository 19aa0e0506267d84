"""The input layer of a spiking network."""

import math

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from .._core._context import Context
from .._core._modes import Mode, resolve_mode
from .._core._system import DynamicalSystem
from ._base import _normalize_size


class InputGroup(DynamicalSystem):
    """A population that passes its input through unchanged: the input layer of a
    network (spikes from an encoder, or currents). Stateless.

    **Arguments:**

    - `size`: the number of inputs, an int or a tuple.
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][].

    **Shapes:** `x` is `size` (non-batching) or `(batch, *size)`; the output is `x`. The
    state is `None`.

    ```python
    net = funcdyn.neurons.InputGroup(100) >> synapse >> funcdyn.neurons.LIF(10)
    ```
    """

    size: tuple[int, ...] = eqx.field(static=True)
    num: int = eqx.field(static=True)

    def __init__(
        self, size: int | tuple[int, ...], *, mode: Mode | None = None, name: str | None = None
    ):
        self.size = _normalize_size(size, "InputGroup")
        self.num = math.prod(self.size)
        self.mode = resolve_mode(mode)
        self.name = name

    def init_state(self, batch_size: int | None = None, *, key=None) -> None:
        """No state: returns `None` (after checking `batch_size` fits the mode)."""
        self.check_batch_size(batch_size)
        return None

    def __call__(self, state: None, x: Array, ctx: Context) -> tuple[None, Array]:
        x = jnp.asarray(x)
        ndim = len(self.size) + (1 if self.mode.is_batching else 0)
        if x.ndim != ndim or x.shape[x.ndim - len(self.size) :] != self.size:
            expected = (
                f"(batch, {', '.join(map(str, self.size))})"
                if self.mode.is_batching
                else str(self.size)
            )
            raise ValueError(
                f"InputGroup in {self.mode} expects input of shape {expected}, got {x.shape}."
            )
        return state, x
