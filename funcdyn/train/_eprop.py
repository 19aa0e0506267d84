"""e-prop (Bellec et al. 2020): eligibility traces from the Jacobians of the neuron
step, combined with a learning signal from the readout error."""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np

from .._core._context import Context
from ._eprop_network import EPropNetwork, EPropState


def _cell_param_leaves(params: EPropNetwork) -> tuple[list, Any]:
    return jtu.tree_flatten(params.cell)


def check_eprop_model(model: Any, params: Any, who: str) -> None:
    """A `TypeError` / `ValueError` when e-prop cannot learn `model` with these
    trainable `params`."""
    if not isinstance(model, EPropNetwork):
        raise TypeError(
            f"{who}: method='eprop' learns a funcdyn.train.EPropNetwork (input and "
            "recurrent weights around an elementwise neuron layer, leaky readout); got "
            f"{type(model).__name__}. Build the network with EPropNetwork(cell, num_in, "
            "num_out, ...), or use method='rtrl' for any model."
        )
    if not model.mode.is_batching:
        raise ValueError(
            f"{who}: method='eprop' needs the EPropNetwork in a batching mode (build it in "
            "funcdyn.training_mode); it is in NonBatchingMode."
        )
    N = model.num_hidden
    leaves, _ = _cell_param_leaves(params)
    paths = [jtu.keystr(p) for p, _ in jtu.tree_flatten_with_path(params.cell)[0]]
    for path, leaf in zip(paths, leaves):
        if np.shape(leaf) not in ((), (N,)):
            raise ValueError(
                f"{who}: method='eprop' trains per-neuron cell parameters (shape () or "
                f"({N},)), but the trainable cell array cell{path} has shape "
                f"{np.shape(leaf)}. Freeze it (pass `filter_spec`, or build the cell in "
                "funcdyn.batching_mode)."
            )


def _hidden_positions(cell, cell_state, I, ctx, N: int) -> tuple[int, ...]:
    """The positions of the cell-state leaves that are hidden variables: floating-point
    `(batch, N)` arrays other than the output itself (a stored spike is the observable
    `z`, which e-prop does not differentiate through)."""
    found: list[tuple[int, ...]] = []

    def probe(cell_state, I):
        new_state, z = cell(cell_state, I, ctx)
        leaves = jtu.tree_leaves(new_state)
        batch = I.shape[0]
        positions = []
        for i, leaf in enumerate(leaves):
            if leaf is z or not eqx.is_inexact_array(leaf):
                continue
            if leaf.shape != (batch, N):
                raise ValueError(
                    "method='eprop' needs a cell whose state arrays are per neuron, of shape "
                    f"(batch, {N}); {type(cell).__name__} has a state array of shape "
                    f"{leaf.shape}. Use method='rtrl' for this model."
                )
            positions.append(i)
        if z.shape != (batch, N):
            raise ValueError(
                f"method='eprop': the cell's output has shape {z.shape}, expected (batch, {N})."
            )
        found.append(tuple(positions))
        return z

    jax.eval_shape(probe, cell_state, I)
    return found[0]


class EPropRule(eqx.Module):
    r"""e-prop on an [`funcdyn.train.EPropNetwork`][].

    For a neuron $j$ with hidden variables $h^j_t$ (every per-neuron array of the cell's
    state but the output) and output $z^j_t$, and a weight $W_{ij}$ from presynaptic
    signal $p^i_t$ ($x^i_t$ for $W_\mathrm{in}$, $z^i_{t-1}$ for $W_\mathrm{rec}$):

    $$\epsilon^{ij}_t = D^j_t\,\epsilon^{ij}_{t-1} + \frac{\partial h^j_t}{\partial I^j_t}
    p^i_t, \qquad e^{ij}_t = \frac{\partial z^j_t}{\partial h^j_{t-1}}\epsilon^{ij}_{t-1}
    + \frac{\partial z^j_t}{\partial I^j_t} p^i_t, \qquad
    \bar e^{ij}_t = \kappa \bar e^{ij}_{t-1} + (1 - \kappa) e^{ij}_t$$

    with $D^j_t = \partial h^j_t / \partial h^j_{t-1}$ the neuron's own Jacobian (its
    input $z_{t-1}$ held fixed). The gradient estimate of $W_{ij}$ is
    $\sum_t L^j_t \bar e^{ij}_t$, with the learning signal
    $L^j_t = \sum_k B_{jk}\, \partial\ell_t/\partial y^k_t$, $B = W_\mathrm{out}$
    (symmetric e-prop) or a fixed random matrix (random e-prop). Every Jacobian comes
    from forward-mode derivatives of the cell's step, `K + 2 + (cell parameters)`
    directions per step for `K` hidden variables, so any elementwise neuron works.
    The readout weights get their exact gradient.
    """

    def init(self, params: EPropNetwork, rest: EPropNetwork, state: EPropState, dt: float):
        net = eqx.combine(params, rest)
        B, N = state.z.shape
        I = jnp.zeros((B, N), state.z.dtype)
        K = len(_hidden_positions(net.cell, state.cell, I, Context(dt=dt), N))
        dtype = state.z.dtype
        traces: dict[str, Any] = {}
        if params.W_in is not None:
            traces["eps_in"] = jnp.zeros((B, K, net.num_in, N), dtype)
            traces["ebar_in"] = jnp.zeros((B, net.num_in, N), dtype)
        if params.W_rec is not None:
            traces["eps_rec"] = jnp.zeros((B, K, N, N), dtype)
            traces["ebar_rec"] = jnp.zeros((B, N, N), dtype)
        leaves, _ = _cell_param_leaves(params)
        traces["eps_cell"] = tuple(jnp.zeros((B, K, N), dtype) for _ in leaves)
        traces["ebar_cell"] = tuple(jnp.zeros((B, N), dtype) for _ in leaves)
        traces["zbar"] = jnp.zeros((B, N), dtype)
        traces["bbar"] = jnp.zeros((), dtype)
        return traces

    def step(self, params, rest, state, traces, x, target, ctx, loss_fn, fixed):
        net = eqx.combine(params, rest)
        feedback = fixed
        B, N = state.z.shape
        I = net.input_current(state, x)
        cell_ctx = ctx.child("cell")
        hidden = _hidden_positions(net.cell, state.cell, I, cell_ctx, N)
        K = len(hidden)
        cell_leaves, cell_treedef = jtu.tree_flatten(state.cell)
        theta, theta_def = _cell_param_leaves(params)
        theta = list(theta)
        cell_rest = rest.cell

        def cell_step(h, I, theta):
            leaves = list(cell_leaves)
            for pos, value in zip(hidden, h):
                leaves[pos] = value
            cell = eqx.combine(jtu.tree_unflatten(theta_def, theta), cell_rest)
            new_state, z = cell(jtu.tree_unflatten(cell_treedef, leaves), I, cell_ctx)
            new_leaves = jtu.tree_leaves(new_state)
            return (tuple(new_leaves[p] for p in hidden), z), new_state

        h = tuple(cell_leaves[p] for p in hidden)
        (_, z), lin, new_cell = jax.linearize(cell_step, h, I, theta, has_aux=True)
        # The directions: each hidden variable, the input current, each cell parameter.
        # A tangent of ones on every neuron at once gives each neuron's own derivative,
        # since the cell acts on each neuron separately.
        num_dir = K + 1 + len(theta)
        eye = jnp.eye(num_dir, dtype=I.dtype)
        t_h = tuple(eye[:, l][:, None, None] * jnp.ones_like(h[l])[None] for l in range(K))
        t_I = eye[:, K][:, None, None] * jnp.ones_like(I)[None]
        t_theta = list(
            jnp.reshape(eye[:, K + 1 + m], (num_dir,) + (1,) * jnp.ndim(th))
            * jnp.ones_like(th)[None] for m, th in enumerate(theta)
        )
        dh, dz = jax.vmap(lin)(t_h, t_I, t_theta)  # dh: K arrays (num_dir, B, N)
        if K:
            dh = jnp.stack(dh, axis=1)  # (num_dir, K, B, N)
            D = jnp.moveaxis(dh[:K], (0, 1, 2), (2, 1, 0))  # (B, K, K, N): [b, k, l, j]
            dh_dI = jnp.moveaxis(dh[K], 0, 1)  # (B, K, N)
            dh_dtheta = [jnp.moveaxis(dh[K + 1 + m], 0, 1) for m in range(len(theta))]
        dz_dh = jnp.moveaxis(dz[:K], 0, 1)  # (B, K, N)
        dz_dI = dz[K]  # (B, N)
        dz_dtheta = [dz[K + 1 + m] for m in range(len(theta))]

        kappa = net.readout_decay(ctx.dt)
        new_traces: dict[str, Any] = {}

        def synapse(eps, ebar, pre):
            # pre: (B, n_pre); eps: (B, K, n_pre, N)
            e = dz_dI[:, None, :] * pre[:, :, None]
            if K:
                e = e + jnp.einsum("blj,blij->bij", dz_dh, eps)
                eps = jnp.einsum("bklj,blij->bkij", D, eps) + (
                    dh_dI[:, :, None, :] * pre[:, None, :, None]
                )
            return eps, kappa * ebar + (1.0 - kappa) * e

        x = jnp.asarray(x).astype(I.dtype)
        if "eps_in" in traces:
            new_traces["eps_in"], new_traces["ebar_in"] = synapse(
                traces["eps_in"], traces["ebar_in"], x
            )
        if "eps_rec" in traces:
            new_traces["eps_rec"], new_traces["ebar_rec"] = synapse(
                traces["eps_rec"], traces["ebar_rec"], state.z
            )
        eps_cell, ebar_cell = [], []
        for m, (eps, ebar) in enumerate(zip(traces["eps_cell"], traces["ebar_cell"])):
            e = dz_dtheta[m]
            if K:
                e = e + jnp.einsum("blj,blj->bj", dz_dh, eps)
                eps = jnp.einsum("bklj,blj->bkj", D, eps) + dh_dtheta[m]
            eps_cell.append(eps)
            ebar_cell.append(kappa * ebar + (1.0 - kappa) * e)
        new_traces["eps_cell"], new_traces["ebar_cell"] = tuple(eps_cell), tuple(ebar_cell)
        zbar = kappa * traces["zbar"] + (1.0 - kappa) * z
        bbar = kappa * traces["bbar"] + (1.0 - kappa)
        new_traces["zbar"], new_traces["bbar"] = zbar, bbar

        y = net.readout(state.y, z, ctx.dt)
        loss, dl_dy = jax.value_and_grad(lambda y_: loss_fn(y_, target))(y)
        B_fb = net.W_out if feedback is None else feedback
        L = dl_dy @ B_fb.T  # (B, N): the learning signal

        updates = {}
        if params.W_in is not None:
            updates["W_in"] = jnp.einsum("bj,bij->ij", L, new_traces["ebar_in"])
        if params.W_rec is not None:
            g = jnp.einsum("bj,bij->ij", L, new_traces["ebar_rec"])
            if not net.self_connections:
                g = g * (1.0 - jnp.eye(N, dtype=g.dtype))
            updates["W_rec"] = g
        if params.W_out is not None:
            updates["W_out"] = jnp.einsum("bj,bk->jk", zbar, dl_dy)
        if params.b_out is not None:
            updates["b_out"] = bbar * jnp.sum(dl_dy, axis=0)
        grads = eqx.tree_at(
            lambda g: [getattr(g, n) for n in updates], params,
            [updates[n] for n in updates],
        ) if updates else params
        if theta:
            cell_grads = []
            for th, ebar in zip(theta, new_traces["ebar_cell"]):
                per_neuron = jnp.sum(L * ebar, axis=0)  # (N,)
                cell_grads.append(per_neuron if jnp.ndim(th) == 1 else jnp.sum(per_neuron))
            grads = eqx.tree_at(
                lambda g: g.cell, grads, jtu.tree_unflatten(theta_def, cell_grads)
            )
        new_state = EPropState(cell=new_cell, z=z, y=y)
        return new_state, new_traces, y, loss, grads
