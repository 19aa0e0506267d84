"""The adaptive leaky integrate-and-fire neuron (Bellec et al. 2018)."""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from .._checks import bcast
from .._core._context import Context
from ..typing import ParamSpec
from ._base import AbstractSpikingNeuron
from ._integrate import leaky_update, leaky_vector_field


class ALIFState(eqx.Module):
    """The state of a [`funcdyn.neurons.ALIF`][] population: potential `V`, threshold
    adaptation `a`, last `spike`, and `refractory` time left (`None` without one)."""

    V: Array
    a: Array
    spike: Array
    refractory: Array | None


class ALIF(AbstractSpikingNeuron):
    r"""Adaptive leaky integrate-and-fire neurons (the LSNN neuron of Bellec et al. 2018).

    $$\tau \frac{dV}{dt} = -(V - V_\mathrm{rest}) + R\,I(t), \qquad
    \tau_a \frac{da}{dt} = -a, \qquad A = V_\mathrm{th} + \beta a$$

    a spike when $V \ge A$, and after a spike $a \leftarrow a + (1 - e^{-\Delta t/\tau_a})$
    (the LSNN update $a_{t+1} = \rho a_t + (1 - \rho) z_t$, $\rho = e^{-\Delta t/\tau_a}$).

    **Step:** the spiking step of [`funcdyn.neurons.AbstractSpikingNeuron`][]: `V` and
    `a` integrated (exactly by default, or one step of `solver` on `vector_field`), the
    spike `spike_fn(V - A)` with both at the end of the step, the reset (`"subtract"` by
    default, as in LSNN: $V \leftarrow V - (A - V_\mathrm{reset})s$), then `a` adapts by
    the spike. The output is the spike array.

    **Arguments:** `size`; per-neuron `tau` (20 ms), `tau_a` (200 ms), `beta` (1.8),
    `V_rest` (0), `V_reset` (0), `V_th` (1, the baseline threshold), `R` (1); `reset`
    (default `"subtract"`) and the rest as in [`funcdyn.neurons.LIF`][].

    ```python
    alif = funcdyn.neurons.ALIF(100, tau_a=700.0, beta=1.8)
    state, spikes = alif(alif.init_state(), current, funcdyn.Context(dt=1.0))
    ```
    """

    tau: Array
    tau_a: Array
    beta: Array
    V_rest: Array
    R: Array

    state_cls = ALIFState
    variables = ("V", "a")

    def __init__(
        self,
        size: int | tuple[int, ...],
        *,
        tau: ParamSpec = 20.0,
        tau_a: ParamSpec = 200.0,
        beta: ParamSpec = 1.8,
        V_rest: ParamSpec = 0.0,
        V_reset: ParamSpec = 0.0,
        V_th: ParamSpec = 1.0,
        R: ParamSpec = 1.0,
        reset: str = "subtract",
        key: PRNGKeyArray | None = None,
        **options,
    ):
        self._set_size(size)
        self.tau = self._parameter(tau, "tau", key, positive=True)
        self.tau_a = self._parameter(tau_a, "tau_a", key, positive=True)
        self.beta = self._parameter(beta, "beta", key, nonnegative=True)
        self.V_rest = self._parameter(V_rest, "V_rest", key)
        self.R = self._parameter(R, "R", key)
        super().__init__(V_reset=V_reset, V_th=V_th, reset=reset, key=key, **options)

    def vector_field(self, t: Array, y: tuple[Array, Array], I: Array) -> tuple[Array, Array]:
        """`(dV/dt, da/dt)` for `y = (V, a)`."""
        V, a = y
        return (leaky_vector_field(V, I, self.tau, self.V_rest, self.R),
                -a / bcast(self.tau_a, a.shape))

    def update(self, y: tuple[Array, Array], I: Array, ctx: Context) -> tuple[Array, Array]:
        if self.solver is None:
            V, a = y
            rho = jnp.exp(-ctx.dt / bcast(self.tau_a, a.shape))
            return leaky_update(V, I, self.tau, self.V_rest, self.R, ctx.dt), a * rho
        return super().update(y, I, ctx)

    def threshold(self, y: tuple[Array, Array]) -> Array:
        V, a = y
        return bcast(self.V_th, V.shape) + bcast(self.beta, V.shape) * a

    def on_spike(self, y: tuple[Array, Array], s: Array, ctx: Context) -> tuple[Array]:
        rho = jnp.exp(-ctx.dt / bcast(self.tau_a, s.shape))
        return (y[1] + (1.0 - rho) * s,)
