"""Elementwise layers: an activation function, and the identity."""

from collections.abc import Callable

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from .._core._context import Context
from .._core._modes import Mode, resolve_mode
from .._core._system import DynamicalSystem
from ._recurrent import resolve_activation


class Activation(DynamicalSystem):
    """Applies a function to the input, `y = fn(x)`. Stateless.

    A plain function can also sit in a [`funcdyn.Sequential`][] directly; `Activation`
    makes it a named model with a mode, e.g. for a hand-written network's fields.

    **Arguments:**

    - `fn`: a callable, or the name of a `jax.nn` / `jax.numpy` function such as
      `"relu"` or `"tanh"`. It is applied to the whole input (batch axis included), so it
      should act elementwise or be batch-aware (e.g. `jax.nn.softmax`, which acts on the
      last axis).
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][].

    ```python
    act = funcdyn.layers.Activation("relu")
    _, y = act(None, x, ctx)
    ```
    """

    fn: Callable = eqx.field(static=True)

    def __init__(self, fn: Callable | str, *, mode: Mode | None = None,
                 name: str | None = None):
        self.fn = resolve_activation(fn, "Activation", "fn")
        self.mode = resolve_mode(mode)
        self.name = name

    def init_state(self, batch_size: int | None = None, *, key=None) -> None:
        """Activation has no state: returns `None`."""
        self.check_batch_size(batch_size)
        return None

    def __call__(self, state: None, x: Array, ctx: Context) -> tuple[None, Array]:
        return state, self.fn(jnp.asarray(x))


class Identity(DynamicalSystem):
    """Returns its input unchanged, `y = x`. Stateless. A placeholder layer (e.g. an
    optional part of a network that is switched off).

    **Arguments:** `mode`, `name`: see [`funcdyn.DynamicalSystem`][].
    """

    def __init__(self, *, mode: Mode | None = None, name: str | None = None):
        self.mode = resolve_mode(mode)
        self.name = name

    def init_state(self, batch_size: int | None = None, *, key=None) -> None:
        """Identity has no state: returns `None`."""
        self.check_batch_size(batch_size)
        return None

    def __call__(self, state: None, x, ctx: Context) -> tuple[None, object]:
        return state, x
