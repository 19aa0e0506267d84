"""The Izhikevich neuron."""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from .._checks import bcast
from ..typing import ParamSpec
from ._base import AbstractSpikingNeuron


class IzhikevichState(eqx.Module):
    """The state of an [`funcdyn.neurons.Izhikevich`][]: `V`, recovery `u`, last
    `spike`, `refractory`."""

    V: Array
    u: Array
    spike: Array
    refractory: Array | None


class Izhikevich(AbstractSpikingNeuron):
    r"""Izhikevich (2003) neurons.

    $$\frac{dV}{dt} = 0.04 V^2 + 5 V + 140 - u + I(t), \qquad \frac{du}{dt} = a(bV - u)$$

    At a spike ($V \ge V_\mathrm{th}$): $V \leftarrow c$, $u \leftarrow u + d$. The
    defaults give regular spiking; e.g. `a=0.1, d=2` is fast spiking, `c=-50, d=2`
    chattering.

    **Step semantics:** *integrate* `(V, u)` (default: exponential Euler with each
    variable linearised about the current point; or one step of `solver`; `dt` of 0.1 ms
    or less is advisable for the quadratic upswing), *refractoriness* (`tau_ref > 0`),
    *spike* `spike_fn(V - V_th)`, *reset* of `V` to `c` (`reset="zero"`), then $u
    \leftarrow u + d s$. The output is the spike array.

    **Arguments:** `size`; per-neuron `a` (0.02), `b` (0.2), `c` (-65 mV, the reset
    potential), `d` (8), `V_th` (30 mV); `V_initializer` (default -65 mV; `u` starts at
    `b V`); the rest as in [`funcdyn.neurons.LIF`][].
    """

    a: Array
    b: Array
    d: Array

    state_cls = IzhikevichState
    variables = ("V", "u")

    # The reset potential is called `c` here: it is checked under that name below.
    check_reset_below_threshold = False

    def __init__(
        self,
        size: int | tuple[int, ...],
        *,
        a: ParamSpec = 0.02,
        b: ParamSpec = 0.2,
        c: ParamSpec = -65.0,
        d: ParamSpec = 8.0,
        V_th: ParamSpec = 30.0,
        V_initializer: ParamSpec = -65.0,
        key: PRNGKeyArray | None = None,
        **options,
    ):
        self._set_size(size)
        self.a = self._parameter(a, "a", key)
        self.b = self._parameter(b, "b", key)
        self.d = self._parameter(d, "d", key)
        super().__init__(V_reset=c, V_th=V_th, V_initializer=V_initializer, key=key, **options)
        self._check_order(self.V_reset, self.V_th, "c", "V_th")

    @property
    def c(self) -> Array:
        """The reset potential (stored as `V_reset`)."""
        return self.V_reset

    def default_V(self) -> Array:
        return self.V_reset

    def initial_others(self, V: Array) -> tuple[Array]:
        return (bcast(self.b, V.shape) * V,)

    def self_derivative(self, t: Array, y: tuple[Array, Array], I: Array) -> tuple[Array, Array]:
        """`(∂(dV/dt)/∂V, ∂(du/dt)/∂u)`, for exponential Euler."""
        V, _ = y
        return 0.08 * V + 5.0, -bcast(self.a, V.shape) * jnp.ones_like(V)

    def vector_field(self, t: Array, y: tuple[Array, Array], I: Array) -> tuple[Array, Array]:
        """`(dV/dt, du/dt)` for `y = (V, u)`."""
        V, u = y
        s = V.shape
        dV = 0.04 * V * V + 5.0 * V + 140.0 - u + I
        du = bcast(self.a, s) * (bcast(self.b, s) * V - u)
        return dV, du

    def on_spike(self, y, s, ctx):
        return (y[1] + bcast(self.d, s.shape) * s,)
