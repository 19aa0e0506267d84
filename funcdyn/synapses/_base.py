"""What every synapse shares: sizes, connectivity, weights, output model, delay, inputs."""

import abc
import numbers

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from equinox import AbstractClassVar
from jaxtyping import Array, PRNGKeyArray

from .._checks import bcast, check_finite_values, check_positive_int, concrete, split_key
from .._core._context import Context
from .._core._modes import Mode, resolve_mode
from .._core._system import DynamicalSystem
from ..conn import All2All, Connector, Projection
from ..init import parameter
from ..init._base import default_float_dtype
from ..typing import ParamSpec
from ..synouts import CUBA, SynOut


class DelayState(eqx.Module):
    """The ring buffer of a synaptic transmission delay.

    - `buffer`: the last `delay_steps` presynaptic inputs, `(delay_steps, num_pre)`, or
      `(batch, delay_steps, num_pre)` in a batching mode.
    - `cursor`: the slot holding the oldest input (an `int32` scalar shared by the
      batch), the next one to be read and overwritten.
    """

    buffer: Array
    cursor: Array


def _population_size(value, name: str, who: str) -> int:
    """A population size: a positive int, or a population (a neuron group, an
    `InputGroup`) whose `num` is used, as BrainPy's `Exponential(pre, post, conn)`."""
    if isinstance(value, DynamicalSystem) and isinstance(getattr(value, "num", None), int):
        return value.num
    if isinstance(value, DynamicalSystem):
        raise ValueError(
            f"{who}: `{name}` is a {type(value).__name__}, which has no population size; "
            f"pass an int or a neuron group."
        )
    return check_positive_int(value, name, who)


def positive_parameter(value: ParamSpec, shape, name: str, who: str, key=None) -> Array:
    """A parameter broadcastable to `shape` (e.g. a time constant per neuron), checked
    to be finite and > 0 when its value is known."""
    if isinstance(value, (bool, str)):
        raise TypeError(f"{who}: `{name}` must be a float or an array, got {value!r}.")
    array = parameter(value, shape, name=name, key=key, broadcast=True)
    values = concrete(array)
    if values is not None and not np.all(values > 0):
        raise ValueError(f"{who}: `{name}` must be > 0, got {value!r}.")
    check_finite_values(array, name, who)
    return array


def decay_factor(tau: Array, dt: float, shape) -> Array:
    """`exp(-dt / tau)`: the exact decay of `dg/dt = -g/tau` over one step."""
    return bcast(jnp.exp(-dt / tau), shape)


class AbstractSynapse(DynamicalSystem):
    """The base of the synapses: presynaptic spikes in, postsynaptic current out.

    A subclass declares its state class `state_cls` (its variables, then `delay`), the
    side and initial value of each variable in `state_variables` (e.g. `{"g": ("post",
    0.0)}`), sets its own parameters after calling this `__init__`, and implements
    `update`; the base owns the sizes, the connectivity, the weights, the output model,
    the delay, the input and state checks, `init_state` and `__call__`.

    **The step** `new_state, I = synapse(state, x, ctx)`:

    - `x` is the presynaptic spikes, `(num_pre,)` (or `(batch, num_pre)` in a batching
      mode; 0/1 floats or booleans), or the pair `(spikes, V_post)` with the
      postsynaptic potential `(num_post,)` / `(batch, num_post)`. Outputs that depend on
      the potential ([`funcdyn.synouts.COBA`][], [`funcdyn.synouts.MgBlock`][]) need the
      pair; [`funcdyn.synouts.CUBA`][] accepts either, so a CUBA synapse can sit in a
      `Sequential` chain between two neuron groups.
    - With `delay_steps = D > 0` the spikes are first pushed into a ring buffer and the
      ones given `D` steps earlier come out: the response is shifted by exactly `D`
      steps (a delay of `D * dt`). Gradients flow through the buffer.
    - The synaptic variables are updated (their decay integrated exactly over `dt`);
      spikes arriving in a step are added at its end, and the weighted sum over the
      connectivity gives the conductance `g` of each postsynaptic neuron.
    - The output is `I = output(g, V_post)`, shaped `(num_post,)` or
      `(batch, num_post)`. The conductance itself is in the returned state.

    **Arguments shared by every synapse** (`conn` positional or keyword, the rest
    keyword-only):

    - `num_pre`, `num_post`: the population sizes: ints, or the neuron groups themselves
      (their `num` is used).
    - `conn`: a [`funcdyn.conn.Connector`][] (default [`funcdyn.conn.All2All`][]),
      built here for the sizes, or an already built [`funcdyn.conn.Projection`][].
    - `g_max`: the weights: a float shared by every connection, an array broadcastable
      to the connectivity's `weight_shape` (`(num_pre, num_post)` for dense
      connectivities, `(num_connections,)` for sparse ones, `(num,)` for one-to-one), or
      an initialiser (called with that shape). An array leaf: trainable in
      [`funcdyn.training_mode`][].
    - `output`: a [`funcdyn.synouts.SynOut`][].
    - `delay_steps`: the transmission delay in steps (an int >= 0).
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][].
    - `key`: draws the random connectivity (unless the connector has a `seed`) and the
      initial weights.
    """

    num_pre: int = eqx.field(static=True)
    num_post: int = eqx.field(static=True)
    conn: Projection
    g_max: Array
    output: SynOut
    delay_steps: int = eqx.field(static=True)

    state_cls: AbstractClassVar[type]
    state_variables: AbstractClassVar[dict[str, tuple[str, float]]]

    def __init__(
        self,
        num_pre,
        num_post,
        conn: Connector | Projection | None = None,
        *,
        g_max: ParamSpec = 1.0,
        output: SynOut | None = None,
        delay_steps: int = 0,
        mode: Mode | None = None,
        name: str | None = None,
        key: PRNGKeyArray | None = None,
    ):
        who = type(self).__name__
        self.num_pre = _population_size(num_pre, "num_pre", who)
        self.num_post = _population_size(num_post, "num_post", who)
        conn_key, weight_key = split_key(key, 2)
        if conn is None:
            conn = All2All()
        if isinstance(conn, Connector):
            try:
                conn = conn.build(self.num_pre, self.num_post, key=conn_key)
            except ValueError as err:
                raise ValueError(f"{who}: {err}") from err
        elif isinstance(conn, Projection):
            if (conn.num_pre, conn.num_post) != (self.num_pre, self.num_post):
                raise ValueError(
                    f"{who}: the connectivity is built for ({conn.num_pre}, {conn.num_post}) "
                    f"neurons but the synapse has num_pre={self.num_pre}, "
                    f"num_post={self.num_post}."
                )
        else:
            raise TypeError(
                f"{who}: `conn` must be a funcdyn.conn connector such as "
                f"funcdyn.conn.FixedProb(0.1), or a built Projection; got {conn!r}."
            )
        self.conn = conn
        if isinstance(g_max, (bool, str)):
            raise TypeError(f"{who}: `g_max` must be a float, an array or an initialiser, "
                            f"got {g_max!r}.")
        try:
            self.g_max = parameter(
                g_max, conn.weight_shape, name="g_max", key=weight_key, broadcast=True
            )
        except ValueError as err:
            raise ValueError(
                f"{who}: {err} The connectivity ({type(conn).__name__}) takes a scalar or "
                f"weights of shape {conn.weight_shape}."
            ) from err
        check_finite_values(self.g_max, "g_max", who)
        if output is None:
            output = CUBA()
        if not isinstance(output, SynOut):
            raise TypeError(
                f"{who}: `output` must be a funcdyn.synouts model such as "
                f"funcdyn.synouts.CUBA() or COBA(E=0.0), got {output!r}."
            )
        self.output = output
        if (
            isinstance(delay_steps, bool)
            or not isinstance(delay_steps, (numbers.Integral, np.integer))
            or delay_steps < 0
        ):
            raise ValueError(
                f"{who}: `delay_steps` must be an int >= 0 (the delay in steps of dt), "
                f"got {delay_steps!r}."
            )
        self.delay_steps = int(delay_steps)
        self.mode = resolve_mode(mode)
        self.name = name

    # -- what a synapse defines ----------------------------------------------------------

    @abc.abstractmethod
    def update(self, state, spikes: Array, ctx: Context) -> tuple[dict[str, Array], Array]:
        """One step of the synaptic variables given the (delayed) presynaptic `spikes`:
        returns the new variables (a dict keyed like `state_variables`) and the
        conductance of each postsynaptic neuron, `(..., num_post)`."""

    # -- the contract --------------------------------------------------------------------

    def init_state(self, batch_size: int | None = None, *, key=None):
        """Each variable at its initial value (`state_variables`) and an empty delay
        buffer (`None` without a delay)."""
        self.check_batch_size(batch_size)
        sides = {"pre": self.num_pre, "post": self.num_post}
        values = {
            name: jnp.full(self._shape(batch_size, sides[side]), value, default_float_dtype())
            for name, (side, value) in self.state_variables.items()
        }
        return self.state_cls(**values, delay=self._init_delay(batch_size))

    def __call__(self, state, x, ctx: Context):
        self.check_state(state)
        spikes, V = self._inputs(x)
        delay, spikes = self._delay(state.delay, spikes)
        values, g = self.update(state, spikes, ctx)
        return self.state_cls(**values, delay=delay), self.output(g, V)

    def check_state(self, state) -> None:
        """A clear error at trace time when `state` is not a state of this synapse (another
        class, other sizes, another delay): the synapse's behaviour comes from itself,
        never from the state it is given. Shapes are static: this costs nothing at run
        time."""
        ok = isinstance(state, self.state_cls)
        if ok:
            leaves = jax.tree_util.tree_leaves(state)
            lead = tuple(jnp.shape(leaves[0])[:1]) if self.mode.is_batching and leaves else ()
            sides = {"pre": self.num_pre, "post": self.num_post}
            for name, (side, _) in self.state_variables.items():
                ok = ok and tuple(jnp.shape(getattr(state, name))) == (*lead, sides[side])
            if self.delay_steps == 0:
                ok = ok and state.delay is None
            else:
                ok = ok and isinstance(state.delay, DelayState) and tuple(
                    jnp.shape(state.delay.buffer)) == (*lead, self.delay_steps, self.num_pre)
        if not ok:
            expected = jax.eval_shape(
                lambda: self.init_state(2 if self.mode.is_batching else None))
            raise ValueError(
                f"{type(self).__name__}: the state does not belong to this synapse "
                f"(num_pre={self.num_pre}, num_post={self.num_post}, "
                f"delay_steps={self.delay_steps}, {self.mode}): expected a state like "
                f"{expected}{' (for a batch of 2)' if self.mode.is_batching else ''}, got "
                f"{state!r}. Build it with this synapse's init_state(...)."
            )

    # -- pieces for the subclasses -----------------------------------------------------

    def _shape(self, batch_size: int | None, num: int) -> tuple[int, ...]:
        return (num,) if batch_size is None else (batch_size, num)

    def _init_delay(self, batch_size: int | None) -> DelayState | None:
        if self.delay_steps == 0:
            return None
        lead = () if batch_size is None else (batch_size,)
        buffer = jnp.zeros(lead + (self.delay_steps, self.num_pre), default_float_dtype())
        return DelayState(buffer=buffer, cursor=jnp.zeros((), jnp.int32))

    def _delay(self, delay: DelayState | None, spikes: Array) -> tuple[DelayState | None, Array]:
        """Pushes `spikes` into the ring buffer; returns the ones `delay_steps` old. Whether
        to delay is the synapse's own `delay_steps`, never the state's."""
        if self.delay_steps == 0:
            return None, spikes
        axis = delay.buffer.ndim - 2
        old = lax.dynamic_index_in_dim(delay.buffer, delay.cursor, axis, keepdims=False)
        buffer = lax.dynamic_update_index_in_dim(
            delay.buffer, spikes.astype(delay.buffer.dtype), delay.cursor, axis
        )
        cursor = (delay.cursor + 1) % self.delay_steps
        return DelayState(buffer=buffer, cursor=cursor), old.astype(spikes.dtype)

    def _inputs(self, x) -> tuple[Array, Array | None]:
        """Splits `x` into `(spikes, V_post)` and checks their shapes."""
        who = type(self).__name__
        if isinstance(x, tuple):
            if len(x) != 2:
                raise ValueError(
                    f"{who}: a tuple input must be (pre_spikes, V_post), got {len(x)} items."
                )
            spikes, V = x
        else:
            spikes, V = x, None
        batched = self.mode.is_batching
        spikes = jnp.asarray(spikes)
        expected_ndim = 2 if batched else 1
        if spikes.ndim != expected_ndim or spikes.shape[-1] != self.num_pre:
            expected = f"(batch, {self.num_pre})" if batched else f"({self.num_pre},)"
            raise ValueError(
                f"{who} in {self.mode} expects presynaptic spikes of shape {expected}, got "
                f"{spikes.shape}."
            )
        if not jnp.issubdtype(spikes.dtype, jnp.floating):
            spikes = spikes.astype(self.g_max.dtype)
        if V is None:
            if self.output.needs_V:
                raise ValueError(
                    f"{who}: the output {type(self.output).__name__} depends on the "
                    "postsynaptic potential: call the synapse with x = (pre_spikes, V_post)."
                )
            return spikes, None
        V = jnp.asarray(V)
        expected_shape = spikes.shape[:-1] + (self.num_post,)
        if V.shape != expected_shape:
            raise ValueError(
                f"{who}: V_post must have shape {expected_shape}, got {V.shape}."
            )
        return spikes, V

    def _project(self, values: Array, *, event: bool) -> Array:
        """`values @ W` over the connectivity, for `(num_pre,)` or `(batch, num_pre)`."""
        if values.ndim == 1:
            return self.conn.apply(values[None], self.g_max, event=event)[0]
        return self.conn.apply(values, self.g_max, event=event)

    def weights(self) -> Array:
        """The `(num_pre, num_post)` weight matrix, zero where not connected (for
        inspection; the step never forms it for sparse connectivities)."""
        return self.conn.to_dense(self.g_max)
