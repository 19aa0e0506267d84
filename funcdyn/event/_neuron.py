"""From a funcdyn neuron to the event loop's dynamics: the closed form for the linear
neurons, diffrax for every other neuron with a vector field.

The hooks read from the neuron are its public definition: `vector_field(t, y, I)`,
`V_th` (or a `threshold(y)` method), `V_reset`, `reset` (`"zero"` / `"subtract"`),
`tau_ref`, `variables` (ODE neurons with several variables), `on_spike(y, s)` (jumps of
the other variables at a spike) and `init_state(None)`."""

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .. import neurons
from ._closed_form import ClosedForm, LinearDynamics
from ._method import AbstractEventDynamics, AbstractEventMethod
from ._ode import ODE, ODEDynamics


def _num(neuron, name: str) -> int:
    size = getattr(neuron, "size", None)
    if size is None:
        raise TypeError(
            f"{name}: the neuron {type(neuron).__name__} has no `size`; pass a funcdyn "
            "neuron such as funcdyn.neurons.LIF(n, ...)."
        )
    size = tuple(size) if not isinstance(size, int) else (size,)
    if len(size) != 1:
        raise ValueError(
            f"{name}: event-driven populations are one-dimensional; got a neuron of size "
            f"{size}. Build it with an int size, e.g. LIF({int(np.prod(size))}, ...)."
        )
    return size[0]


def _vec(value, n: int, dtype) -> Array:
    return jnp.broadcast_to(jnp.asarray(value, dtype), (n,))


def _is_linear(neuron) -> bool:
    return isinstance(neuron, (neurons.LIF, neurons.IF, neurons.LeakyIntegrator))


def event_dynamics(
    neuron, tau_syn: Array, method: AbstractEventMethod | None, dtype, name: str = "Layer"
) -> tuple[AbstractEventDynamics, tuple[Array, ...], Array | None]:
    """`(dynamics, y0, tau_ref)`: the event dynamics of `neuron` with synaptic time
    constants `tau_syn` `(N,)`, its initial variables `y0` (each `(N,)`) and its
    refractory period (`None` or `(N,)`)."""
    n = _num(neuron, name)
    if isinstance(neuron, neurons.HH):
        raise TypeError(
            f"{name}: funcdyn.neurons.HH has no reset (its spike is an upward crossing of "
            "V_th that the dynamics undo themselves); the event-driven path needs a "
            "threshold-and-reset neuron such as LIF, QuaIF, ExpIF, AdExIF or Izhikevich."
        )
    if isinstance(neuron, neurons.ALIF):
        raise TypeError(
            f"{name}: funcdyn.neurons.ALIF adapts its threshold by a jump defined per time "
            "step (1 - exp(-dt/tau_a)), which has no event-driven meaning; use AdExIF (an "
            "adaptation current with a continuous-time jump) or the time-grid path."
        )
    if isinstance(neuron, neurons.Recurrent):
        raise TypeError(
            f"{name}: a funcdyn.neurons.Recurrent population (e.g. RecurrentLIF) carries its "
            "own recurrent weights, which the event path does not read; pass its `.neuron` "
            "and give the recurrent weights as the layer's `W_rec`."
        )
    if not callable(getattr(neuron, "vector_field", None)):
        raise TypeError(
            f"{name}: the neuron {type(neuron).__name__} has no `vector_field(t, y, I)`; "
            "the event-driven path integrates a neuron's own vector field."
        )
    linear = _is_linear(neuron)
    spiking = not isinstance(neuron, neurons.LeakyIntegrator)
    if spiking and getattr(neuron, "V_th", None) is None and not callable(
        getattr(neuron, "threshold", None)
    ):
        raise TypeError(
            f"{name}: the neuron {type(neuron).__name__} has no threshold: give it a "
            "`V_th` attribute (and a `V_reset`) so that spikes can be detected, or use "
            "funcdyn.neurons.LeakyIntegrator for a non-spiking readout."
        )
    if spiking and getattr(neuron, "V_reset", None) is None:
        raise TypeError(
            f"{name}: the neuron {type(neuron).__name__} has no `V_reset`; the "
            "event-driven path resets V at each spike."
        )
    reset_mode = getattr(neuron, "reset", "zero")
    if reset_mode not in ("zero", "subtract"):
        raise ValueError(
            f"{name}: the neuron's `reset` must be 'zero' or 'subtract', got {reset_mode!r}."
        )
    if method is None:
        method = ClosedForm() if linear else ODE()
    if not isinstance(method, AbstractEventMethod):
        raise TypeError(
            f"{name}: `method` must be None, funcdyn.event.ClosedForm() or "
            f"funcdyn.event.ODE(...), got {method!r}."
        )
    state = neuron.init_state(None)
    variables = tuple(getattr(neuron, "variables", ("V",)))
    y0 = tuple(_vec(getattr(state, v), n, dtype) for v in variables)
    tau_ref = getattr(neuron, "tau_ref", None)
    tau_ref = None if tau_ref is None else _vec(tau_ref, n, dtype)
    if isinstance(method, ClosedForm):
        if not linear:
            raise TypeError(
                f"{name}: ClosedForm() needs linear sub-threshold dynamics (LIF, IF, "
                f"LeakyIntegrator); {type(neuron).__name__} is nonlinear: use "
                "funcdyn.event.ODE()."
            )
        kind = "li" if not spiking else ("if" if isinstance(neuron, neurons.IF) else "lif")
        dyn = LinearDynamics(
            kind=kind,
            reset_mode=reset_mode,
            n_iter=method.iterations(dtype),
            tau=_vec(neuron.tau, n, dtype),
            V_rest=_vec(neuron.V_rest, n, dtype),
            R=_vec(neuron.R, n, dtype),
            V_th=_vec(neuron.V_th, n, dtype) if spiking else None,
            V_reset=_vec(neuron.V_reset, n, dtype) if spiking else None,
            tau_syn=tau_syn,
        )
        return dyn, y0, tau_ref
    if not spiking:
        raise TypeError(
            f"{name}: the non-spiking {type(neuron).__name__} is solved in closed form: "
            "use method=None or funcdyn.event.ClosedForm()."
        )
    # Per-neuron arrays are broadcast to (N,) so that the loop can be vmapped over the
    # neurons of a feed-forward layer; scalars stay scalars.
    def widen(a):
        if hasattr(a, "ndim") and hasattr(a, "shape") and a.ndim >= 1:
            try:
                return jnp.broadcast_to(a, (n,))
            except ValueError:
                return a
        return a

    sliced = jax.tree.map(widen, neuron)
    dyn = ODEDynamics(
        neuron=sliced,
        tau_syn=tau_syn,
        method=method,
        tuple_api=hasattr(neuron, "variables"),
        has_threshold_fn=callable(getattr(neuron, "threshold", None)),
        has_on_spike=callable(getattr(neuron, "on_spike", None)),
        reset_mode=reset_mode,
    )
    return dyn, y0, tau_ref
