"""The quadratic integrate-and-fire neuron."""

import equinox as eqx
from jaxtyping import Array, PRNGKeyArray

from ..typing import ParamSpec
from .._checks import bcast
from ._base import AbstractSpikingNeuron


class QuaIFState(eqx.Module):
    """The state of a [`funcdyn.neurons.QuaIF`][]: `V`, last `spike`, `refractory`."""

    V: Array
    spike: Array
    refractory: Array | None


class QuaIF(AbstractSpikingNeuron):
    r"""Quadratic integrate-and-fire neurons (Latham et al. 2000).

    $$\tau \frac{dV}{dt} = c (V - V_\mathrm{rest})(V - V_c) + R\,I(t)$$

    `V_rest` is the stable and `V_c` the unstable fixed point without input; a spike is
    counted at the cut-off `V_th` and `V` is reset to `V_reset`.

    **Step semantics:** *integrate* (default: exponential Euler on the dynamics
    linearised about the current `V`; or one step of `solver`), *refractoriness*
    (`tau_ref > 0`), *spike* `spike_fn(V - V_th)`, *reset*. The output is the spike
    array.

    **Arguments:** `size`; per-neuron `V_rest` (-65 mV), `V_reset` (-68), `V_th` (-30),
    `V_c` (-50), `c` (0.07 / mV), `R` (1), `tau` (10 ms); the rest as in
    [`funcdyn.neurons.LIF`][].
    """

    V_rest: Array
    V_c: Array
    c: Array
    R: Array
    tau: Array

    state_cls = QuaIFState
    variables = ("V",)

    def __init__(
        self,
        size: int | tuple[int, ...],
        *,
        V_rest: ParamSpec = -65.0,
        V_c: ParamSpec = -50.0,
        c: ParamSpec = 0.07,
        R: ParamSpec = 1.0,
        tau: ParamSpec = 10.0,
        V_reset: ParamSpec = -68.0,
        V_th: ParamSpec = -30.0,
        key: PRNGKeyArray | None = None,
        **options,
    ):
        self._set_size(size)
        self.V_rest = self._parameter(V_rest, "V_rest", key)
        self.V_c = self._parameter(V_c, "V_c", key)
        self.c = self._parameter(c, "c", key)
        self.R = self._parameter(R, "R", key)
        self.tau = self._parameter(tau, "tau", key, positive=True)
        super().__init__(V_reset=V_reset, V_th=V_th, key=key, **options)

    def self_derivative(self, t: Array, y: tuple[Array], I: Array) -> tuple[Array]:
        """`(∂(dV/dt)/∂V,)`, for exponential Euler."""
        (V,) = y
        s = V.shape
        slope = bcast(self.c, s) * (2.0 * V - bcast(self.V_rest, s) - bcast(self.V_c, s))
        return (slope / bcast(self.tau, s),)

    def vector_field(self, t: Array, y: tuple[Array], I: Array) -> tuple[Array]:
        """`(dV/dt,)` for `y = (V,)`."""
        (V,) = y
        s = V.shape
        quad = bcast(self.c, s) * (V - bcast(self.V_rest, s)) * (V - bcast(self.V_c, s))
        return ((quad + bcast(self.R, s) * I) / bcast(self.tau, s),)
