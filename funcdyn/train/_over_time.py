"""The readouts' inputs over given data without a time loop, where the model allows it.

An offline fit runs the model over inputs that are all known in advance. For the usual
next-generation reservoir computer, `NVAR >> Dense` readout, every step's output is a
function of a window of those inputs alone, so all steps can be computed at once instead
of in a `lax.scan` (at the NG-RC paper's 400 points the loop was about a fifth of the
compiled fit on XLA:CPU). `readout_inputs_over_time` does that for the models it can
prove are such feed-forward maps of the input window, built from exactly these types:
`Sequential`, `NVAR`, `Dense` and the trainer's readout taps, and returns `None` for
anything else, which then runs through [`funcdyn.run`][] as before. The values are the
same as the loop's, element for element.
"""

from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from .._core._sequential import Sequential
from ..layers._dense import Dense
from ..layers._nvar import NVAR, NVARState, nvar_over_time
from ._readouts import _Tap, _TapState


class _Unsupported(Exception):
    pass


def _over_time(model: Any, state: Any, xs: Array, ctxs: Context, taps: dict) -> Array:
    # Exact types only: a subclass may override __call__ with something stateful.
    kind = type(model)
    if kind is NVAR:
        if type(state) is not NVARState:
            raise _Unsupported
        return nvar_over_time(model, state, xs)[1]
    if kind is Dense:
        if state is not None:
            raise _Unsupported
        return jax.vmap(lambda x, ctx: model(None, x, ctx)[1])(xs, ctxs)
    if kind is _Tap:
        if type(state) is not _TapState or state.tag != model.tag:
            raise _Unsupported
        taps[model.tag] = xs.astype(state.x.dtype)
        return _over_time(model.layer, state.inner, xs, ctxs, taps)
    if kind is Sequential:
        if type(state) is not tuple or len(state) != len(model.layers):
            raise _Unsupported
        for k, (layer, s) in enumerate(zip(model.layers, state)):
            child = jax.vmap(lambda ctx, k=k: ctx.child(k))(ctxs)
            xs = _over_time(layer, s, xs, child, taps)
        return xs
    raise _Unsupported


def readout_inputs_over_time(
    tapped: Any,
    state: Any,
    xs: Any,
    num: int,
    *,
    dt: float,
    t0: float,
    i0: int,
    key: PRNGKeyArray | None,
) -> list[Array] | None:
    """The inputs of the `num` tapped readouts at every step of the time-major inputs
    `xs`, `(T, ...)` each, as [`funcdyn.run`][] with `fit=True` would record them; or
    `None` when the model is not one this module can compute without the loop."""
    if not isinstance(xs, jax.Array) or xs.ndim < 2 or xs.shape[0] < 1:
        return None
    steps = jnp.arange(i0, i0 + xs.shape[0], dtype=jnp.int32)
    ctxs = jax.vmap(lambda i: Context.for_step(i, dt=dt, t0=t0, fit=True, key=key))(steps)
    taps: dict = {}
    try:
        _over_time(tapped, state, xs, ctxs, taps)
    except _Unsupported:
        return None
    if sorted(taps) != list(range(num)):
        return None
    return [taps[k] for k in range(num)]
