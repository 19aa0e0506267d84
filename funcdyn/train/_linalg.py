"""Shared checks and centring for the readout solvers."""

import jax.numpy as jnp
from jaxtyping import Array


def as_design(X, Y, who: str) -> tuple[Array, Array, bool]:
    """`(X, Y, squeeze)`: `X` as a float matrix `(N, n_in)`, `Y` as `(N, n_out)`, and
    whether `Y` came in as a vector (then the result is squeezed back)."""
    X = jnp.asarray(X)
    Y = jnp.asarray(Y)
    if X.ndim != 2:
        raise ValueError(f"{who}: `X` must be a matrix (num_samples, num_in), got {X.shape}.")
    squeeze = Y.ndim == 1
    if squeeze:
        Y = Y[:, None]
    if Y.ndim != 2 or Y.shape[0] != X.shape[0]:
        raise ValueError(
            f"{who}: `Y` must be (num_samples, num_out) or (num_samples,) with the "
            f"{X.shape[0]} samples of `X`, got {Y.shape}."
        )
    if not jnp.issubdtype(X.dtype, jnp.floating):
        X = X.astype(jnp.result_type(float))
    Y = Y.astype(X.dtype)
    return X, Y, squeeze


def center(X: Array, Y: Array, bias: bool) -> tuple[Array, Array, Array | None, Array | None]:
    """`(Xc, Yc, x_mean, y_mean)`: with `bias`, the columns minus their means, which
    leaves the intercept out of any penalty; without, `X`, `Y` and `None`s."""
    if not bias:
        return X, Y, None, None
    x_mean = jnp.mean(X, axis=0)
    y_mean = jnp.mean(Y, axis=0)
    return X - x_mean[None, :], Y - y_mean[None, :], x_mean, y_mean


def intercept(W: Array, x_mean: Array | None, y_mean: Array | None) -> Array | None:
    """The intercept `y_mean - x_mean @ W` of a fit on centred data (`None` if none)."""
    if x_mean is None:
        return None
    return y_mean - x_mean @ W


def finish(W: Array, b: Array | None, squeeze: bool) -> tuple[Array, Array | None]:
    if squeeze:
        W = W[:, 0]
        b = None if b is None else b[0]
    return W, b


def check_alpha(alpha, who: str) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha >= 0:
        raise ValueError(f"{who}: `alpha` must be a float >= 0, got {alpha!r}.")
    return float(alpha)


def check_iters(num_iters, who: str) -> int:
    if isinstance(num_iters, bool) or not isinstance(num_iters, int) or num_iters < 1:
        raise ValueError(f"{who}: `num_iters` must be an int >= 1, got {num_iters!r}.")
    return num_iters
