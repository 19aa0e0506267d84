"""Runs a channels-last funcdyn layer on NIR's channels-first arrays."""

import jax.numpy as jnp

from .. import Context, DynamicalSystem


class ChannelsFirst(DynamicalSystem):
    """Wraps a channels-last layer ([`funcdyn.layers.Conv`][], [`funcdyn.layers.AvgPool`][],
    ...) so that it takes and returns channels-first arrays, NIR's (and PyTorch's) layout
    `(C, *spatial)` per example.

    The channel axis is moved last, `layer` is applied, and it is moved back; the state
    is the layer's. Keeping NIR's layout inside an imported model makes a `Flatten`
    followed by an `Affine` read the features in the order the weights were trained in.

    **Arguments:**

    - `layer`: the wrapped [`funcdyn.DynamicalSystem`][]; its mode is this module's mode.
    - `name`: see [`funcdyn.DynamicalSystem`][].

    ```python
    conv = funcdyn.nir.ChannelsFirst(funcdyn.layers.Conv2d(2, 4, 3, key=key))
    _, y = conv(None, jnp.ones((2, 8, 8)), funcdyn.Context(dt=1.0))   # (4, 8, 8)
    ```
    """

    layer: DynamicalSystem

    def __init__(self, layer: DynamicalSystem, *, name=None):
        if not isinstance(layer, DynamicalSystem):
            raise TypeError(
                f"ChannelsFirst: `layer` must be a funcdyn.DynamicalSystem, got {layer!r}."
            )
        self.layer = layer
        self.mode = layer.mode
        self.name = name

    def init_state(self, batch_size=None, *, key=None):
        """The wrapped layer's initial state."""
        self.check_batch_size(batch_size)
        return self.layer.init_state(batch_size, key=key)

    def __call__(self, state, x, ctx: Context):
        x = jnp.asarray(x)
        axis = 1 if self.mode.is_batching else 0
        if x.ndim < axis + 2:
            raise ValueError(
                f"ChannelsFirst in {self.mode} expects ({'batch, ' if axis else ''}channels, "
                f"*spatial), got {x.shape}."
            )
        state, y = self.layer(state, jnp.moveaxis(x, axis, -1), ctx)
        return state, jnp.moveaxis(y, -1, axis)
