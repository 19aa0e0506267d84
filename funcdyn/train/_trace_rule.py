"""The presynaptic-trace rule for feed-forward spiking networks (OTTT-style): one
trace per presynaptic neuron, combined with the gradient of the current step's loss."""

import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np

from .._core._sequential import Sequential
from .._core._system import DynamicalSystem
from ..layers import Dense


def _dense_positions(model: Any) -> tuple[int, ...]:
    return tuple(i for i, layer in enumerate(model.layers) if isinstance(layer, Dense))


def trace_decays(model: Any, dt: float, trace_decay: Any, who: str) -> tuple[float, ...]:
    """The decay of the presynaptic trace of each `Dense` layer: given, or
    $e^{-\\Delta t/\\tau}$ of the first stateful layer after it (0 when none follows
    before the next `Dense`: an instantaneous target)."""
    positions = _dense_positions(model)
    if trace_decay is not None:
        values = (trace_decay,) * len(positions) if np.ndim(trace_decay) == 0 else tuple(
            trace_decay
        )
        if len(values) != len(positions):
            raise ValueError(
                f"{who}: `trace_decay` has {len(values)} values but the model has "
                f"{len(positions)} Dense layers."
            )
        for v in values:
            if not (isinstance(v, (int, float)) and 0.0 <= v < 1.0):
                raise ValueError(f"{who}: each `trace_decay` must be in [0, 1), got {v!r}.")
        return tuple(float(v) for v in values)
    decays = []
    for n, pos in enumerate(positions):
        end = positions[n + 1] if n + 1 < len(positions) else len(model.layers)
        decay = 0.0
        for layer in model.layers[pos + 1 : end]:
            if not isinstance(layer, DynamicalSystem):
                continue
            state = jax.eval_shape(lambda l=layer: l.init_state(1))
            if not jtu.tree_leaves(state):
                continue
            tau = getattr(layer, "tau", None)
            if tau is None or np.ndim(tau) > 1 or np.ptp(np.asarray(tau)) > 0:
                raise ValueError(
                    f"{who}: the trace of Dense layer {pos} decays with the time constant "
                    f"of the layer after it, but {type(layer).__name__} has no single `tau`; "
                    "pass `trace_decay`."
                )
            decay = math.exp(-dt / float(np.asarray(tau).reshape(-1)[0]))
            break
        decays.append(decay)
    return tuple(decays)


def check_trace_model(model: Any, params: Any, who: str) -> None:
    if not isinstance(model, Sequential):
        raise TypeError(
            f"{who}: method='trace' learns a feed-forward funcdyn.Sequential of Dense "
            f"layers and neuron layers; got {type(model).__name__}."
        )
    if not model.mode.is_batching:
        raise ValueError(f"{who}: method='trace' needs a Sequential in a batching mode.")
    if not _dense_positions(model):
        raise ValueError(f"{who}: method='trace' needs at least one Dense layer to train.")
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Dense):
            continue
        if jtu.tree_leaves(params.layers[i]):
            raise ValueError(
                f"{who}: method='trace' trains the Dense layers only, but layer {i} "
                f"({type(layer).__name__}) has trainable arrays; freeze them (`filter_spec`, "
                "or build that layer in funcdyn.batching_mode)."
            )
        if hasattr(layer, "W_rec"):
            raise ValueError(
                f"{who}: method='trace' is for feed-forward networks; layer {i} "
                f"({type(layer).__name__}) is recurrent. Use method='eprop' or 'rtrl'."
            )


class TraceRule(eqx.Module):
    r"""The presynaptic-trace rule (online training through time, Xiao et al. 2022) for a
    feed-forward [`funcdyn.Sequential`][].

    Each `Dense` layer $l$ keeps one trace per presynaptic neuron,
    $\hat a^l_t = \lambda_l \hat a^l_{t-1} + a^l_t$, of its input $a^l_t$, with
    $\lambda_l = e^{-\Delta t/\tau}$ of the neuron layer it drives. Its gradient estimate
    is $\sum_t (\hat a^l_t)^\top \delta^l_t$, where
    $\delta^l_t = \partial\ell_t/\partial(a^l_t W_l + b_l)$ is back-propagated through
    the layers within step $t$ only (the state held fixed): no temporal backward pass.
    Memory `O(neurons)`; exact for one LIF hidden layer with a detached reset and an
    instantaneous readout.
    """

    decays: tuple[float, ...] = eqx.field(static=True)

    def init(self, params, rest, state):
        model = eqx.combine(params, rest)
        B = jtu.tree_leaves(state)[0].shape[0] if jtu.tree_leaves(state) else None
        traces = []
        for pos in _dense_positions(model):
            layer = model.layers[pos]
            traces.append((jnp.zeros((B, layer.num_in), layer.W.dtype),
                           jnp.zeros((), layer.W.dtype)))
        return tuple(traces)

    def step(self, params, rest, state, traces, x, target, ctx, loss_fn, fixed):
        model = eqx.combine(params, rest)
        positions = _dense_positions(model)

        def forward(eps):
            h, inputs, new_state = x, [], []
            n = 0
            for k, (layer, s) in enumerate(zip(model.layers, state)):
                if isinstance(layer, Dense):
                    inputs.append(h)
                    s, h = layer(s, h, ctx.child(k))
                    h = h + eps[n]
                    n += 1
                elif isinstance(layer, DynamicalSystem):
                    s, h = layer(s, h, ctx.child(k))
                elif isinstance(layer, eqx.Module):
                    h = jax.vmap(layer)(h)
                else:
                    h = layer(h)
                new_state.append(s)
            return h, (tuple(new_state), tuple(inputs))

        eps0 = _zeros_like_outputs(model, x)
        y, vjp, (new_state, inputs) = jax.vjp(forward, eps0, has_aux=True)
        loss, dl_dy = jax.value_and_grad(lambda y_: loss_fn(y_, target))(y)
        (deltas,) = vjp(dl_dy)
        new_traces, dense_grads = [], []
        for (a_hat, b_hat), a, delta, decay in zip(traces, inputs, deltas, self.decays):
            a = jnp.asarray(a).astype(a_hat.dtype)
            a_hat = decay * a_hat + a
            b_hat = decay * b_hat + 1.0
            new_traces.append((a_hat, b_hat))
            dense_grads.append((a_hat.T @ delta, b_hat * jnp.sum(delta, axis=0)))
        grads = params
        for pos, (gW, gb) in zip(positions, dense_grads):
            if params.layers[pos].W is not None:
                grads = eqx.tree_at(lambda g, p=pos: g.layers[p].W, grads, gW)
            if params.layers[pos].b is not None:
                grads = eqx.tree_at(lambda g, p=pos: g.layers[p].b, grads, gb)
        return new_state, tuple(new_traces), y, loss, grads


def _zeros_like_outputs(model, x):
    B = jnp.shape(x)[0]
    return tuple(
        jnp.zeros((B, model.layers[p].num_out), model.layers[p].W.dtype)
        for p in _dense_positions(model)
    )
