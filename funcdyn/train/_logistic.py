"""L2-regularised logistic regression by L-BFGS with a fixed iteration count."""

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, ArrayLike

from ._fit_method import OfflineMethod
from ._linalg import as_design, check_alpha, check_iters, finish


def logistic_regression(
    X: ArrayLike,
    Y: ArrayLike,
    alpha: float = 1e-4,
    *,
    bias: bool = True,
    num_iters: int = 100,
) -> tuple[Array, Array | None]:
    r"""Logistic regression with an L2 penalty on the weights (not the intercept):

    $$\min_{W, b}\ \frac{1}{N} \sum_i \ell(x_i W + b,\ y_i) + \frac{\alpha}{2}
      \lVert W \rVert^2,$$

    where $\ell$ is the sigmoid cross-entropy for one output column (targets in
    $[0, 1]$) and the softmax cross-entropy for several (one-hot or probability rows;
    the logits are then `x @ W + b`, one column per class). Solved by
    `optax.lbfgs` (with its zoom line search) for exactly `num_iters` iterations inside
    one `lax.fori_loop`. Keep `alpha > 0` for separable data, where the unpenalised
    optimum is at infinity.

    **Arguments:** `X` `(N, num_in)`; `Y` `(N, num_out)` (or `(N,)` for one binary
    output); `alpha`; `bias`; `num_iters`.

    **Returns:** `(W, b)`: the logits are `X @ W + b`.
    """
    alpha = check_alpha(alpha, "logistic_regression")
    num_iters = check_iters(num_iters, "logistic_regression")
    X, Y, squeeze = as_design(X, Y, "logistic_regression")
    num_out = Y.shape[1]

    def loss(params):
        W, b = params
        logits = X @ W
        if b is not None:
            logits = logits + jnp.broadcast_to(b, logits.shape)
        if num_out == 1:
            data = optax.sigmoid_binary_cross_entropy(logits, Y).mean()
        else:
            data = optax.softmax_cross_entropy(logits, Y).mean()
        return data + 0.5 * alpha * jnp.sum(W * W)

    params = (
        jnp.zeros((X.shape[1], num_out), X.dtype),
        jnp.zeros((num_out,), X.dtype) if bias else None,
    )
    solver = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(loss)

    def body(_, carry):
        params, state = carry
        value, grad = value_and_grad(params, state=state)
        updates, state = solver.update(
            grad, state, params, value=value, grad=grad, value_fn=loss
        )
        return optax.apply_updates(params, updates), state

    (W, b), _ = jax.lax.fori_loop(0, num_iters, body, (params, solver.init(params)))
    return finish(W, b, squeeze)


class LogisticRegression(OfflineMethod):
    """The logistic-regression solver of [`funcdyn.train.OfflineTrainer`][]; see
    [`funcdyn.train.logistic_regression`][]. Targets are class labels (integers, turned
    into one-hot rows by the trainer) or one-hot/probability rows; the fitted readout
    outputs logits.

    **Arguments:** `alpha` (the L2 penalty), `num_iters` (L-BFGS iterations).
    """

    alpha: float = eqx.field(static=True, default=1e-4)
    num_iters: int = eqx.field(static=True, default=100)

    def __check_init__(self):
        check_alpha(self.alpha, "LogisticRegression")
        check_iters(self.num_iters, "LogisticRegression")

    def __call__(self, X: Array, Y: Array, *, bias: bool) -> tuple[Array, Array | None]:
        return logistic_regression(X, Y, self.alpha, bias=bias, num_iters=self.num_iters)
