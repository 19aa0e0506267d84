"""The base class of every funcdyn model and its step-function contract."""

import abc
import dataclasses
import functools
import inspect
from typing import Any, ClassVar

import equinox as eqx
import jax
import numpy as np

from ._context import Context
from ._modes import BatchingMode, Mode, NonBatchingMode, TrainingMode, get_default_mode

State = Any


def _format_value(value: Any) -> str:
    if isinstance(value, (jax.Array, np.ndarray)):
        return eqx.tree_pformat(value, short_arrays=True)
    if isinstance(value, Mode):
        return repr(value)
    if isinstance(value, str):
        return value
    if callable(value) and not isinstance(value, eqx.Module) and hasattr(value, "__name__"):
        return value.__name__
    return repr(value)


class DynamicalSystem(eqx.Module):
    """Base class of every funcdyn model: an immutable pytree whose call is one time step.

    ```python
    state = model.init_state(batch_size)        # pure; None when not batching
    new_state, y = model(state, x, ctx)         # one step; mutates nothing
    ```

    The step has the signature that `jax.lax.scan` wants, so a time loop is
    `lax.scan(lambda s, inp: model(s, *inp), state, (xs, ctxs))`, or simply
    [`funcdyn.run`][].

    **Fields shared by every model (keyword-only):**

    - `mode`: a static [`funcdyn.Mode`][]. Defaults to the construction-time environment
      ([`funcdyn.training_environment`][]), else [`funcdyn.nonbatching_mode`][].
    - `name`: an optional static name shown first in the repr.

    **Subclassing:** declare `supported_modes` (a tuple of mode classes); construction in
    another mode raises a `ValueError`. Override `init_state` when the model has state of
    its own; the default gathers the states of the `DynamicalSystem` fields into a `dict`
    keyed by attribute name (`None` when there are none). A network wires its parts in
    `__call__`, giving each a child context, e.g. `ctx.child("l1")`.
    """

    mode: Mode = eqx.field(static=True, default_factory=get_default_mode, kw_only=True)
    name: str | None = eqx.field(static=True, default=None, kw_only=True)

    supported_modes: ClassVar[tuple[type[Mode], ...]] = (
        NonBatchingMode,
        BatchingMode,
        TrainingMode,
    )

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None and not getattr(init, "_fills_defaults", False):
            try:
                signature = inspect.signature(init)
            except (TypeError, ValueError):
                signature = None

            # A custom __init__ that takes no `mode` / `name` gets the construction-time
            # defaults afterwards, as dataclass-generated inits do. One that was *given* a
            # mode or name and dropped it is refused: it would build the model in the default
            # mode without a word, and the mistake would surface far away (e.g. as a
            # Sequential mode error).
            @functools.wraps(init)
            def __init__(self, *args, **kwargs):
                init(self, *args, **kwargs)
                for field, default in (("mode", get_default_mode), ("name", lambda: None)):
                    if field in self.__dict__:
                        continue
                    given = _given_argument(signature, field, self, args, kwargs)
                    if given is not None:
                        raise TypeError(
                            f"{type(self).__name__}.__init__ was given {field}={given!r} but "
                            f"did not assign it: add `self.{field} = {field}` to __init__ "
                            f"(or pass it on with super().__init__(..., {field}={field})). "
                            f"Without it the model would silently get the default {field}."
                        )
                    setattr(self, field, default())

            __init__._fills_defaults = True
            cls.__init__ = __init__

    def __check_init__(self):
        if not isinstance(self.mode, Mode):
            raise TypeError(
                f"{type(self).__name__}: `mode` must be a funcdyn Mode such as "
                f"funcdyn.training_mode, got {self.mode!r}."
            )
        # Exact class match: TrainingMode is a BatchingMode, yet a class that only
        # supports batching must still refuse training.
        if type(self.mode) not in self.supported_modes:
            supported = ", ".join(m.__name__ for m in self.supported_modes)
            raise ValueError(
                f"{type(self).__name__} does not support {type(self.mode).__name__}; "
                f"supported modes: {supported}."
            )
        if self.name is not None and not isinstance(self.name, str):
            raise TypeError(f"{type(self).__name__}: `name` must be a str or None.")

    # -- the contract ----------------------------------------------------------------

    def check_batch_size(self, batch_size: int | None) -> None:
        """Raises a `ValueError` unless `batch_size` fits the mode: an int >= 1 in a
        batching mode, `None` in non-batching mode."""
        cls = type(self).__name__
        if self.mode.is_batching:
            if (
                isinstance(batch_size, bool)
                or not isinstance(batch_size, (int, np.integer))
                or batch_size < 1
            ):
                raise ValueError(
                    f"{cls} is in {self.mode}: init_state needs the batch size as a "
                    f"positive int, e.g. init_state(32); got {batch_size!r}."
                )
        elif batch_size is not None:
            raise ValueError(
                f"{cls} is in NonBatchingMode, which has no batch axis: call "
                f"init_state() or init_state(None), got batch_size={batch_size!r}. Build "
                "the model in funcdyn.batching_mode / training_mode for a batch axis, or "
                "jax.vmap the step."
            )

    def init_state(self, batch_size: int | None = None, *, key=None) -> State:
        """The initial state; pure. In a batching mode the batch axis comes first.

        **Arguments:**

        - `batch_size`: an int in a batching mode, `None` in non-batching mode.
        - `key`: a PRNG key, for models whose initial state is random.

        **Returns:** the state pytree. This default gathers the states of the
        `DynamicalSystem` fields into a `dict` keyed by field name (a tuple for a field
        holding a list or tuple of them), or returns `None` when there are none.
        """
        self.check_batch_size(batch_size)
        keys = _split_or_none(key, len(dataclasses.fields(self)))
        states = {}
        for field, k in zip(dataclasses.fields(self), keys):
            value = getattr(self, field.name, None)
            if isinstance(value, DynamicalSystem):
                states[field.name] = value.init_state(batch_size, key=k)
            elif isinstance(value, (list, tuple)) and any(
                isinstance(v, DynamicalSystem) for v in value
            ):
                sub = _split_or_none(k, len(value))
                states[field.name] = tuple(
                    v.init_state(batch_size, key=kk) if isinstance(v, DynamicalSystem) else None
                    for v, kk in zip(value, sub)
                )
        return states if states else None

    @abc.abstractmethod
    def __call__(self, state: State, x: Any, ctx: Context) -> tuple[State, Any]:
        """One time step: `(state, x, ctx) -> (new_state, y)`."""

    # -- composition -----------------------------------------------------------------

    def __rshift__(self, other):
        from ._sequential import Sequential

        return Sequential(self, other)

    def __rrshift__(self, other):
        from ._sequential import Sequential

        return Sequential(other, self)

    def __repr__(self) -> str:
        parts = []
        if self.name is not None:
            parts.append(f"name={self.name}")
        for field in dataclasses.fields(self):
            if field.name in ("name", "mode") or not field.repr:
                continue
            value = getattr(self, field.name, None)
            parts.append(f"{field.name}={_format_value(value)}")
        parts.append(f"mode={self.mode}")
        return f"{type(self).__name__}({', '.join(parts)})"


def _given_argument(signature, field: str, self, args, kwargs):
    """The non-None value passed to a custom `__init__` for `field` (by keyword, by
    position, or inside `**kwargs`), else None."""
    if signature is None:
        return kwargs.get(field)
    try:
        bound = signature.bind(self, *args, **kwargs)
    except TypeError:
        return kwargs.get(field)
    if field in bound.arguments:
        return bound.arguments[field]
    for name, value in bound.arguments.items():
        if signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
            return value.get(field)
    return None


def _split_or_none(key, n: int):
    if key is None:
        return [None] * n
    return list(jax.random.split(key, max(n, 1)))[:n] if n else []
