"""Checks of integer class labels: on the host before compiling, and inside compiled
losses."""

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike


def check_labels(labels: ArrayLike, num_classes: int, where: str = "labels") -> None:
    """Checks class labels on the host, before anything is compiled.

    Integer labels must lie in `[0, num_classes)`; float labels (one-hot or probability
    rows) must have `num_classes` entries on their last axis and be finite. Traced
    labels (inside `jax.jit`) cannot be checked here and are skipped: the compiled losses
    check them with `eqx.error_if`.

    **Arguments:**

    - `labels`: integer class indices of any shape, or float rows `(..., num_classes)`.
    - `num_classes`: the number of classes `C` (a positive int).
    - `where`: what the labels are, for the message (e.g. `"fit: train_data labels"`).

    **Raises:** a `ValueError` naming `where`, the first bad label, its index and the
    valid range; a `TypeError` for labels that are neither integers nor floats.
    """
    if isinstance(num_classes, (bool, np.bool_)) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"check_labels: `num_classes` must be an int, got {num_classes!r}.")
    if num_classes < 1:
        raise ValueError(f"check_labels: `num_classes` must be >= 1, got {num_classes}.")
    if isinstance(labels, jax.core.Tracer):
        return
    values = np.asarray(jax.device_get(labels))
    if values.dtype == np.bool_:
        raise TypeError(
            f"{where}: labels must be integer class indices or float one-hot rows, got bools."
        )
    if np.issubdtype(values.dtype, np.integer):
        bad = (values < 0) | (values >= num_classes)
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{where}: integer labels must be class indices in [0, {num_classes}) for "
                f"{num_classes} classes; found {int(bad.sum())} outside, the first "
                f"{values[index]} at index {index}. (Are the labels 1-based, or is the "
                "output layer too small?)"
            )
    elif np.issubdtype(values.dtype, np.floating):
        if values.ndim < 1 or values.shape[-1] != num_classes:
            raise ValueError(
                f"{where}: float (one-hot / probability) labels need {num_classes} entries "
                f"on their last axis, got shape {values.shape}."
            )
        if not np.isfinite(values).all():
            index = tuple(int(i) for i in np.argwhere(~np.isfinite(values))[0])
            raise ValueError(f"{where}: labels hold a non-finite value at index {index}.")
    else:
        raise TypeError(
            f"{where}: labels must be integer class indices or float one-hot rows, got dtype "
            f"{values.dtype}."
        )


def checked_class_indices(labels: Array, num_classes: int, who: str) -> Array:
    """`labels` (integers) with a compiled check that each lies in `[0, num_classes)`:
    a label outside raises at run time, under `jax.jit` too. Concrete labels (an eager
    call) are checked on the host instead, with a `ValueError` naming the first bad one."""
    if not isinstance(labels, jax.core.Tracer):
        check_labels(labels, num_classes, where=who)
        return labels
    uses = _label_uses.get()
    if uses is not None:
        uses.append((labels, num_classes, who))
    bad = (labels < 0) | (labels >= num_classes)
    return eqx.error_if(
        labels,
        jnp.any(bad),
        f"{who}: integer labels must be class indices in [0, {num_classes}) for "
        f"{num_classes} classes (the last axis of the logits); got a label outside.",
    )



# While a trainer traces its loss before compiling, the traced integer labels that reach
# a funcdyn classification loss, with their number of classes: the trainer then checks
# the host values of those labels (`check_traced_labels`) before anything is compiled.
_label_uses: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "funcdyn_label_uses", default=None
)


@contextlib.contextmanager
def recording_label_uses() -> Iterator[list]:
    """Records `(labels, num_classes, who)` for every traced use of integer labels by
    funcdyn's classification losses inside the block (e.g. an `eqx.filter_eval_shape`
    of a loss)."""
    uses: list = []
    token = _label_uses.set(uses)
    try:
        yield uses
    finally:
        _label_uses.reset(token)


def check_traced_labels(uses: list, traced: Sequence[Any], values: Sequence[Any],
                        where: str) -> None:
    """Checks on the host, with [`check_labels`], the `values` whose traced stand-ins
    `traced` (the leaves a loss was traced with) reached a classification loss as they
    were, untransformed; labels the loss derived from them (e.g. `y - 1`) are left to
    the compiled check."""
    for labels, num_classes, who in uses:
        for tracer, value in zip(traced, values):
            if labels is tracer:
                check_labels(value, num_classes, where=f"{where} ({who})")
