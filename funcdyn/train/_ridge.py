"""Ridge regression and linear least squares, in closed form."""

import equinox as eqx
import jax.numpy as jnp
import jax.scipy.linalg as jsl
from jaxtyping import Array, ArrayLike

from ._fit_method import OfflineMethod
from ._linalg import as_design, center, check_alpha, finish, intercept

_SOLVERS = ("svd", "cholesky")


def _svd_solve(X: Array, Y: Array, alpha: float) -> Array:
    U, s, Vt = jnp.linalg.svd(X, full_matrices=False)
    if alpha > 0.0:
        d = s / (s * s + alpha)
    else:
        # The pseudo-inverse: singular values below numpy's lstsq cutoff count as zero.
        cutoff = jnp.finfo(X.dtype).eps * max(X.shape) * s[0]
        d = jnp.where(s > cutoff, 1.0 / jnp.where(s > cutoff, s, 1.0), 0.0)
    return Vt.T @ (d[:, None] * (U.T @ Y))


def _cholesky_solve(X: Array, Y: Array, alpha: float) -> Array:
    gram = X.T @ X + alpha * jnp.eye(X.shape[1], dtype=X.dtype)
    factor = jsl.cho_factor(gram, lower=True)
    return jsl.cho_solve(factor, X.T @ Y)


def ridge_regression(
    X: ArrayLike,
    Y: ArrayLike,
    alpha: float = 0.0,
    *,
    bias: bool = False,
    solver: str = "svd",
) -> tuple[Array, Array | None]:
    r"""Ridge regression in closed form:

    $$W = \arg\min_W \lVert X W + \mathbf{1} b - Y \rVert^2 + \alpha \lVert W \rVert^2
        = (X^\top X + \alpha I)^{-1} X^\top Y.$$

    With `bias=True` the columns of `X` and `Y` are centred first, so the intercept `b`
    is fitted but not penalised. (To penalise it, append a column of ones to `X`.)

    **Arguments:**

    - `X`: inputs, `(num_samples, num_in)`.
    - `Y`: targets, `(num_samples, num_out)` or `(num_samples,)`.
    - `alpha`: the penalty (>= 0). With `alpha=0` this is least squares (the
      minimum-norm solution, as `numpy.linalg.lstsq`).
    - `bias`: whether to fit an intercept.
    - `solver`: `"svd"` (default; the SVD of `X`, which never forms $X^\top X$ and so
      keeps the accuracy that squaring the condition number would lose) or `"cholesky"`
      (a Cholesky solve of the normal equations: cheaper when `num_samples >> num_in`;
      needs `alpha > 0` or full-rank `X`).

    **Returns:** `(W, b)`: `W` of shape `(num_in, num_out)` (or `(num_in,)` for a vector
    `Y`), `b` of shape `(num_out,)` (or scalar), or `None` when `bias=False`.

    ```python
    W, _ = funcdyn.train.ridge_regression(features, targets, 2.5e-6)
    ```
    """
    alpha = check_alpha(alpha, "ridge_regression")
    if solver not in _SOLVERS:
        raise ValueError(f"ridge_regression: `solver` must be one of {_SOLVERS}, got {solver!r}.")
    X, Y, squeeze = as_design(X, Y, "ridge_regression")
    Xc, Yc, x_mean, y_mean = center(X, Y, bias)
    W = _svd_solve(Xc, Yc, alpha) if solver == "svd" else _cholesky_solve(Xc, Yc, alpha)
    return finish(W, intercept(W, x_mean, y_mean), squeeze)


def least_squares(
    X: ArrayLike, Y: ArrayLike, *, bias: bool = False
) -> tuple[Array, Array | None]:
    """Linear least squares, the minimum-norm solution of `X @ W + b ≈ Y` (via the SVD):
    [`funcdyn.train.ridge_regression`][] with `alpha=0`. Returns `(W, b)`."""
    return ridge_regression(X, Y, 0.0, bias=bias, solver="svd")


class RidgeRegression(OfflineMethod):
    """The ridge solver of [`funcdyn.train.OfflineTrainer`][]; see
    [`funcdyn.train.ridge_regression`][] for the maths.

    **Arguments:** `alpha` (the penalty, >= 0), `solver` (`"svd"` or `"cholesky"`).
    A readout with a bias gets an unpenalised intercept; one without (`b=None`) gets
    none (put a constant feature in front, e.g. `NVAR(..., constant=True)`).
    """

    alpha: float = eqx.field(static=True, default=1e-7)
    solver: str = eqx.field(static=True, default="svd")

    def __check_init__(self):
        check_alpha(self.alpha, "RidgeRegression")
        if self.solver not in _SOLVERS:
            raise ValueError(
                f"RidgeRegression: `solver` must be one of {_SOLVERS}, got {self.solver!r}."
            )

    def __call__(self, X: Array, Y: Array, *, bias: bool) -> tuple[Array, Array | None]:
        return ridge_regression(X, Y, self.alpha, bias=bias, solver=self.solver)


class LinearRegression(OfflineMethod):
    """Linear least squares for [`funcdyn.train.OfflineTrainer`][]: ridge with
    `alpha=0`, solved by SVD (the minimum-norm solution)."""

    def __call__(self, X: Array, Y: Array, *, bias: bool) -> tuple[Array, Array | None]:
        return least_squares(X, Y, bias=bias)
