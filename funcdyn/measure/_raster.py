"""Raster plots of spike trains."""

import numpy as np


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
    - `show`: call `plt.show()`.

    **Returns:** the `Axes`.

    ```python
    ax = funcdyn.measure.raster_plot(ts, spikes)
    ax.figure.savefig("raster.png")
    ```
    """
    import matplotlib.pyplot as plt

    ts = np.asarray(ts)
    spikes = np.asarray(spikes)
    if spikes.ndim != 2 or ts.shape != spikes.shape[:1]:
        raise ValueError(
            f"raster_plot: `spikes` must be (T, N) with `ts` of shape (T,); got spikes "
            f"{spikes.shape} and ts {ts.shape}."
        )
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
