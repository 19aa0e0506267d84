"""A population of neurons driven by spikes through exponential synapses, simulated
event by event."""

import numbers
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from ..init import default_float_dtype, parameter
from ._closed_form import LinearDynamics
from ._current import PiecewiseConstant
from ._method import AbstractEventMethod
from ._neuron import event_dynamics
from ._simulate import simulate_population
from ._single_spike import simulate_spike_once
from ._spike_train import SpikeTrain
from ._spikes import Spikes


def _concrete(x):
    try:
        return np.asarray(x)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


def check_interval(t0, t1, name: str) -> tuple[Array, Array]:
    a, b = _concrete(t0), _concrete(t1)
    if a is not None and b is not None:
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            raise ValueError(f"{name}: `t0` and `t1` must be finite, got t0={a}, t1={b}.")
        if not np.all(b > a):
            raise ValueError(
                f"{name}: `t1` must be after `t0`, got t0={a}, t1={b}; the simulation runs "
                "forward in time."
            )
    return t0, t1


class Layer(eqx.Module):
    r"""`N` spiking (or non-spiking readout) neurons, each fed by an exponential
    synaptic current, simulated exactly from event to event.

    $$\tau_s \frac{dI_j}{dt} = -I_j + \tau_s \sum_{i,k} W^\mathrm{in}_{ij}
      \delta(t - t_i^k) + \tau_s \sum_{l,k} W^\mathrm{rec}_{lj} \delta(t - t_l^k)$$

    i.e. each input spike of input `i` makes `I_j` jump by `W_in[i, j]` (and each spike
    of neuron `l` of this layer by `W_rec[l, j]`), and the neuron's own dynamics are
    driven by `I_j` plus an optional piecewise-constant current: for an LIF,
    $\tau \dot V = -(V - V_\mathrm{rest}) + R (I + I_\mathrm{ext})$. At the neuron's
    threshold a spike is emitted and the neuron's own reset (`"zero"` or `"subtract"`,
    jumps such as AdEx's `w += b`, refractory period `tau_ref`) is applied at that
    exact time.

    The same neuron object runs on the time grid (`neuron(state, x, ctx)` with
    surrogate gradients) and here; surrogate functions and `detach_reset` play no role
    in the event path (its spikes and gradients are exact).

    **Arguments:**

    - `neuron`: a funcdyn neuron with a one-dimensional `size` `N`:
      [`funcdyn.neurons.LIF`][], [`funcdyn.neurons.IF`][] or (non-spiking)
      [`funcdyn.neurons.LeakyIntegrator`][] in closed form; any other neuron with a
      `vector_field`, `V_th` and `V_reset` (QuaIF, ExpIF, AdExIF, Izhikevich, GIF, your
      own) with [`funcdyn.event.ODE`][].
    - `n_in`: the number of inputs.
    - `W_in`: `(n_in, N)` input weights: an array or a funcdyn initialiser (with `key`).
    - `W_rec`: `None` (feed-forward) or `(N, N)` recurrent weights (row: presynaptic).
    - `tau_syn`: the synaptic time constant (> 0), a float or `(N,)` array (trainable).
    - `budget`: the static spike budget per neuron (>= 1): the size of the padded spike
      time arrays. More spikes are counted and reported (`Spikes.overflow`), and raise
      with `check=True`.
    - `method`: `None` (closed form where possible, else `ODE()`),
      [`funcdyn.event.ClosedForm`][] or [`funcdyn.event.ODE`][].
    - `max_events`: the number of event iterations (static); default: every input
      spike, current change, `budget` spikes (and refractory ends) per neuron, and `t1`.
    - `check`: raise (`eqx.error_if`) when the budget overflows or the run does not
      reach `t1`.
    - `key`: for random initialisers of the weights.

    **Returns** (of a call): a [`funcdyn.event.Spikes`][].

    The read-only `spike_once` is True when every neuron fires at most once
    (`tau_ref = inf`) or never (a `LeakyIntegrator`): a feed-forward call without a
    current or record times then takes the parallel solver of
    [`funcdyn.event.ClosedForm`][] (unless `parallel=False`).

    ```python
    lif = funcdyn.neurons.LIF(30, tau=10.0, V_rest=0.0, V_reset=0.0, V_th=1.0)
    layer = funcdyn.event.Layer(lif, 5, W_in=funcdyn.init.Normal(0.5), tau_syn=5.0,
                                key=jax.random.key(0))
    out = layer(funcdyn.event.SpikeTrain(times), t0=0.0, t1=30.0)
    ```
    """

    neuron: Any
    W_in: Array
    W_rec: Array | None
    tau_syn: Array
    method: AbstractEventMethod | None
    n_in: int = eqx.field(static=True)
    budget: int = eqx.field(static=True)
    max_events: int | None = eqx.field(static=True)
    check: bool = eqx.field(static=True)
    spike_once: bool = eqx.field(static=True)

    def __init__(
        self,
        neuron,
        n_in: int,
        *,
        W_in,
        W_rec=None,
        tau_syn: ArrayLike = 5.0,
        budget: int = 1,
        method: AbstractEventMethod | None = None,
        max_events: int | None = None,
        check: bool = False,
        key: PRNGKeyArray | None = None,
    ):
        if not isinstance(budget, numbers.Integral) or isinstance(budget, bool) or budget < 1:
            raise ValueError(
                f"Layer: the spike budget `budget` must be an int >= 1 (the most spikes "
                f"stored per neuron), got {budget!r}."
            )
        if not isinstance(n_in, numbers.Integral) or isinstance(n_in, bool) or n_in < 1:
            raise ValueError(f"Layer: `n_in` must be an int >= 1, got {n_in!r}.")
        if max_events is not None and (
            not isinstance(max_events, numbers.Integral) or max_events < 1
        ):
            raise ValueError(f"Layer: `max_events` must be None or an int >= 1, got {max_events!r}.")
        dtype = default_float_dtype()
        tau_syn = jnp.asarray(tau_syn, dtype)
        ts = _concrete(tau_syn)
        if ts is not None and not np.all(ts > 0):
            raise ValueError(f"Layer: `tau_syn` must be > 0, got {ts}.")
        # Validates the neuron and the method now, not at the first call.
        dyn, _, tau_ref = event_dynamics(neuron, tau_syn, method, dtype)
        N = neuron.size[0]
        if tau_syn.ndim not in (0, 1) or (tau_syn.ndim == 1 and tau_syn.shape[0] != N):
            raise ValueError(
                f"Layer: `tau_syn` must be a float or a ({N},) array, got shape {tau_syn.shape}."
            )
        keys = (None, None) if key is None else tuple(jax.random.split(key))
        self.W_in = parameter(W_in, (int(n_in), N), name="W_in", key=keys[0])
        self.W_rec = (
            None if W_rec is None else parameter(W_rec, (N, N), name="W_rec", key=keys[1])
        )
        self.neuron = neuron
        self.tau_syn = tau_syn
        self.method = method
        self.n_in = int(n_in)
        self.budget = int(budget)
        self.max_events = None if max_events is None else int(max_events)
        self.check = bool(check)
        # Whether each neuron fires at most once (read now, while the refractory period
        # is concrete; a traced check in the call keeps it true).
        ref = None if tau_ref is None else _concrete(tau_ref)
        self.spike_once = (not dyn.spiking) or (ref is not None and bool(np.isposinf(ref).all()))

    @property
    def size(self) -> int:
        return self.neuron.size[0]

    def __call__(
        self,
        inputs: SpikeTrain | Spikes,
        *,
        t0: float | Array = 0.0,
        t1: float | Array,
        current: PiecewiseConstant | None = None,
        record: ArrayLike | None = None,
    ) -> Spikes:
        """Simulates `[t0, t1]`.

        **Arguments:**

        - `inputs`: a [`funcdyn.event.SpikeTrain`][] with `n_in` rows, or the
          [`funcdyn.event.Spikes`][] of a previous layer.
        - `t0`, `t1`: the interval (`t1 > t0`). Input spikes must not be before `t0`;
          those after `t1` are ignored.
        - `current`: an optional [`funcdyn.event.PiecewiseConstant`][] current.
        - `record`: optional sorted times `(T,)` in `[t0, t1]` at which `V` is recorded.

        **Returns:** a [`funcdyn.event.Spikes`][] (for one sample; `jax.vmap` batches).
        """
        t0, t1 = check_interval(t0, t1, "Layer")
        if isinstance(inputs, Spikes):
            inputs = SpikeTrain(inputs.times)
        if not isinstance(inputs, SpikeTrain):
            raise TypeError(
                f"Layer: `inputs` must be a funcdyn.event.SpikeTrain or Spikes, got "
                f"{type(inputs).__name__}; wrap spike times as SpikeTrain(times)."
            )
        if inputs.times.ndim != 2 or inputs.n != self.n_in:
            raise ValueError(
                f"Layer: expected {self.n_in} input neurons, got spike times of shape "
                f"{inputs.times.shape}; vmap over a batch axis."
            )
        dtype = self.W_in.dtype
        N = self.size
        flat = inputs.times.astype(dtype).reshape(-1)
        src = jnp.repeat(jnp.arange(self.n_in), inputs.times.shape[1])
        order = jnp.argsort(flat)
        ev_t, ev_src = flat[order], src[order]
        t0 = jnp.asarray(t0, dtype)
        t1 = jnp.asarray(t1, dtype)
        ev_t = eqx.error_if(
            ev_t, (ev_t < t0).any(), "Layer: input spike times before `t0`."
        )
        ev_t = eqx.error_if(ev_t, ~(t1 > t0), "Layer: `t1` must be after `t0`.")
        if current is None:
            cur_t = jnp.full((1,), jnp.inf, dtype)
            cur_v = jnp.zeros((1, N), dtype)
            n_cur = 0
        else:
            if not isinstance(current, PiecewiseConstant):
                raise TypeError(
                    "Layer: `current` must be None or a funcdyn.event.PiecewiseConstant, "
                    f"got {type(current).__name__}."
                )
            cur_t, cur_v = current.for_size(N, dtype)
            n_cur = cur_t.shape[0]
        if record is None:
            rec_t = jnp.zeros((0,), dtype)
        else:
            rec_t = jnp.asarray(record, dtype)
            if rec_t.ndim != 1:
                raise ValueError(f"Layer: `record` must be a 1-D array of times, got {rec_t.shape}.")
            r = _concrete(rec_t)
            if r is not None and (np.isnan(r).any() or (np.diff(r) < 0).any()):
                raise ValueError("Layer: `record` times must be sorted and not NaN.")
            if r is not None and r.size and (r[0] < _concrete(t0) or r[-1] > _concrete(t1)):
                raise ValueError(
                    f"Layer: `record` times must lie in [t0, t1] = [{t0}, {t1}], got "
                    f"[{r[0]}, {r[-1]}]."
                )

        dyn, y0, tau_ref = event_dynamics(self.neuron, jnp.broadcast_to(self.tau_syn, (N,)), self.method, dtype)
        refr = 0 if tau_ref is None else 1
        M = flat.shape[0]

        parallel = (
            self.spike_once
            and isinstance(dyn, LinearDynamics)  # built by ClosedForm (given or default)
            and (self.method is None or self.method.parallel)
            and self.W_rec is None
            and current is None
            and rec_t.shape[0] == 0
            and self.max_events is None
        )
        if parallel:
            W_in = self.W_in
            if tau_ref is not None:
                W_in = eqx.error_if(
                    W_in,
                    ~jnp.isposinf(tau_ref).all(),
                    "funcdyn.event.Layer: the neuron's `tau_ref` was infinite when the layer "
                    "was built (fire at most once) and is finite now; build a new Layer.",
                )
            spikes = simulate_spike_once(dyn, W_in, y0, ev_t, ev_src, t0, t1, self.budget)
        elif self.W_rec is None:
            n_steps = self.max_events or (M + n_cur + self.budget * (1 + refr) + 1)

            def one(dyn_i, w, y0_i, ref_i, cv):
                return simulate_population(
                    dyn_i, w[:, None], None, None if ref_i is None else ref_i[None],
                    tuple(a[None] for a in y0_i), ev_t, ev_src, cur_t, cv[:, None],
                    t0, t1, rec_t, self.budget, n_steps,
                )

            dyn_axes = jax.tree.map(
                lambda a: 0 if eqx.is_array(a) and a.ndim >= 1 and a.shape[0] == N else None,
                dyn,
            )
            out = eqx.filter_vmap(one, in_axes=(dyn_axes, 1, 0, 0, 1))(
                dyn, self.W_in, y0, tau_ref, cur_v
            )
            spikes = Spikes(
                times=out.times[:, 0, :],
                count=out.count[:, 0],
                complete=out.complete.all(),
                V=out.V[:, :, 0].T,
                V_max=out.V_max[:, 0],
            )
        else:
            n_steps = self.max_events or (M + n_cur + N * self.budget * (1 + refr) + 1)
            spikes = simulate_population(
                dyn, self.W_in, self.W_rec, tau_ref, y0, ev_t, ev_src, cur_t, cur_v,
                t0, t1, rec_t, self.budget, n_steps,
            )
        if self.check:
            times = eqx.error_if(
                spikes.times,
                spikes.overflow,
                "funcdyn.event.Layer: a neuron fired more spikes than its `budget`, or the "
                "run did not reach t1 within `max_events`; raise `budget`/`max_events`.",
            )
            spikes = eqx.tree_at(lambda s: s.times, spikes, times)
        return spikes
