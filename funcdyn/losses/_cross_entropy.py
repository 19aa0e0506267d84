"""Softmax cross-entropy, on one output or on a reduction of a sequence over time."""

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from ._labels import checked_class_indices
from ._time import last_step, max_over_time, mean_over_time


def check_label_shape(logits: Array, labels: Array, who: str) -> None:
    """Integer labels need the shape of `logits` without its class axis; float labels
    (one-hot or probabilities) need the shape of `logits`."""
    if logits.ndim < 1:
        raise ValueError(f"{who}: logits need a class axis, got a scalar.")
    if jnp.issubdtype(labels.dtype, jnp.integer):
        expected = logits.shape[:-1]
        kind = "integer class labels"
    elif jnp.issubdtype(labels.dtype, jnp.floating):
        expected = logits.shape
        kind = "one-hot / probability labels"
    else:
        raise TypeError(
            f"{who}: labels must be integer class indices or float one-hot rows, got dtype "
            f"{labels.dtype}."
        )
    if labels.shape != expected:
        raise ValueError(
            f"{who}: {kind} for logits of shape {logits.shape} must have shape {expected}, "
            f"got {labels.shape}. (Is the time axis reduced over the right axis? Sequences "
            "are (batch, T, ...) with time_axis=1, or (T, batch, ...) with time_axis=0.)"
        )


def cross_entropy(logits: ArrayLike, labels: ArrayLike) -> Array:
    """The softmax cross-entropy averaged over the batch,
    `mean_b [ log sum_c exp(z_bc) - sum_c p_bc z_bc ]`.

    **Arguments:**

    - `logits`: `(..., C)` unnormalised scores `z`.
    - `labels`: integer class indices of shape `(...)`, or float targets `p` of shape
      `(..., C)` (one-hot or probabilities, each row summing to 1).

    **Returns:** a scalar: the mean over all leading axes.

    **Raises:** an integer label outside `[0, C)` is an error, never a silently wrong
    loss: a `ValueError` naming the first bad label when called eagerly, and under
    `jax.jit` an `eqx.error_if` check that fails at run time (an `EquinoxRuntimeError`
    with this message; `jax.jit` wraps it in a `JaxRuntimeError`, `eqx.filter_jit`
    does not).
    """
    logits = jnp.asarray(logits)
    labels = jnp.asarray(labels)
    check_label_shape(logits, labels, "cross_entropy")
    log_p = jax.nn.log_softmax(logits, axis=-1)
    if jnp.issubdtype(labels.dtype, jnp.integer):
        labels = checked_class_indices(labels, logits.shape[-1], "cross_entropy")
        labels = jax.nn.one_hot(labels, logits.shape[-1], dtype=log_p.dtype)
    return -jnp.mean(jnp.sum(labels.astype(log_p.dtype) * log_p, axis=-1))


def cross_entropy_max_over_time(ys: ArrayLike, labels: ArrayLike, *, time_axis: int = 1) -> Array:
    """Cross-entropy of the outputs' maximum over time:
    `cross_entropy(max_t ys, labels)`. The usual loss of spiking classifiers whose
    output layer is a leaky integrator.

    **Arguments:** `ys`: `(batch, T, C)` (or `(T, batch, C)` with `time_axis=0`);
    `labels`: `(batch,)` integers or `(batch, C)` floats.

    **Returns:** a scalar.
    """
    return cross_entropy(max_over_time(ys, time_axis=time_axis), labels)


def cross_entropy_mean_over_time(
    ys: ArrayLike, labels: ArrayLike, *, time_axis: int = 1
) -> Array:
    """Cross-entropy of the outputs' mean over time: `cross_entropy(mean_t ys, labels)`.

    Arguments and returns as for [`funcdyn.losses.cross_entropy_max_over_time`][].
    """
    return cross_entropy(mean_over_time(ys, time_axis=time_axis), labels)


def cross_entropy_last_step(ys: ArrayLike, labels: ArrayLike, *, time_axis: int = 1) -> Array:
    """Cross-entropy of the outputs at the last step: `cross_entropy(ys[:, -1], labels)`.

    Arguments and returns as for [`funcdyn.losses.cross_entropy_max_over_time`][].
    """
    return cross_entropy(last_step(ys, time_axis=time_axis), labels)
