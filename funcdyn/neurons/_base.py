"""What every neuron model shares: its size, validation, and input handling."""

import math
import numbers
from collections.abc import Sequence

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from .._core._system import DynamicalSystem
from ..init import parameter
from ..init._base import default_float_dtype


def normalize_size(size, cls: str) -> tuple[int, ...]:
    """`size` as a non-empty tuple of positive ints."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (int(size),)
    if (
        not isinstance(size, Sequence)
        or len(size) == 0
        or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in size)
    ):
        raise ValueError(
            f"{cls}: `size` must be a positive int or a non-empty tuple of positive ints, "
            f"got {size!r}."
        )
    return tuple(int(s) for s in size)


def concrete(value) -> np.ndarray | None:
    """The numpy value of a concrete array, or None for a tracer."""
    try:
        return np.asarray(value)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


def neuron_parameter(
    value,
    size: tuple[int, ...],
    name: str,
    cls: str,
    *,
    positive: bool = False,
    nonnegative: bool = False,
    key: PRNGKeyArray | None = None,
) -> Array:
    """A per-neuron parameter: an array leaf of shape `()`, `size`, or anything that
    broadcasts to `size` (see [`funcdyn.init.parameter`][]), checked for sign."""
    array = parameter(value, size, name=name, key=key, broadcast=True)
    values = concrete(array)
    if values is not None:
        if positive and not np.all(values > 0):
            raise ValueError(
                f"{cls}: `{name}` must be > 0 (a time constant or scale), got {value!r}."
            )
        if nonnegative and not np.all(values >= 0):
            raise ValueError(f"{cls}: `{name}` must be >= 0, got {value!r}.")
    return array


def check_order(low: Array, high: Array, low_name: str, high_name: str, cls: str) -> None:
    """A `ValueError` when a concrete `low > high` (e.g. `V_reset > V_th`)."""
    lo, hi = concrete(low), concrete(high)
    if lo is not None and hi is not None and np.any(lo > hi):
        raise ValueError(
            f"{cls}: `{low_name}` must not exceed `{high_name}` (got {low_name}={lo}, "
            f"{high_name}={hi}); a neuron reset above threshold would fire every step."
        )


def check_reset(reset: str, cls: str) -> str:
    if reset not in ("zero", "subtract"):
        raise ValueError(f"{cls}: `reset` must be 'zero' or 'subtract', got {reset!r}.")
    return reset


def check_solver(solver, cls: str):
    if solver is not None and not isinstance(solver, diffrax.AbstractSolver):
        raise TypeError(
            f"{cls}: `solver` must be None (exponential Euler) or a diffrax solver such as "
            f"diffrax.Euler(), diffrax.Heun() or diffrax.Tsit5(); got {solver!r}."
        )
    return solver


def check_spike_fn(spike_fn, cls: str):
    if not callable(spike_fn):
        raise TypeError(
            f"{cls}: `spike_fn` must be a callable such as funcdyn.surrogate.Sigmoid(), got "
            f"{spike_fn!r}."
        )
    return spike_fn


def check_tau_ref(tau_ref, size, cls: str) -> Array | None:
    """`None` when there is no refractory period (a static decision: no refractory
    logic is traced), else the per-neuron array."""
    if isinstance(tau_ref, numbers.Real) and not isinstance(tau_ref, bool):
        if tau_ref < 0:
            raise ValueError(f"{cls}: `tau_ref` must be >= 0, got {tau_ref!r}.")
        if tau_ref == 0:
            return None
    if tau_ref is None:
        return None
    return neuron_parameter(tau_ref, size, "tau_ref", cls, nonnegative=True)


def bcast(p: Array, shape: tuple[int, ...]) -> Array:
    """`p` broadcast explicitly to `shape` (scalars stay scalars: they need no rank
    promotion), so that per-neuron parameters combine with batched states."""
    if p.ndim == 0 or p.shape == shape:
        return p
    return jnp.broadcast_to(p, shape)


def state_shape(model, batch_size: int | None) -> tuple[int, ...]:
    model.check_batch_size(batch_size)
    return model.size if batch_size is None else (batch_size, *model.size)


def initial_value(init, shape, name: str, key, default: Array, dtype=None) -> Array:
    """A state variable's initial value: `default` broadcast to `shape` when `init` is
    None, else the initialiser (or array) resolved for `shape`."""
    dtype = default_float_dtype() if dtype is None else dtype
    if init is None:
        return jnp.broadcast_to(jnp.asarray(default, dtype), shape)
    if eqx.is_array_like(init):
        return jnp.broadcast_to(jnp.asarray(init, dtype), shape)
    return parameter(init, shape, name=name, key=key, dtype=dtype)


def check_input(model, x, V: Array) -> Array:
    """The input current as an array shaped like `V` (`None` means no input; a scalar
    is broadcast), with a clear error when its shape does not fit the mode."""
    if x is None:
        return jnp.zeros_like(V)
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(V.dtype)
    if x.shape == V.shape:
        return x
    if x.ndim == 0:
        return jnp.broadcast_to(x, V.shape)
    cls = type(model).__name__
    expected = (
        f"(batch, {', '.join(map(str, model.size))})"
        if model.mode.is_batching
        else str(model.size)
    )
    raise ValueError(
        f"{cls} in {model.mode} expects an input current of shape {expected} (or a scalar), "
        f"got {x.shape}; the state has shape {V.shape}."
    )


class Neuron(DynamicalSystem):
    """Base class of the neuron models: holds `size` (a tuple) and `num` (its product)."""

    size: tuple[int, ...] = eqx.field(static=True)
    num: int = eqx.field(static=True)

    def _set_size(self, size) -> None:
        self.size = normalize_size(size, type(self).__name__)
        self.num = math.prod(self.size)


def spike_fn_reset(
    model, V: Array, V_th: Array, V_reset: Array, refractory
) -> tuple[Array, Array, Array]:
    """The spike of an integrated potential `V`, the spike used by resets (detached when
    `model.detach_reset`), and `V` after `model.reset` (`"zero"` or `"subtract"`).
    A refractory neuron (`refractory` True) cannot spike."""
    spike = model.spike_fn(V - V_th)
    if refractory is not None:
        spike = jnp.where(refractory, jnp.zeros_like(spike), spike)
    s = jax.lax.stop_gradient(spike) if model.detach_reset else spike
    if model.reset == "zero":
        V = V + (V_reset - V) * s
    else:
        V = V - (V_th - V_reset) * s
    return spike, s, V


def jump(value: Array, target: Array, s: Array) -> Array:
    """`target` where the (0/1) spike `s` is 1, `value` elsewhere, differentiably in `s`."""
    return value + (target - value) * s


def refractory_hold(model, ref: Array | None, V_old: Array, V_new: Array, dt: float):
    """`(V, mask)`: a neuron with refractory time left keeps `V_old`. `(V_new, None)`
    when the model has no refractory period (nothing is traced)."""
    if model.tau_ref is None:
        return V_new, None
    mask = ref > 0.5 * dt  # half a step of slack absorbs the rounding of repeated `- dt`
    return jnp.where(mask, V_old, V_new), mask


def refractory_next(model, ref: Array | None, spike: Array, dt: float) -> Array | None:
    """The refractory time left after this step: `tau_ref` after a spike, else one `dt`
    less. `None` without a refractory period."""
    if model.tau_ref is None:
        return None
    return jnp.where(spike > 0, bcast(model.tau_ref, spike.shape), ref - dt)
