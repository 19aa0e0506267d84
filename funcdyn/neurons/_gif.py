"""The generalized integrate-and-fire neuron (Mihalas & Niebur 2009)."""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from .._checks import bcast
from ..typing import ParamSpec
from ._base import AbstractSpikingNeuron, jump


class GIFState(eqx.Module):
    """The state of a [`funcdyn.neurons.GIF`][]: `V`, internal currents `I1`, `I2`, the
    dynamic threshold `V_th`, last `spike`, `refractory`."""

    V: Array
    I1: Array
    I2: Array
    V_th: Array
    spike: Array
    refractory: Array | None


class GIF(AbstractSpikingNeuron):
    r"""Generalized integrate-and-fire neurons (Mihalas & Niebur 2009), with two
    spike-induced currents and a dynamic threshold.

    $$\frac{dI_1}{dt} = -k_1 I_1, \qquad \frac{dI_2}{dt} = -k_2 I_2$$

    $$\tau \frac{dV}{dt} = -(V - V_\mathrm{rest}) + R(I_1 + I_2 + I(t))$$

    $$\frac{d\Theta}{dt} = a(V - V_\mathrm{rest}) - b(\Theta - \Theta_\infty)$$

    At a spike ($V \ge \Theta$): $I_1 \leftarrow R_1 I_1 + A_1$, $I_2 \leftarrow R_2 I_2 +
    A_2$, $V \leftarrow V_\mathrm{reset}$, $\Theta \leftarrow \max(\Theta_\mathrm{reset},
    \Theta)$. The defaults are the tonic-spiking parameters; the twenty behaviours of the
    paper come from `a`, `A1`, `A2` and the input.

    **Step semantics:** *integrate* `(V, I1, I2, Θ)` (default: exponential Euler with
    each variable linearised about the current point, exact here since the equations are
    linear given the other variables; or one step of `solver`), *refractoriness*
    (`tau_ref > 0`), *spike* `spike_fn(V - Θ)` (both integrated to the end of the step), *reset*
    of `V` (`"zero"`: to `V_reset`), then the jumps of `I1`, `I2`, `Θ`. The output is the
    spike array.

    **Arguments:** `size`; per-neuron `V_rest` (-70 mV), `V_reset` (-70), `V_th_inf`
    (-50, $\Theta_\infty$), `V_th_reset` (-60), `V_th_initializer` (-50), `R` (20), `tau`
    (20 ms), `a` (0), `b` (0.01 / ms), `k1` (0.2 / ms), `k2` (0.02 / ms), `R1` (0), `R2`
    (1), `A1` (0), `A2` (0); `tau_ref`, `reset`, `spike_fn`, `detach_reset`,
    `V_initializer` (default `V_rest`), `solver`, `mode`, `name` as in
    [`funcdyn.neurons.LIF`][]. (`V_th` in the state is the dynamic threshold $\Theta$;
    the field `V_th` of the model is its initial value.)
    """

    V_rest: Array
    V_th_inf: Array
    V_th_reset: Array
    R: Array
    tau: Array
    a: Array
    b: Array
    k1: Array
    k2: Array
    R1: Array
    R2: Array
    A1: Array
    A2: Array

    state_cls = GIFState
    variables = ("V", "I1", "I2", "V_th")

    # The threshold is a state variable: `V_reset` is checked against its initial and
    # reset values below.
    check_reset_below_threshold = False

    def __init__(
        self,
        size: int | tuple[int, ...],
        *,
        V_rest: ParamSpec = -70.0,
        V_reset: ParamSpec = -70.0,
        V_th_inf: ParamSpec = -50.0,
        V_th_reset: ParamSpec = -60.0,
        V_th_initializer: ParamSpec = -50.0,
        R: ParamSpec = 20.0,
        tau: ParamSpec = 20.0,
        a: ParamSpec = 0.0,
        b: ParamSpec = 0.01,
        k1: ParamSpec = 0.2,
        k2: ParamSpec = 0.02,
        R1: ParamSpec = 0.0,
        R2: ParamSpec = 1.0,
        A1: ParamSpec = 0.0,
        A2: ParamSpec = 0.0,
        key: PRNGKeyArray | None = None,
        **options,
    ):
        self._set_size(size)
        self.V_rest = self._parameter(V_rest, "V_rest", key)
        self.V_th_inf = self._parameter(V_th_inf, "V_th_inf", key)
        self.V_th_reset = self._parameter(V_th_reset, "V_th_reset", key)
        self.R = self._parameter(R, "R", key)
        self.tau = self._parameter(tau, "tau", key, positive=True)
        self.a = self._parameter(a, "a", key)
        self.b = self._parameter(b, "b", key)
        self.k1 = self._parameter(k1, "k1", key, positive=True)
        self.k2 = self._parameter(k2, "k2", key, positive=True)
        self.R1 = self._parameter(R1, "R1", key)
        self.R2 = self._parameter(R2, "R2", key)
        self.A1 = self._parameter(A1, "A1", key)
        self.A2 = self._parameter(A2, "A2", key)
        super().__init__(V_reset=V_reset, V_th=V_th_initializer, key=key, **options)
        self._check_order(self.V_reset, self.V_th, "V_reset", "V_th_initializer")
        self._check_order(self.V_reset, self.V_th_reset, "V_reset", "V_th_reset")

    def initial_others(self, V: Array) -> tuple[Array, Array, Array]:
        zeros = jnp.zeros_like(V)
        return zeros, zeros, jnp.broadcast_to(self.V_th.astype(V.dtype), V.shape)

    def threshold(self, y):
        return y[3]

    def self_derivative(self, t: Array, y, I: Array):
        """The rates' derivatives with respect to their own variables (constants here:
        the model is linear between spikes), for exponential Euler."""
        V = y[0]
        s = V.shape
        ones = jnp.ones_like(V)
        return (
            -1.0 / bcast(self.tau, s) * ones,
            -bcast(self.k1, s) * ones,
            -bcast(self.k2, s) * ones,
            -bcast(self.b, s) * ones,
        )

    def vector_field(self, t: Array, y, I: Array):
        """`(dV/dt, dI1/dt, dI2/dt, dΘ/dt)` for `y = (V, I1, I2, Θ)`."""
        V, I1, I2, th = y
        s = V.shape
        V_rest = bcast(self.V_rest, s)
        dI1 = -bcast(self.k1, s) * I1
        dI2 = -bcast(self.k2, s) * I2
        dV = (-(V - V_rest) + bcast(self.R, s) * (I1 + I2 + I)) / bcast(self.tau, s)
        dth = bcast(self.a, s) * (V - V_rest) - bcast(self.b, s) * (th - bcast(self.V_th_inf, s))
        return dV, dI1, dI2, dth

    def on_spike(self, y, s, ctx):
        _, I1, I2, th = y
        shape = s.shape
        I1 = jump(I1, bcast(self.R1, shape) * I1 + bcast(self.A1, shape), s)
        I2 = jump(I2, bcast(self.R2, shape) * I2 + bcast(self.A2, shape), s)
        th = jump(th, jnp.maximum(bcast(self.V_th_reset, shape), th), s)
        return I1, I2, th
