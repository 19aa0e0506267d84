"""NIR's `Scale`: an elementwise gain."""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from .. import Context, DynamicalSystem
from ._checks import check_example_shape, float_array, mode_or_default


class Scale(DynamicalSystem):
    r"""An elementwise gain, NIR's `Scale` node. Stateless:

    $$y = s \odot x.$$

    **Arguments:**

    - `scale`: the gains, an array of the per-example shape of `x` (a number for a single
      value). An array leaf: trainable in [`funcdyn.training_mode`][].
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][].

    **Shapes:** `x` is `scale.shape` (non-batching) or `(batch, *scale.shape)`; `y` too.

    ```python
    gain = funcdyn.nir.Scale(jnp.array([1.0, 0.5, 2.0]))
    _, y = gain(None, x, funcdyn.Context(dt=1.0))
    ```
    """

    scale: Array
    shape: tuple[int, ...] = eqx.field(static=True)

    def __init__(self, scale, *, mode=None, name=None):
        self.scale = float_array(scale, "scale", "Scale")
        self.shape = tuple(self.scale.shape)
        self.mode = mode_or_default(mode)
        self.name = name

    def init_state(self, batch_size=None, *, key=None) -> None:
        """Stateless: `None`."""
        self.check_batch_size(batch_size)
        return None

    def __call__(self, state: None, x, ctx: Context) -> tuple[None, Array]:
        x = check_example_shape(self, x, self.shape)
        return state, x * jnp.broadcast_to(self.scale, x.shape).astype(x.dtype)
