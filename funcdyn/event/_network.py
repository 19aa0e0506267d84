"""A feed-forward stack of event-driven layers."""

from collections.abc import Sequence

import equinox as eqx
from jaxtyping import ArrayLike

from ._current import PiecewiseConstant
from ._layer import Layer, check_interval
from ._spike_train import SpikeTrain
from ._spikes import Spikes


class Network(eqx.Module):
    """Event-driven layers in sequence: the spikes of each layer are the input spike
    train of the next (each layer may also be recurrent, with its own `W_rec`).

    **Arguments:**

    - `layers`: a sequence of [`funcdyn.event.Layer`][]s; layer `k + 1` has `n_in`
      equal to the size of layer `k`.
    - `t0`, `t1`: the simulated interval (`t1 > t0`).

    **Returns** (of a call): a tuple of [`funcdyn.event.Spikes`][], one per layer.

    ```python
    net = funcdyn.event.Network([hidden, output], t0=0.0, t1=30.0)
    hidden_spikes, out_spikes = net(funcdyn.event.SpikeTrain(times))
    batch = jax.vmap(lambda t: net(funcdyn.event.SpikeTrain(t)))(times_batch)
    ```
    """

    layers: tuple[Layer, ...]
    t0: float = eqx.field(static=True)
    t1: float = eqx.field(static=True)

    def __init__(self, layers: Sequence[Layer], *, t0: float = 0.0, t1: float):
        layers = tuple(layers)
        if not layers or not all(isinstance(layer, Layer) for layer in layers):
            raise TypeError("Network: `layers` must be a non-empty sequence of funcdyn.event.Layer.")
        for k in range(1, len(layers)):
            if layers[k].n_in != layers[k - 1].size:
                raise ValueError(
                    f"Network: layer {k} has n_in={layers[k].n_in} but layer {k - 1} has "
                    f"{layers[k - 1].size} neurons."
                )
        check_interval(t0, t1, "Network")
        self.layers = layers
        self.t0 = float(t0)
        self.t1 = float(t1)

    def __call__(
        self,
        inputs: SpikeTrain,
        *,
        current: Sequence[PiecewiseConstant | None] | None = None,
        record: ArrayLike | None = None,
    ) -> tuple[Spikes, ...]:
        """`current`: None or one optional current per layer; `record`: times at which
        every layer's `V` is recorded."""
        if current is None:
            current = (None,) * len(self.layers)
        if len(current) != len(self.layers):
            raise ValueError(
                f"Network: `current` needs one entry per layer ({len(self.layers)}), got "
                f"{len(current)}."
            )
        outs = []
        x = inputs
        for layer, cur in zip(self.layers, current):
            x = layer(x, t0=self.t0, t1=self.t1, current=cur, record=record)
            outs.append(x)
        return tuple(outs)
