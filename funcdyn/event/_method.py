"""The two interfaces of the event-driven simulator: a *method* (how spike times are
found: closed form or diffrax event detection) and the *dynamics* it builds from a
neuron (what the simulation loop calls between and at events)."""

import abc

import equinox as eqx
from jaxtyping import Array


class AbstractEventMethod(eqx.Module):
    """How the spike times of a population are found between events: see
    [`funcdyn.event.ClosedForm`][] (linear neurons) and [`funcdyn.event.ODE`][] (any
    neuron with a vector field)."""


class AbstractEventDynamics(eqx.Module):
    """A population of `N` neurons with exponential synaptic currents, as seen by the
    event loop. The state is `(y, I, Iext)`: the tuple `y` of the neuron's variables
    (`V` first), the synaptic current `I` and the piecewise-constant external current
    `Iext`, each `(N,)`. `hold` is `None` (no refractoriness) or an `(N,)` mask of
    refractory neurons, whose `V` is held."""

    @property
    @abc.abstractmethod
    def spiking(self) -> bool:
        """Whether the neurons have a threshold."""

    @abc.abstractmethod
    def propagate(self, t, y, I, Iext, s, hold) -> tuple[tuple[Array, ...], Array]:
        """`(y, I)` after a time `s >= 0` without events, from time `t`."""

    @abc.abstractmethod
    def propagate_V_many(self, t, y, I, Iext, s, S, hold) -> Array:
        """`V` at the times `t + s` for a sorted vector `s` `(T,)` in `[0, S]`:
        `(T, N)`."""

    @abc.abstractmethod
    def field(self, t, y, I, Iext, hold) -> tuple[tuple[Array, ...], Array]:
        """The time derivatives `(dy, dI)`."""

    @abc.abstractmethod
    def threshold(self, y) -> Array:
        """The threshold of each neuron, `(N,)`."""

    @abc.abstractmethod
    def crossing(self, t, y, I, Iext, S, eligible, hold) -> Array:
        """The delay `(N,)` of each eligible neuron's first upward threshold crossing in
        `(0, S]`, `inf` where there is none (not differentiated: the loop attaches the
        exact gradient by the implicit function theorem)."""

    @abc.abstractmethod
    def reset(self, y, mask) -> tuple[Array, ...]:
        """`y` after a spike of the neurons in `mask`."""

    @abc.abstractmethod
    def interval_max(self, t, y, I, Iext, S, hold, V_end) -> Array:
        """The largest `V` over `[t, t + S]` (`(N,)`), given `V_end` at `t + S`."""
