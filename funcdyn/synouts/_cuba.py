"""Current-based output."""

from jaxtyping import Array

from ._base import SynOut


class CUBA(SynOut):
    r"""Current-based output: the synaptic variable is the current,

    $$I = g.$$

    It ignores the postsynaptic potential, so a CUBA synapse takes plain spikes as input
    and can sit in a [`funcdyn.Sequential`][] chain (`... >> synapse >> neuron`).

    ```python
    syn = funcdyn.synapses.Exponential(100, 10, output=funcdyn.synouts.CUBA(), key=key)
    ```
    """

    def __call__(self, g: Array, V: Array | None = None) -> Array:
        return g
