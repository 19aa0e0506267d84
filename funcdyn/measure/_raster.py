"""Raster plots of spike trains."""

import numpy as np

from .._checks import check_bool


def raster_plot(ts, spikes, *, ax=None, marker: str = ".", markersize: float = 2.0,
                color: str = "k", xlabel: str = "Time (ms)", ylabel: str = "Neuron index",
                title: str | None = None, xlim=None, ylim=None, show: bool = False):
    """Draws a raster plot: a dot at `(t, i)` for each spike of neuron `i` at time `t`.

    matplotlib is imported only when this is called.

    **Arguments:**

    - `ts`: `(T,)` times of the steps (ms).
    - `spikes`: `(T, N)` spikes (non-zero = spike), as recorded by [`funcdyn.run`][].
    - `ax`: a matplotlib `Axes` to draw into (default: a new figure's).
    - `marker`, `markersize`, `color`, `xlabel`, `ylabel`, `title`, `xlim`, `ylim`:
      matplotlib styling.
    - `show`: call `plt.show()` (a bool).

    **Returns:** the `Axes`.

    ```python
    ax = funcdyn.measure.raster_plot(ts, spikes)
    ax.figure.savefig("raster.png")
    ```
    """
    show = check_bool(show, "show", "raster_plot")
    ts = np.asarray(ts)
    spikes = np.asarray(spikes)
    if spikes.ndim != 2 or ts.shape != spikes.shape[:1]:
        raise ValueError(
            f"raster_plot: `spikes` must be (T, N) with `ts` of shape (T,); got spikes "
            f"{spikes.shape} and ts {ts.shape}."
        )
    if np.issubdtype(spikes.dtype, np.inexact) and not np.isfinite(spikes).all():
        # NaN is non-zero: it would be drawn as a spike.
        step, neuron = (int(i) for i in np.argwhere(~np.isfinite(spikes))[0])
        raise ValueError(
            f"raster_plot: `spikes` holds a non-finite value (at step {step}, neuron "
            f"{neuron}); a NaN would be drawn as a spike. Check the simulation for NaNs."
        )
    import matplotlib.pyplot as plt
    steps, neurons = np.nonzero(spikes)
    if ax is None:
        _, ax = plt.subplots()
    ax.plot(ts[steps], neurons, marker, markersize=markersize, color=color, linestyle="none")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    if xlim is not None:
        ax.set_xlim(*xlim)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if show:
        plt.show()
    return ax
