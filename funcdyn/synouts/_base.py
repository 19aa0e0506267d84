"""The base class of synaptic output models."""

import abc
import numbers
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._checks import check_finite_values
from ..init import parameter


def _reversal(value, name: str, who: str) -> Array:
    """A reversal potential: a float or a per-neuron array (an array leaf, trainable in
    a training-mode synapse)."""
    if isinstance(value, bool) or not (
        isinstance(value, numbers.Real) or isinstance(value, (np.ndarray, jnp.ndarray))
    ):
        raise TypeError(f"{who}: `{name}` must be a float or an array, got {value!r}.")
    array = parameter(value, jnp.shape(value), name=name, broadcast=True)
    check_finite_values(array, name, who)
    return array


def _bcast(p: Array, shape) -> Array:
    p = jnp.asarray(p)
    if p.ndim == 0 or p.shape == shape:
        return p
    return jnp.broadcast_to(p, shape)


class SynOut(eqx.Module):
    """Base class of synaptic output models: how a synaptic conductance `g` becomes the
    current into the postsynaptic neurons, `I = output(g, V)`.

    Synapses call their output with the postsynaptic potential `V` when they are given
    one (`x = (spikes, V)`), else with `V = None`. Models whose current depends on `V`
    set the class variable `needs_V = True`, and a synapse using one refuses to run
    without `V`.

    **Subclassing:** implement `__call__(g, V)`, elementwise, returning an array shaped
    like `g`; per-neuron parameters broadcast explicitly to `g.shape`.
    """

    needs_V: ClassVar[bool] = False

    @abc.abstractmethod
    def __call__(self, g: Array, V: Array | None) -> Array:
        """**Arguments:** `g` the conductance `(..., num_post)`, `V` the postsynaptic
        potential of the same shape (or `None`). **Returns:** the current, shaped like
        `g`."""
