"""Feed-forward populations whose neurons fire at most once, solved in parallel over
the intervals between input events instead of event by event."""

import jax
import jax.numpy as jnp
from jaxtyping import Array

from ._closed_form import LinearDynamics
from ._simulate import implicit_spike_time
from ._spikes import Spikes


def simulate_spike_once(
    dyn: LinearDynamics,
    W_in: Array,
    y0: tuple[Array],
    ev_t: Array,
    ev_src: Array,
    t0: Array,
    t1: Array,
    budget: int,
) -> Spikes:
    """Simulates `N` feed-forward neurons with linear dynamics that each fire at most
    once (an infinite refractory period; or no threshold at all) from `t0` to `t1`.

    Equal to [`simulate_population`][funcdyn.event._simulate.simulate_population] for
    such a population, but without its sequential event loop: the input currents make
    the membrane a known function on each interval between two input spikes, so

    1. the state `(V, I)` just after each input spike comes from one cheap scan of
       propagations (no root finding);
    2. the first threshold crossing inside *every* interval is found at once (the
       dynamics' bracketed Newton solver, vectorised over intervals x neurons);
    3. a neuron's spike is the crossing of its earliest interval that has one, written
       as one implicit-function step `t* - (V(t*) - theta) / V'(t*)` so that its
       gradient is the exact `-(dV/dtheta) / (dV/dt)`, as in the event loop.

    The cost is one pass over the input events plus a root search per interval, all
    vectorised; the event loop does a root search per event, one after the other.

    **Arguments:** the dynamics (parameters `(N,)`), the input weights `W_in`
    `(n_in, N)`, the initial variables `y0` (`((N,),)`), the input events sorted by time
    `ev_t` `(M,)` (`inf` = none) from the inputs `ev_src` `(M,)`, the interval, and the
    spike budget (only the first column of `times` can hold a spike).
    """
    sg = jax.lax.stop_gradient
    (V0,) = y0
    N = V0.shape[0]
    dtype = V0.dtype
    # Events at or after t1 still "happen" at t1: their intervals have length zero and
    # change nothing, which keeps every time below finite (and the gradients NaN-free).
    ev_c = jnp.minimum(ev_t, t1)
    zeros = jnp.zeros((N,), dtype)

    def advance(carry, event):
        V, I, t = carry
        t_k, src = event
        (V,), I = dyn.propagate(t, (V,), I, zeros, t_k - t, None)
        I = I + W_in[src]
        return (V, I, t_k), (V, I)

    (V_last, I_last, t_last), (V_ev, I_ev) = jax.lax.scan(
        advance, (V0, zeros, jnp.asarray(t0, dtype)), (ev_c, ev_src)
    )
    (V_end,), _ = dyn.propagate(t_last, (V_last,), I_last, zeros, t1 - t_last, None)
    # Interval k (k = 0 .. M) starts at `start[k]` (t0, then each event) with the state
    # just after that event, and ends at the next event (or t1).
    start = jnp.concatenate([jnp.asarray(t0, dtype)[None], ev_c])
    stop = jnp.concatenate([ev_c, jnp.asarray(t1, dtype)[None]])
    V_s = jnp.concatenate([V0[None], V_ev])  # (M + 1, N)
    I_s = jnp.concatenate([zeros[None], I_ev])
    V_e = jnp.concatenate([V_ev, V_end[None]])  # V is continuous across current jumps
    S = jnp.broadcast_to((stop - start)[:, None], V_s.shape)
    Iext = jnp.zeros_like(V_s)
    # The same dynamics with `(1, N)` parameters, for `(intervals, N)` states.
    dyn_k = jax.tree.map(lambda a: a[None], dyn)

    if not dyn.spiking:
        vmax = dyn_k.interval_max(start[:, None], (V_s,), I_s, Iext, S, None, V_e).max(0)
        return Spikes(
            times=jnp.full((N, budget), jnp.inf, dtype),
            count=jnp.zeros((N,), jnp.int32),
            complete=jnp.asarray(True),
            V=jnp.zeros((0, N), dtype),
            V_max=jnp.maximum(vmax, V0),
        )

    s_cross = sg(
        dyn_k.crossing(sg(start)[:, None], sg((V_s,)), sg(I_s), Iext, sg(S), S > 0, None)
    )
    found = jnp.isfinite(s_cross)
    fired = found.any(0)
    k = jnp.argmax(found, axis=0)  # the first interval with a crossing (0 if none)
    cols = jnp.arange(N)
    V_k, I_k, start_k = V_s[k, cols], I_s[k, cols], start[k]
    s_k = jnp.where(fired, s_cross[k, cols], jnp.zeros((N,), dtype))
    # The implicit-function step at the located root (with the stopped time).
    t_root = sg(start_k + s_k)
    (V_root,), I_root = dyn.propagate(start_k, (V_k,), I_k, zeros, t_root - start_k, None)
    (dV,), _ = dyn.field(t_root, (V_root,), I_root, zeros, None)
    residual = V_root - dyn.threshold((V_root,))
    t_spike = implicit_spike_time(t_root, residual, dV, fired, start_k, stop[k])
    # V at the spike, to first order around the root (equal to the threshold there).
    V_spike = V_root + dV * (t_spike - t_root)

    # The largest V: the intervals before the spike in full, the spike's interval up to
    # the spike, and the reset value the neuron is then held at.
    before = jnp.arange(V_s.shape[0])[:, None] < jnp.where(fired, k, V_s.shape[0])[None]
    vmax_full = dyn_k.interval_max(start[:, None], (V_s,), I_s, Iext, S, None, V_e)
    vmax = jnp.max(jnp.where(before, vmax_full, jnp.full_like(vmax_full, -jnp.inf)), axis=0)
    vmax_spike = dyn.interval_max(
        start_k, (V_k,), I_k, zeros, jnp.where(fired, t_spike - start_k, 0.0), None, V_spike
    )
    (V_after,) = dyn.reset((V_spike,), fired)
    vmax = jnp.where(fired, jnp.maximum(vmax, jnp.maximum(vmax_spike, V_after)), vmax)
    vmax = jnp.maximum(vmax, V0)

    first = jnp.where(fired, t_spike, jnp.full_like(t_spike, jnp.inf))
    times = jnp.concatenate([first[:, None], jnp.full((N, budget - 1), jnp.inf, dtype)], 1)
    return Spikes(
        times=times,
        count=fired.astype(jnp.int32),
        complete=jnp.asarray(True),
        V=jnp.zeros((0, N), dtype),
        V_max=vmax,
    )
