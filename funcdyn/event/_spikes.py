"""The output of an event-driven simulation."""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int


class Spikes(eqx.Module):
    """What an event-driven layer returns for `N` neurons with a spike budget `B`.

    - `times`: `(N, B)` the spike times of each neuron, sorted, padded with `inf`.
    - `count`: `(N,)` int, the number of spikes each neuron fired in `[t0, t1]`: it can
      exceed `B` (then the spikes after the `B`-th are counted but their times are not
      stored, and `overflow` is True).
    - `complete`: `()` bool, whether the simulation reached `t1` within the layer's
      event budget (`max_events`); if not, spikes may be missing and `overflow` is True.
    - `V`: `(T, N)` the membrane potential at the requested record times (`T = 0` when
      none were asked), just before any spike or reset at that time.
    - `V_max`: `(N,)` the largest membrane potential over `[t0, t1]`: exact (the
      analytic maximum) in closed form, the largest value at event times for ODE
      neurons.

    Under `jax.vmap` every field gains a leading batch axis.
    """

    times: Float[Array, "*batch N B"]
    count: Int[Array, "*batch N"]
    complete: Bool[Array, "*batch"]
    V: Float[Array, "*batch T N"]
    V_max: Float[Array, "*batch N"]

    @property
    def budget(self) -> int:
        return self.times.shape[-1]

    @property
    def overflow(self) -> Array:
        """`()` (or `(batch,)`) bool: a spike was not stored or the run did not finish."""
        return (self.count > self.budget).any(axis=-1) | ~self.complete

    @property
    def first(self) -> Array:
        """`(N,)` the first spike time of each neuron, `inf` for silent neurons."""
        return self.times[..., 0]

    @property
    def fired(self) -> Array:
        """`(N,)` bool: whether each neuron fired at least once."""
        return self.count > 0

    def spike_mask(self) -> Array:
        """`(N, B)` bool: which entries of `times` are spikes."""
        return jnp.isfinite(self.times)
