"""Population firing rate."""

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike


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
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not dt > 0:
        raise ValueError(f"firing_rate: `dt` must be a positive float, got {dt!r}.")
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not width > 0:
        raise ValueError(f"firing_rate: `width` must be a positive float (ms), got {width!r}.")
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
