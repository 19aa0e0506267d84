"""The base class of surrogate spike functions: Heaviside forward, smooth backward."""

import abc
import numbers

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .._checks import check_param


@jax.custom_jvp
def _spike(surrogate: "Surrogate", x: Array) -> Array:
    # `where` with typed constants: no convert, and the output keeps the dtype of `x`
    # without a weak type (so scanned states do not retrace). NaN fails both comparisons and
    # gives NaN: a NaN membrane is never read as "no spike".
    one, zero, nan = (jnp.array(v, x.dtype) for v in (1, 0, jnp.nan))
    return jnp.where(x >= 0, one, jnp.where(x < 0, zero, nan))


@_spike.defjvp
def _spike_jvp(primals, tangents):
    surrogate, x = primals
    _, x_dot = tangents
    # Only `x` gets a derivative: array parameters of the surrogate (e.g. `alpha`) are
    # treated as constants by this rule. A kernel that is 0 or constant far from threshold
    # (a boxcar, a straight-through) would turn a NaN `x` into a finite derivative: the
    # derivative at a NaN input is NaN, whatever the kernel.
    g = surrogate.grad(x)
    g = jnp.where(jnp.isnan(x), x, g)
    return _spike(surrogate, x), g * x_dot


def _param(p, x: Array):
    """A surrogate parameter ready to combine with `x`: Python numbers as they are,
    arrays cast to `x.dtype` and broadcast explicitly to `x.shape` (rank promotion is
    never relied on)."""
    if isinstance(p, numbers.Number):
        return p
    p = jnp.asarray(p, dtype=x.dtype)
    if p.ndim == 0 or p.shape == x.shape:
        return p
    return jnp.broadcast_to(p, x.shape)


def _as_param(value):
    """Field converter: numpy scalars become Python floats (weakly typed, so they combine
    with float32 and float64 inputs alike); everything else is left for `_check`."""
    if isinstance(value, (np.floating, np.integer)) and not isinstance(value, np.bool_):
        return float(value)
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "fiu":
        return float(value)
    return value


def param(default: float):
    """A surrogate parameter field: a float, or an array broadcastable to the input."""
    return eqx.field(default=default, converter=_as_param)


def _check(obj, name: str, *, low: float, low_open: bool = True) -> None:
    """Construction-time check of one parameter of `obj` (scalar or concrete array):
    finite and `> low` (`>= low` with `low_open=False`); `TypeError` for bools/strings."""
    check_param(getattr(obj, name), name, type(obj).__name__, low=low, low_open=low_open)


def _check_positive(obj, *names: str) -> None:
    for name in names:
        _check(obj, name, low=0.0)


class Surrogate(eqx.Module):
    r"""Base class of spike functions with a surrogate gradient.

    Calling a surrogate on the distance to threshold `x` (e.g. `V - V_th`) returns the
    Heaviside step in the forward pass, in every mode:

    $$H(x) = \begin{cases} 1 & x \ge 0 \\ 0 & x < 0 \end{cases}$$

    with the dtype and shape of `x`, and `H(NaN) = NaN` (a NaN input is never read as
    "no spike"; the surrogate derivative at NaN is NaN too). Under `jax.grad` /
    `jax.jvp` the derivative $\delta(x)$ is replaced by the smooth function
    `self.grad(x)` (a `jax.custom_jvp`, so reverse mode, forward mode and higher
    derivatives all work).

    Parameters such as `alpha` are ordinary fields: Python or numpy scalars (stored as
    Python floats), or arrays (e.g. one per neuron) that are broadcast explicitly to the
    shape of `x`. They are checked at construction: a NaN, infinite, or out-of-range value
    (e.g. a negative `alpha`, which would flip the gradient) is a `ValueError` naming the
    surrogate, the argument and the valid range; a bool or a string is a `TypeError`.
    The gradient flows to `x` only: an array parameter receives a zero gradient.

    **Defining your own:** subclass `Surrogate`, declare the parameters as fields and
    implement `grad(x)`, the surrogate derivative, elementwise and finite for every finite
    or infinite `x`:

    ```python
    class Lorentz(funcdyn.surrogate.Surrogate):
        gamma: float = 0.5

        def grad(self, x):
            return self.gamma / (jnp.pi * (x * x + self.gamma**2))

    spike = Lorentz()(V - V_th)          # 0/1 forward, Lorentzian backward
    ```

    (For array parameters use `jnp.broadcast_to(p, x.shape)` so that a per-neuron
    parameter combines with a batched `x`.)
    """

    def __call__(self, x: ArrayLike) -> Array:
        """**Arguments:** `x`, the distance to threshold (any shape).

        **Returns:** `H(x)`, 1.0 where `x >= 0`, 0.0 where `x < 0` and NaN where `x` is
        NaN, same shape and dtype as `x` (floating `x`; others are cast to the default
        float)."""
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(jnp.result_type(float))
        return _spike(self, x)

    @abc.abstractmethod
    def grad(self, x: Array) -> Array:
        """The surrogate derivative $g'(x)$ used in place of $\\delta(x)$; elementwise,
        same shape as `x`."""
