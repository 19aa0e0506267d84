"""Computing modes: whether a model has a batch axis and whether its arrays train."""

import contextlib
import contextvars
from collections.abc import Iterator

import equinox as eqx


class Mode(eqx.Module):
    """Base class of the computing modes.

    A mode is a static field of every [`funcdyn.DynamicalSystem`][]. It changes exactly two
    documented things and never the forward maths:

    - `is_batching`: whether states and inputs carry a leading batch axis;
    - `is_trainable`: whether the module's arrays are selected by [`funcdyn.trainable`][].
    """

    is_batching: bool = eqx.field(static=True, default=False, init=False)
    is_trainable: bool = eqx.field(static=True, default=False, init=False)

    def __repr__(self) -> str:
        return type(self).__name__

    def __str__(self) -> str:
        return type(self).__name__


class NonBatchingMode(Mode):
    """No batch axis: one example at a time (vectorise with `jax.vmap`). Not trainable."""


class BatchingMode(Mode):
    """A leading batch axis on states and inputs. Arrays are not trainable."""

    is_batching: bool = eqx.field(static=True, default=True, init=False)


class TrainingMode(BatchingMode):
    """A batching mode whose arrays are trainable (selected by [`funcdyn.trainable`][])."""

    is_trainable: bool = eqx.field(static=True, default=True, init=False)


nonbatching_mode = NonBatchingMode()
batching_mode = BatchingMode()
training_mode = TrainingMode()

_default_mode: contextvars.ContextVar[Mode] = contextvars.ContextVar(
    "funcdyn_default_mode", default=nonbatching_mode
)


def get_default_mode() -> Mode:
    """The mode given to models constructed without an explicit `mode`.

    It is [`funcdyn.nonbatching_mode`][] unless a
    [`funcdyn.training_environment`][] / [`funcdyn.batching_environment`][] is active.
    It is read only at construction; traced code never reads it.
    """
    return _default_mode.get()


@contextlib.contextmanager
def environment(mode: Mode) -> Iterator[Mode]:
    """Makes `mode` the default mode of models constructed inside the `with` block."""
    if not isinstance(mode, Mode):
        raise TypeError(
            f"environment(mode) needs a funcdyn Mode instance such as funcdyn.training_mode, "
            f"got {mode!r}."
        )
    token = _default_mode.set(mode)
    try:
        yield mode
    finally:
        _default_mode.reset(token)


def training_environment() -> contextlib.AbstractContextManager[Mode]:
    """Models constructed inside `with funcdyn.training_environment():` default to
    [`funcdyn.training_mode`][].

    ```python
    with funcdyn.training_environment():
        layer = funcdyn.layers.Dense(3, 4, key=key)
    assert layer.mode == funcdyn.training_mode
    ```
    """
    return environment(training_mode)


def batching_environment() -> contextlib.AbstractContextManager[Mode]:
    """Models constructed inside `with funcdyn.batching_environment():` default to
    [`funcdyn.batching_mode`][]."""
    return environment(batching_mode)


def resolve_mode(mode: Mode | None) -> Mode:
    """`mode` itself, or the construction-time default when it is `None`."""
    if mode is None:
        return get_default_mode()
    if isinstance(mode, type) and issubclass(mode, Mode):
        return mode()
    if not isinstance(mode, Mode):
        raise TypeError(
            f"`mode` must be a funcdyn Mode such as funcdyn.training_mode, got {mode!r}."
        )
    return mode
