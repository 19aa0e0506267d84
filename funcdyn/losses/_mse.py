"""Mean squared error."""

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike


def mean_squared_error(predictions: ArrayLike, targets: ArrayLike) -> Array:
    """The mean squared error over every element, `mean (y - y_target)^2`: e.g. on
    membrane potentials recorded by a monitor, or on rates, against a target trace.

    **Arguments:**

    - `predictions`: any shape, e.g. `(batch, T, n)`.
    - `targets`: the same shape (broadcast a constant target explicitly).

    **Returns:** a scalar.
    """
    predictions = jnp.asarray(predictions)
    targets = jnp.asarray(targets)
    if predictions.shape != targets.shape:
        raise ValueError(
            f"mean_squared_error: predictions of shape {predictions.shape} and targets of "
            f"shape {targets.shape} differ; broadcast them explicitly "
            "(jnp.broadcast_to) if that is meant."
        )
    return jnp.mean(jnp.square(predictions - targets.astype(predictions.dtype)))
