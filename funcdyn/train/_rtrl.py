"""Real-time recurrent learning: the exact gradient, carried forward in time through the
influence matrix of the state with respect to the parameters."""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jax.flatten_util import ravel_pytree


def _split_state(state: Any) -> tuple[Any, Any]:
    """`(differentiable, constant)`: the floating-point arrays of a state carry
    derivatives; integer counters and the like do not."""
    return eqx.partition(state, eqx.is_inexact_array)


def _inexact(a: Any) -> bool:
    dtype = getattr(a, "dtype", None)
    return dtype is not None and jnp.issubdtype(dtype, jnp.inexact)


def rtrl_sizes(params: Any, state: Any) -> tuple[int, int]:
    """`(S, P)`: the number of state values that carry derivatives and of trainable
    parameter values (arrays or shape structs)."""
    S = sum(int(np.prod(np.shape(a))) for a in jtu.tree_leaves(state) if _inexact(a))
    P = sum(int(np.prod(np.shape(a))) for a in jtu.tree_leaves(params))
    return S, P


def rtrl_bytes(params: Any, state: Any) -> int:
    """The memory one RTRL step holds: the influence matrix before and after the step
    (`2 S P` values) and the parameter directions (`P^2`)."""
    S, P = rtrl_sizes(params, state)
    leaves = jtu.tree_leaves(params)
    itemsize = np.dtype(leaves[0].dtype).itemsize if leaves else 4
    return itemsize * (2 * S * P + P * P)


class RTRLRule(eqx.Module):
    r"""Exact forward-mode gradient of a sum of per-step losses (Williams & Zipser 1989).

    With the state $s_t$ (every floating-point array of the model's state, raveled, `S`
    values, batch included) and the trainable parameters $\theta$ (`P` values), the
    influence matrix $M_t = \partial s_t / \partial\theta$ follows the step:

    $$M_t = \frac{\partial f}{\partial s}\Big|_t M_{t-1} + \frac{\partial f}{\partial\theta}
    \Big|_t, \qquad \frac{d\ell_t}{d\theta} = \frac{\partial \ell_t}{\partial y_t}
    \Big(\frac{\partial y_t}{\partial s} M_{t-1} + \frac{\partial y_t}{\partial\theta}\Big)$$

    computed as `P` Jacobian-vector products of one linearisation of the step
    (`jax.linearize`), for any model. Memory `O(S P)`, time `O(P)` steps' worth of
    work per step: for small networks, and as the reference for approximations.
    """

    def init(self, params: Any, rest: Any, state: Any) -> Any:
        S, P = rtrl_sizes(params, state)
        leaves = jtu.tree_leaves(params)
        return jnp.zeros((P, S), leaves[0].dtype)

    def step(self, params, rest, state, M, x, target, ctx, loss_fn, fixed):
        diff_state, const_state = _split_state(state)
        s_vec, unravel_s = ravel_pytree(diff_state)
        p_vec, unravel_p = ravel_pytree(params)

        def f(s_vec, p_vec):
            model = eqx.combine(unravel_p(p_vec), rest)
            new_state, y = model(eqx.combine(unravel_s(s_vec), const_state), x, ctx)
            new_diff, new_const = _split_state(new_state)
            new_vec, _ = ravel_pytree(new_diff)
            y_vec, _ = ravel_pytree(y)
            return (new_vec, y_vec), (new_diff, new_const, y)

        _, lin, (new_diff, new_const, y) = jax.linearize(
            f, s_vec, p_vec, has_aux=True
        )
        directions = jnp.eye(p_vec.shape[0], dtype=p_vec.dtype)
        M_new, dy = jax.vmap(lin)(M, directions)  # (P, S), (P, Y)
        new_state = eqx.combine(new_diff, new_const)
        loss, dl_dy = jax.value_and_grad(lambda y_: loss_fn(y_, target))(y)
        dl_dy_vec, _ = ravel_pytree(dl_dy)
        grads = unravel_p(dy @ dl_dy_vec)
        return new_state, M_new, y, loss, grads
