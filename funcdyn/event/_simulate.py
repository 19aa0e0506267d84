"""The event loop: from one event to the next, exactly, with the spike times'
gradients given by the implicit function theorem."""

import jax
import jax.numpy as jnp
from jaxtyping import Array

from ._method import AbstractEventDynamics
from ._spikes import Spikes


def _at(x: Array, k: Array, fill) -> Array:
    """`x[k]` where `k < len(x)`, else `fill` (a static-shape lookup of a queue)."""
    n = x.shape[0]
    return jnp.where(k < n, x[jnp.minimum(k, n - 1)], fill)


def implicit_spike_time(t_root, residual, slope, fired, lo, hi):
    """The spike time `t_root - residual / slope`, kept in `[lo, hi]`, where `fired`
    (else `t_root`): `t_root` is the located root (without gradient), `residual` the
    differentiable `V - theta` there and `slope` `dV/dt`. Its value is `t_root` up to
    round-off and its derivative the exact `-(dV/dtheta) / (dV/dt)`; keeping it in the
    interval keeps the event order (it changes nothing else)."""
    slope = jnp.where(fired, jax.lax.stop_gradient(slope), jnp.ones_like(slope))
    residual = jnp.where(fired, residual, jnp.zeros_like(residual))
    return jnp.clip(t_root - residual / slope, lo, hi)


def simulate_population(
    dyn: AbstractEventDynamics,
    W_in: Array,
    W_rec: Array | None,
    tau_ref: Array | None,
    y0: tuple[Array, ...],
    ev_t: Array,
    ev_src: Array,
    cur_t: Array,
    cur_v: Array,
    t0: Array,
    t1: Array,
    rec_t: Array,
    budget: int,
    n_steps: int,
) -> Spikes:
    """Simulates `N` neurons (`y0[k]` is `(N,)`) from `t0` to `t1`.

    **Arguments:** the dynamics; the input weights `W_in` `(n_in, N)`; the recurrent
    weights `W_rec` `(N, N)` (row = presynaptic) or None; the refractory periods
    `tau_ref` `(N,)` or None; the initial variables; the input events sorted by time,
    `ev_t` `(M,)` (`inf` = none) from the inputs `ev_src` `(M,)`; the external current's
    change times `cur_t` `(K,)` and values `cur_v` `(K, N)`; the interval; the record
    times `rec_t` `(T,)`; the spike budget; the number of loop iterations (one event
    each).

    Each iteration advances every neuron to the next event: the earliest of the next
    input spike, current change, refractory end, `t1`, and the first threshold crossing
    of a neuron before those. A crossing's time `t*` is located without gradients (by
    the dynamics' root finder) and then written as one implicit-function (Newton) step,
    `t* - (V_j(t*) - theta_j) / dV_j/dt`, which is equal to `t*` at the root and has the
    exact derivative `-(dV_j/dtheta) / (dV_j/dt)`. The other neurons are advanced to
    `t*` to first order around it, which again has the exact value and derivative.
    """
    sg = jax.lax.stop_gradient
    N = y0[0].shape[0]
    dtype = y0[0].dtype
    inf = jnp.asarray(jnp.inf, dtype)
    idx = jnp.arange(N)
    T = rec_t.shape[0]
    B = budget
    zeros = jnp.zeros((N,), dtype)

    carry0 = dict(
        t=jnp.asarray(t0, dtype),
        y=tuple(y0),
        I=zeros,
        Iext=zeros,
        k_in=jnp.asarray(0, jnp.int32),
        k_cur=jnp.asarray(0, jnp.int32),
        ref=None if tau_ref is None else jnp.full((N,), -jnp.inf, dtype),
        times=jnp.full((N, B), jnp.inf, dtype),
        count=jnp.zeros((N,), jnp.int32),
        done=jnp.asarray(False),
        vmax=y0[0],
        rec=jnp.broadcast_to(y0[0][None], (T, N)),
    )

    def body(c, _):
        t, y, I, Iext = c["t"], c["y"], c["I"], c["Iext"]
        done = c["done"]
        t_in = _at(ev_t, c["k_in"], inf)
        t_cu = _at(cur_t, c["k_cur"], inf)
        if tau_ref is None:
            hold = None
            eligible = jnp.ones((N,), bool)
            t_rf = inf
        else:
            hold = c["ref"] > t
            eligible = ~hold
            t_rf = jnp.min(jnp.where(hold, c["ref"], inf))
        bounds = jnp.stack([t_in, t_cu, t_rf, jnp.asarray(t1, dtype)])
        kind = jnp.argmin(bounds)  # ties: input, current, refractory end, t1
        t_bound = bounds[kind]
        S = t_bound - t

        if dyn.spiking:
            s_cross = sg(dyn.crossing(sg(t), sg(y), sg(I), sg(Iext), sg(S), eligible, hold))
            j = jnp.argmin(s_cross)
            s_j = s_cross[j]
            is_spike = ~done & (s_j <= sg(S))
        else:
            j = jnp.asarray(0, jnp.int32)
            s_j = inf
            is_spike = jnp.asarray(False)

        t_sg = sg(jnp.where(is_spike, t + s_j, t_bound))
        y_a, I_a = dyn.propagate(t, y, I, Iext, t_sg - t, hold)
        dy, dI = dyn.field(t_sg, y_a, I_a, Iext, hold)
        if dyn.spiking:
            residual = y_a[0][j] - dyn.threshold(y_a)[j]
            t_spk = implicit_spike_time(t_sg, residual, dy[0][j], is_spike, t, t_bound)
            t_new = jnp.where(is_spike, t_spk, t_bound)
        else:
            t_new = t_bound
        delta = t_new - t_sg
        y_new = tuple(a + da * delta for a, da in zip(y_a, dy))
        I_new = I_a + dI * delta

        vmax = jnp.maximum(
            c["vmax"], dyn.interval_max(t, y, I, Iext, t_new - t, hold, y_new[0])
        )
        rec = c["rec"]
        if T:
            span = t_new - t
            Vr = dyn.propagate_V_many(t, y, I, Iext, jnp.clip(rec_t - t, 0.0, span), span, hold)
            inside = (rec_t > t) & (rec_t <= t_new)
            rec = jnp.where(inside[:, None], Vr, rec)

        times, count, ref = c["times"], c["count"], c["ref"]
        if dyn.spiking:
            fire = (idx == j) & is_spike
            y_new = dyn.reset(y_new, fire)
            slot = jnp.minimum(count[j], B - 1)
            store = is_spike & (count[j] < B)
            times = times.at[j, slot].set(jnp.where(store, t_new, times[j, slot]))
            count = count + fire.astype(jnp.int32)
            if ref is not None:
                ref = jnp.where(fire, t_new + tau_ref, ref)
            if W_rec is not None:
                I_new = I_new + jnp.where(is_spike, W_rec[j], jnp.zeros_like(I_new))

        boundary = ~is_spike & ~done
        is_in = boundary & (kind == 0)
        src = ev_src[jnp.minimum(c["k_in"], ev_src.shape[0] - 1)]
        I_new = I_new + jnp.where(is_in, W_in[src], jnp.zeros_like(I_new))
        is_cu = boundary & (kind == 1)
        Iext_new = jnp.where(is_cu, cur_v[jnp.minimum(c["k_cur"], cur_v.shape[0] - 1)], Iext)
        is_end = boundary & (kind == 3)

        new = dict(
            t=t_new,
            y=y_new,
            I=I_new,
            Iext=Iext_new,
            k_in=c["k_in"] + is_in.astype(jnp.int32),
            k_cur=c["k_cur"] + is_cu.astype(jnp.int32),
            ref=ref,
            times=times,
            count=count,
            done=done | is_end,
            vmax=vmax,
            rec=rec,
        )
        # Once t1 is reached the remaining iterations change nothing.
        out = jax.tree.map(lambda a, b: jnp.where(done, a, b), c, new)
        out["done"] = done | is_end
        return out, None

    final, _ = jax.lax.scan(body, carry0, None, length=n_steps)
    return Spikes(
        times=final["times"],
        count=final["count"],
        complete=final["done"],
        V=final["rec"],
        V_max=final["vmax"],
    )
