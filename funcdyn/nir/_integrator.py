"""NIR's `I`: a non-leaky, non-spiking integrator."""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from .. import Context, DynamicalSystem
from ._checks import bshape, check_example_shape, float_array, mode_or_default


class IntegratorState(eqx.Module):
    """The state of a [`funcdyn.nir.Integrator`][]: the integrated value `V`."""

    V: Array


class Integrator(DynamicalSystem):
    r"""A population of perfect integrators without threshold, NIR's `I` node:

    $$\tau \frac{dV}{dt} = R\,I(t), \qquad V \leftarrow V + \frac{\Delta t}{\tau} R I$$

    (exact for an input held over the step; forward Euler is the same update). The
    output is the new `V`. NIR's `I` has no time constant ($\dot v = R I$ in seconds):
    [`funcdyn.nir.from_nir`][] sets `tau` to one second in the model's unit.

    **Arguments:**

    - `R`: the per-element gain, an array of the population's shape. An array leaf.
    - `tau`: the time scale (model units, > 0), a float or an array; default `1000.0`
      (one second in ms). An array leaf.
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][].

    ```python
    integ = funcdyn.nir.Integrator(jnp.ones(3), tau=1.0)
    state, V = integ(integ.init_state(), jnp.ones(3), funcdyn.Context(dt=0.5))   # 0.5
    ```
    """

    R: Array
    tau: Array
    shape: tuple[int, ...] = eqx.field(static=True)

    def __init__(self, R, tau=1000.0, *, mode=None, name=None):
        self.R = float_array(R, "R", "Integrator")
        self.shape = tuple(self.R.shape)
        self.tau = float_array(tau, "tau", "Integrator", positive=True)
        if self.tau.ndim and self.tau.shape != self.shape:
            raise ValueError(
                f"Integrator: `tau` must be a number or an array of shape {self.shape}, "
                f"got shape {self.tau.shape}."
            )
        self.mode = mode_or_default(mode)
        self.name = name

    def init_state(self, batch_size=None, *, key=None) -> IntegratorState:
        """`V = 0`."""
        return IntegratorState(V=jnp.zeros(bshape(self, batch_size, self.shape)))

    def __call__(self, state: IntegratorState, x, ctx: Context):
        x = check_example_shape(self, x, self.shape)
        V = state.V
        gain = jnp.broadcast_to(self.R / self.tau, V.shape).astype(V.dtype)
        V = V + ctx.dt * gain * x.astype(V.dtype)
        return IntegratorState(V=V), V
