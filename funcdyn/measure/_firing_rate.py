"""Population firing rate."""

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .._checks import check_positive


def firing_rate(spikes: ArrayLike, width: float, *, dt: float) -> Array:
    """The population firing rate (Hz, with times in ms), smoothed by a moving average.

    The mean over neurons of the spikes of each step, divided by `dt`, averaged over a
    centred window of `width` ms (an odd number of steps, at least one; edges are padded
    with zeros, as `numpy.convolve(..., mode="same")`).

    **Arguments:**

    - `spikes`: `(T, N)` spikes (0/1), time first (as recorded by [`funcdyn.run`][]),
      or `(T,)` for one neuron.
    - `width`: the window (ms).
    - `dt`: the step (ms).

    **Returns:** `(T,)`, in spikes per second per neuron. Works under `jax.jit`.

    ```python
    rate = funcdyn.measure.firing_rate(spikes, width=10.0, dt=0.1)
    ```
    """
    dt = check_positive(dt, "dt", "firing_rate")
    width = check_positive(width, "width", "firing_rate")
    spikes = jnp.asarray(spikes)
    if spikes.ndim not in (1, 2):
        raise ValueError(
            f"firing_rate: `spikes` must be (T, N) or (T,), got shape {spikes.shape}."
        )
    spikes = spikes.astype(jnp.result_type(float))
    population = spikes if spikes.ndim == 1 else jnp.mean(spikes, axis=1)
    half = int(width / dt / 2)
    window = jnp.full((2 * half + 1,), 1000.0 / (dt * (2 * half + 1)), population.dtype)
    return jnp.convolve(population, window, mode="same")
