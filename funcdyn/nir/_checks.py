"""Shared argument checks of the NIR primitives."""

import jax.numpy as jnp
import numpy as np

from .. import get_default_mode


def mode_or_default(mode):
    """`mode`, or the construction-time default mode when it is `None`."""
    return get_default_mode() if mode is None else mode


def float_array(value, arg: str, cls: str, *, positive: bool = False):
    """A float32 array from a number or an array, refusing NaN (and, when `positive`,
    values <= 0) with an error naming the argument."""
    if isinstance(value, bool):
        raise TypeError(f"{cls}: `{arg}` must be a number or an array, got {value!r}.")
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{cls}: `{arg}` must be a number or an array, got {value!r}.") from err
    if np.any(np.isnan(array)):
        raise ValueError(f"{cls}: `{arg}` contains NaN; every value must be a number.")
    if positive and not np.all(array > 0):
        raise ValueError(f"{cls}: `{arg}` must be > 0 everywhere, got {value!r}.")
    return jnp.asarray(array)


def check_example_shape(model, x, shape: tuple[int, ...], what: str = "input"):
    """`x` as an array whose per-example shape is `shape` (with a batch axis exactly in
    a batching mode)."""
    x = jnp.asarray(x)
    expected = ((None,) if model.mode.is_batching else ()) + tuple(shape)
    ok = x.ndim == len(expected) and all(
        e is None or e == s for e, s in zip(expected, x.shape)
    )
    if not ok:
        shown = ", ".join("batch" if e is None else str(e) for e in expected)
        raise ValueError(
            f"{type(model).__name__} in {model.mode} expects {what} of shape ({shown}), "
            f"got {x.shape}."
        )
    return x


def bshape(model, batch_size, shape):
    """The state shape of a population of `shape` for `batch_size` (checked)."""
    model.check_batch_size(batch_size)
    return ((batch_size,) if model.mode.is_batching else ()) + tuple(shape)
