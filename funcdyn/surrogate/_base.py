"""The base class of surrogate spike functions: Heaviside forward, smooth backward."""

import abc
import numbers

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike


@jax.custom_jvp
def _spike(surrogate: "Surrogate", x: Array) -> Array:
    # `where` with two typed constants: one select, no convert, and the output keeps the
    # dtype of `x` without a weak type (so scanned states do not retrace).
    return jnp.where(x >= 0, jnp.array(1, x.dtype), jnp.array(0, x.dtype))


@_spike.defjvp
def _spike_jvp(primals, tangents):
    surrogate, x = primals
    _, x_dot = tangents
    # Only `x` gets a derivative: array parameters of the surrogate (e.g. `alpha`) are
    # treated as constants by this rule.
    return _spike(surrogate, x), surrogate.grad(x) * x_dot


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


def _check_positive(obj, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, numbers.Real) and not value > 0:
            raise ValueError(f"{type(obj).__name__}: `{name}` must be > 0, got {value!r}.")


class Surrogate(eqx.Module):
    r"""Base class of spike functions with a surrogate gradient.

    Calling a surrogate on the distance to threshold `x` (e.g. `V - V_th`) returns the
    Heaviside step in the forward pass, in every mode:

    $$H(x) = \begin{cases} 1 & x \ge 0 \\ 0 & x < 0 \end{cases}$$

    with the dtype and shape of `x`. Under `jax.grad` / `jax.jvp` the derivative
    $\delta(x)$ is replaced by the smooth function `self.grad(x)` (a `jax.custom_jvp`,
    so reverse mode, forward mode and higher derivatives all work).

    Parameters such as `alpha` are ordinary fields: Python floats, or arrays (e.g. one per
    neuron) that are broadcast explicitly to the shape of `x`. The gradient flows to `x`
    only: an array parameter receives a zero gradient.

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

        **Returns:** `H(x)`, 1.0 where `x >= 0` and 0.0 elsewhere, same shape and dtype as
        `x` (floating `x`; others are cast to the default float)."""
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(jnp.result_type(float))
        return _spike(self, x)

    @abc.abstractmethod
    def grad(self, x: Array) -> Array:
        """The surrogate derivative $g'(x)$ used in place of $\\delta(x)$; elementwise,
        same shape as `x`."""
