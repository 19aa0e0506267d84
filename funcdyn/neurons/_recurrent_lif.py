"""A spiking population with a trainable recurrent weight matrix, by composition."""

from jaxtyping import Array, PRNGKeyArray

from .._checks import named_key
from .._core._context import Context
from .._core._modes import Mode, resolve_mode
from .._core._system import DynamicalSystem
from ..init import KaimingNormal, parameter
from ..typing import ParamSpec
from ._base import AbstractSpikingNeuron
from ._lif import LIF


class Recurrent(DynamicalSystem):
    r"""A spiking population whose last spikes feed back through a recurrent weight
    matrix:

    $$I_t = x_t + s_{t-1} W_\mathrm{rec}$$

    where $s_{t-1}$ are the population's spikes of the previous step (in its state) and
    $W_\mathrm{rec}$ has shape `(num, num)` (row: presynaptic, column: postsynaptic).
    The step is then exactly the neuron's step; the state is the neuron's state and the
    output its spikes.

    **Arguments:**

    - `neuron`: any [`funcdyn.neurons.AbstractSpikingNeuron`][] with a 1-D `size`
      (e.g. `LIF(64)`, `ALIF(64)`); its mode is the mode of the layer.
    - `W_rec_initializer`: an array of shape `(num, num)`, an initialiser (default
      [`funcdyn.init.KaimingNormal`][]) or a callable. `W_rec` is trainable in
      [`funcdyn.training_mode`][].
    - `key`: for a random initialiser; `name`.

    ```python
    layer = funcdyn.neurons.Recurrent(funcdyn.neurons.ALIF(64, mode=funcdyn.training_mode),
                                      key=jax.random.key(0))
    ```
    """

    neuron: AbstractSpikingNeuron
    W_rec: Array

    def __init__(
        self,
        neuron: AbstractSpikingNeuron,
        *,
        W_rec_initializer: ParamSpec = KaimingNormal(),
        name: str | None = None,
        key: PRNGKeyArray | None = None,
    ):
        if not isinstance(neuron, AbstractSpikingNeuron):
            raise TypeError(
                "Recurrent: `neuron` must be a funcdyn spiking neuron such as "
                f"funcdyn.neurons.LIF(64), got {type(neuron).__name__}."
            )
        if len(neuron.size) != 1:
            raise ValueError(
                f"Recurrent: the neuron's `size` must be an int (a 1-D layer), got {neuron.size}."
            )
        self.neuron = neuron
        try:
            self.W_rec = parameter(W_rec_initializer, (neuron.num, neuron.num),
                                   name="W_rec_initializer", key=named_key(key, "W_rec"))
        except ValueError as err:
            raise ValueError(f"Recurrent: {err}") from err
        self.mode = neuron.mode
        self.name = name

    @property
    def size(self) -> tuple[int, ...]:
        """The population's shape (the neuron's)."""
        return self.neuron.size

    @property
    def num(self) -> int:
        """The number of neurons."""
        return self.neuron.num

    def init_state(self, batch_size: int | None = None, *, key: PRNGKeyArray | None = None):
        """The neuron's initial state (its last spikes start at zero)."""
        return self.neuron.init_state(batch_size, key=key)

    def __call__(self, state, x: Array | None, ctx: Context):
        self.neuron.check_state(state)
        I = self.neuron.check_input(x, state.V) + state.spike @ self.W_rec
        return self.neuron(state, I, ctx)


def RecurrentLIF(
    size: int,
    *,
    W_rec_initializer: ParamSpec = KaimingNormal(),
    mode: Mode | None = None,
    name: str | None = None,
    key: PRNGKeyArray | None = None,
    **lif_options,
) -> Recurrent:
    r"""A layer of [`funcdyn.neurons.LIF`][] neurons coupled by a recurrent weight matrix:
    `Recurrent(LIF(size, **lif_options), W_rec_initializer=...)` (snnTorch's `RLeaky`).

    $$\tau \frac{dV}{dt} = -(V - V_\mathrm{rest}) + R\,(I(t) + s_{t-1} W_\mathrm{rec})$$

    **Arguments:** `size` (an int), `W_rec_initializer` (shape `(size, size)`, default
    [`funcdyn.init.KaimingNormal`][]), `key`, `mode`, `name`, and every keyword argument
    of [`funcdyn.neurons.LIF`][].

    **Returns:** a [`funcdyn.neurons.Recurrent`][] holding the LIF population as
    `.neuron` and the weights as `.W_rec`.

    ```python
    layer = funcdyn.neurons.RecurrentLIF(64, V_th=1.0, V_reset=0.0, mode=funcdyn.training_mode,
                                         key=jax.random.key(0))
    state, spikes = layer(layer.init_state(32), current, ctx)   # current: (32, 64)
    ```
    """
    if isinstance(size, (tuple, list)):
        raise ValueError(f"RecurrentLIF: `size` must be an int (a 1-D layer), got {size!r}.")
    lif = LIF(size, mode=resolve_mode(mode), key=named_key(key, "neuron"), **lif_options)
    return Recurrent(lif, W_rec_initializer=W_rec_initializer, name=name, key=key)
