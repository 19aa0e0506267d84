"""Classification accuracy, on one output or on a reduction of a sequence over time."""

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from ._cross_entropy import check_label_shape
from ._labels import checked_class_indices
from ._time import last_step, max_over_time, mean_over_time


def accuracy(logits: ArrayLike, labels: ArrayLike) -> Array:
    """The fraction of examples whose highest score is the true class,
    `mean_b [argmax_c z_bc == label_b]`.

    **Arguments:**

    - `logits`: `(..., C)` scores.
    - `labels`: integer classes `(...)`, or float one-hot / probability rows `(..., C)`
      (the class is their argmax).

    **Returns:** a float scalar in `[0, 1]`. Ties go to the lowest class index.

    **Raises:** an integer label outside `[0, C)` is an error, also under `jax.jit` (as
    for [`funcdyn.losses.cross_entropy`][]).
    """
    logits = jnp.asarray(logits)
    labels = jnp.asarray(labels)
    check_label_shape(logits, labels, "accuracy")
    if jnp.issubdtype(labels.dtype, jnp.integer):
        labels = checked_class_indices(labels, logits.shape[-1], "accuracy")
    else:
        labels = jnp.argmax(labels, axis=-1)
    hit = jnp.argmax(logits, axis=-1) == labels
    return jnp.mean(hit.astype(jnp.result_type(float)))


def accuracy_max_over_time(ys: ArrayLike, labels: ArrayLike, *, time_axis: int = 1) -> Array:
    """Accuracy of the outputs' maximum over time: `accuracy(max_t ys, labels)`.

    **Arguments:** `ys`: `(batch, T, C)` (or `(T, batch, C)` with `time_axis=0`);
    `labels`: `(batch,)` integers or `(batch, C)` floats.
    """
    return accuracy(max_over_time(ys, time_axis=time_axis), labels)


def accuracy_mean_over_time(ys: ArrayLike, labels: ArrayLike, *, time_axis: int = 1) -> Array:
    """Accuracy of the outputs' mean over time (e.g. of output spike counts)."""
    return accuracy(mean_over_time(ys, time_axis=time_axis), labels)


def accuracy_last_step(ys: ArrayLike, labels: ArrayLike, *, time_axis: int = 1) -> Array:
    """Accuracy of the outputs at the last step."""
    return accuracy(last_step(ys, time_axis=time_axis), labels)
