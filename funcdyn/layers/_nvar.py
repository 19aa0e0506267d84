"""The nonlinear vector autoregression (NVAR) of next-generation reservoir computing."""

import functools
import itertools
import math
from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._core._context import Context
from .._core._modes import BatchingMode, Mode, NonBatchingMode, resolve_mode
from .._core._system import DynamicalSystem
from ..init import default_float_dtype
from ._checks import check_features, check_positive_int


class NVARState(eqx.Module):
    """The state of [`funcdyn.layers.NVAR`][]: the last `(delay - 1) * stride + 1`
    inputs, newest first, shape `(window, num_in)` or `(batch, window, num_in)`."""

    buffer: Array


@functools.lru_cache(maxsize=64)
def _monomial_indices(num_linear: int, order: int) -> np.ndarray:
    # Multisets i1 <= i2 <= ... <= in: each unique monomial appears exactly once.
    combos = itertools.combinations_with_replacement(range(num_linear), order)
    return np.asarray(list(combos), dtype=np.int32).reshape(-1, order)


def _normalise_order(order) -> tuple[int, ...]:
    if order is None:
        return ()
    if isinstance(order, (int, np.integer)) and not isinstance(order, bool):
        orders = (int(order),)
    elif isinstance(order, Sequence) and not isinstance(order, str):
        orders = tuple(order)
    else:
        raise TypeError(
            f"NVAR: `order` must be None (linear features only), an int >= 2 or a sequence "
            f"of them, got {order!r}."
        )
    if not orders:
        raise ValueError(
            "NVAR: `order` is empty; give at least one order >= 2, e.g. order=2, or "
            "order=None for the linear features only."
        )
    for n in orders:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
            raise ValueError(
                f"NVAR: every `order` must be an int >= 2 (the linear part already holds "
                f"the order-1 terms), got {order!r}."
            )
    if len(set(orders)) != len(orders):
        raise ValueError(f"NVAR: `order` repeats a value: {order!r}; list each order once.")
    return tuple(sorted(int(n) for n in orders))


class NVAR(DynamicalSystem):
    r"""Nonlinear vector autoregression, the feature map of next-generation reservoir
    computing (Gauthier, Bollt, Griffith & Barbosa, *Nat. Commun.* 12, 5564, 2021).

    With `k = delay` taps spaced `s = stride` steps apart, the linear part at step `t` is

    $$O_\text{lin}(t) = x(t) \oplus x(t - s) \oplus \dots \oplus x(t - (k - 1) s),$$

    of size `num_in * delay`, and the nonlinear part holds every *unique* monomial of the
    entries of $O_\text{lin}$ of each requested order (none with `order=None`) (for order 2 the upper triangle of
    $O_\text{lin} O_\text{lin}^\top$: $\binom{d+1}{2}$ terms for $d$ linear features).
    The output is

    $$O(t) = [1] \oplus O_\text{lin}(t) \oplus O_\text{nonlin}(t),$$

    with the leading constant only when `constant=True`. Monomials are listed order by
    order, each in lexicographic order of the index multiset $i_1 \le \dots \le i_n$.

    The past inputs live in the state (a shift buffer of the last
    `(delay - 1) * stride + 1` inputs), which starts at zero: the first
    `(delay - 1) * stride` outputs see zeros for the missing taps (a warm-up).

    NVAR has no parameters, so [`funcdyn.TrainingMode`][] is refused; use it in
    [`funcdyn.batching_mode`][] in front of a [`funcdyn.layers.Dense`][] readout in
    training mode, and only the readout is trained.

    **Arguments:**

    - `num_in`: the input size.
    - `delay`: the number `k >= 1` of taps in the linear part.
    - `order`: the order (an int >= 2) or the orders (a sequence of distinct ints >= 2)
      of the monomials in the nonlinear part; `None` (default, as BrainPy's
      `NVAR(num_in, delay)`) for the linear features only.
    - `stride`: the spacing `s >= 1` of the taps, in steps.
    - `constant`: whether to prepend a constant feature 1.
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][]; non-batching or batching.

    **Attributes:** `num_linear`, `num_nonlinear` and `num_out` (their sum plus the
    constant) are computed.

    **Shapes:** `x` is `(num_in,)` or `(batch, num_in)`; `y` is `(num_out,)` or
    `(batch, num_out)`. The state is an [`funcdyn.layers.NVARState`][].

    ```python
    nvar = funcdyn.layers.NVAR(3, delay=2, order=2, constant=True)
    assert nvar.num_out == 1 + 6 + 21
    state = nvar.init_state()
    state, features = nvar(state, x, funcdyn.Context(dt=0.025))
    ```
    """

    num_in: int = eqx.field(static=True)
    delay: int = eqx.field(static=True)
    order: tuple[int, ...] = eqx.field(static=True)
    stride: int = eqx.field(static=True)
    constant: bool = eqx.field(static=True)
    num_linear: int = eqx.field(static=True)
    num_nonlinear: int = eqx.field(static=True)
    num_out: int = eqx.field(static=True)

    supported_modes = (NonBatchingMode, BatchingMode)

    def __init__(
        self,
        num_in: int,
        delay: int,
        order: int | Sequence[int] | None = None,
        stride: int = 1,
        constant: bool = False,
        *,
        mode: Mode | None = None,
        name: str | None = None,
    ):
        cls = type(self).__name__
        check_positive_int(num_in, "num_in", cls)
        if isinstance(delay, bool) or not isinstance(delay, (int, np.integer)) or delay < 1:
            raise ValueError(
                f"NVAR: `delay` (the number of taps) must be an int >= 1, got {delay!r}."
            )
        check_positive_int(stride, "stride", cls)
        if not isinstance(constant, bool):
            raise TypeError(f"NVAR: `constant` must be a bool, got {constant!r}.")
        mode = resolve_mode(mode)
        if mode.is_trainable:
            raise ValueError(
                "NVAR has no trainable parameters, so it does not support TrainingMode. "
                "Build it with mode=funcdyn.batching_mode and put the Dense readout after "
                "it in funcdyn.training_mode: only the readout is trained."
            )
        self.num_in = int(num_in)
        self.delay = int(delay)
        self.order = _normalise_order(order)
        self.stride = int(stride)
        self.constant = constant
        self.num_linear = self.num_in * self.delay
        self.num_nonlinear = sum(math.comb(self.num_linear + n - 1, n) for n in self.order)
        self.num_out = int(constant) + self.num_linear + self.num_nonlinear
        self.mode = mode
        self.name = name

    @property
    def window(self) -> int:
        """The number of past inputs kept in the state, `(delay - 1) * stride + 1`."""
        return (self.delay - 1) * self.stride + 1

    def init_state(self, batch_size: int | None = None, *, key=None) -> NVARState:
        """A zero buffer of shape `(window, num_in)`, or `(batch_size, window, num_in)`."""
        self.check_batch_size(batch_size)
        shape = (self.window, self.num_in)
        if batch_size is not None:
            shape = (batch_size,) + shape
        return NVARState(buffer=jnp.zeros(shape, default_float_dtype()))

    def __call__(self, state: NVARState, x: Array, ctx: Context) -> tuple[NVARState, Array]:
        x = check_features(self, x, self.num_in)
        buffer = state.buffer
        self._check_buffer(buffer)
        x = x.astype(buffer.dtype)
        # Newest first, so that tap j sits at index j * stride.
        buffer = jnp.concatenate([x[..., None, :], buffer[..., :-1, :]], axis=-2)
        taps = buffer[..., :: self.stride, :]
        linear = taps.reshape(taps.shape[:-2] + (self.num_linear,))
        return NVARState(buffer=buffer), self._features(linear)

    def _check_buffer(self, buffer: Array) -> None:
        if buffer.shape[-2:] != (self.window, self.num_in):
            raise ValueError(
                f"NVAR: the state buffer has shape {buffer.shape}; expected (..., "
                f"{self.window}, {self.num_in}) from init_state."
            )

    def _features(self, linear: Array) -> Array:
        parts = []
        if self.constant:
            parts.append(jnp.ones(linear.shape[:-1] + (1,), linear.dtype))
        parts.append(linear)
        for n in self.order:
            index = _monomial_indices(self.num_linear, n)
            monomial = linear[..., index[:, 0]]
            for j in range(1, n):
                monomial = monomial * linear[..., index[:, j]]
            parts.append(monomial)
        return jnp.concatenate(parts, axis=-1)


def nvar_over_time(nvar: NVAR, state: NVARState, xs: Array) -> tuple[NVARState, Array]:
    """`(final_state, ys)` of `nvar` over the time-major inputs `xs` (`(T, ...)` + one
    step's input shape), computed for all steps at once: the same values as a
    `lax.scan` of `nvar.__call__` (the same arithmetic per element), without the loop.

    The taps of step `t` are slices of the sequence of the buffer's past inputs
    followed by `xs`, so every feature vector is built in one vectorised pass."""
    check_features(nvar, xs[0], nvar.num_in)
    buffer = state.buffer
    nvar._check_buffer(buffer)
    xs = xs.astype(buffer.dtype)
    num_steps, window = xs.shape[0], nvar.window
    # The inputs before xs[0], oldest first: buffer[window - 2], ..., buffer[0].
    past = jnp.flip(jnp.moveaxis(buffer, -2, 0)[: window - 1], axis=0)
    seq = jnp.concatenate([past, xs], axis=0)  # (window - 1 + T, ..., num_in)
    # At step t the buffer is seq[t + window - 1], seq[t + window - 2], ... (newest
    # first), so tap j is seq[t + window - 1 - j * stride].
    taps = [seq[window - 1 - j * nvar.stride : window - 1 - j * nvar.stride + num_steps]
            for j in range(nvar.delay)]
    linear = jnp.concatenate(taps, axis=-1)
    final = jnp.moveaxis(jnp.flip(seq[-window:], axis=0), 0, -2)
    return NVARState(buffer=final), nvar._features(linear)
