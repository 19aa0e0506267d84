"""What every synapse shares: sizes, connectivity, weights, output model, delay, inputs."""

import numbers

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array

from .._core._system import DynamicalSystem
from ..conn import All2All, Connector, Projection
from ..init import parameter
from ..init._base import default_float_dtype
from ..init._parameter import ParamSpec
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


def check_positive_int(value, arg: str, who: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{who}: `{arg}` must be a positive int, got {value!r}.")
    return int(value)


def positive_parameter(value: ParamSpec, shape, name: str, who: str, key=None) -> Array:
    """A parameter broadcastable to `shape` (e.g. a time constant per neuron), checked
    to be > 0 when its value is known."""
    if isinstance(value, bool):
        raise TypeError(f"{who}: `{name}` must be a float or an array, got {value!r}.")
    array = parameter(value, shape, name=name, key=key, broadcast=True)
    try:
        values = np.asarray(array)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        values = None
    if values is not None and not np.all(values > 0):
        raise ValueError(f"{who}: `{name}` must be > 0, got {value!r}.")
    return array


def bcast(p: Array, shape) -> Array:
    """`p` broadcast explicitly to `shape` (scalars stay scalars)."""
    if p.ndim == 0 or p.shape == tuple(shape):
        return p
    return jnp.broadcast_to(p, shape)


def decay_factor(tau: Array, dt: float, shape) -> Array:
    """`exp(-dt / tau)`: the exact decay of `dg/dt = -g/tau` over one step."""
    return bcast(jnp.exp(-dt / tau), shape)


class Synapse(DynamicalSystem):
    """Base class of the synapses: presynaptic spikes in, postsynaptic current out.

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

    **Arguments shared by every synapse:**

    - `num_pre`, `num_post`: the population sizes.
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

    def _setup(self, num_pre, num_post, conn, g_max, output, delay_steps, key) -> None:
        who = type(self).__name__
        self.num_pre = check_positive_int(num_pre, "num_pre", who)
        self.num_post = check_positive_int(num_post, "num_post", who)
        conn_key, weight_key = (None, None) if key is None else jax.random.split(key)
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
        try:
            self.g_max = parameter(
                g_max, conn.weight_shape, name="g_max", key=weight_key, broadcast=True
            )
        except ValueError as err:
            raise ValueError(
                f"{who}: {err} The connectivity ({type(conn).__name__}) takes a scalar or "
                f"weights of shape {conn.weight_shape}."
            ) from err
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

    # -- pieces for the subclasses -----------------------------------------------------

    def _shape(self, batch_size: int | None, num: int) -> tuple[int, ...]:
        return (num,) if batch_size is None else (batch_size, num)

    def _zeros(self, batch_size: int | None, num: int) -> Array:
        return jnp.zeros(self._shape(batch_size, num), default_float_dtype())

    def _init_delay(self, batch_size: int | None) -> DelayState | None:
        if self.delay_steps == 0:
            return None
        lead = () if batch_size is None else (batch_size,)
        buffer = jnp.zeros(lead + (self.delay_steps, self.num_pre), default_float_dtype())
        return DelayState(buffer=buffer, cursor=jnp.zeros((), jnp.int32))

    def _delay(self, delay: DelayState | None, spikes: Array) -> tuple[DelayState | None, Array]:
        """Pushes `spikes` into the ring buffer; returns the ones `delay_steps` old."""
        if delay is None:
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

    def _output(self, g: Array, V: Array | None) -> Array:
        return self.output(g, V)

    def weights(self) -> Array:
        """The `(num_pre, num_post)` weight matrix, zero where not connected (for
        inspection; the step never forms it for sparse connectivities)."""
        return self.conn.to_dense(self.g_max)
