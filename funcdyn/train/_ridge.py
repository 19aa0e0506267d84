"""Ridge regression and linear least squares, in closed form."""

import equinox as eqx
import jax.numpy as jnp
import jax.scipy.linalg as jsl
from jaxtyping import Array, ArrayLike

from ._fit_method import OfflineMethod
from ._linalg import as_design, center, check_alpha, finish, intercept

_SOLVERS = ("auto", "qr", "svd", "cholesky")


def _svd_solve(X: Array, Y: Array, alpha: float) -> Array:
    U, s, Vt = jnp.linalg.svd(X, full_matrices=False)
    if alpha > 0.0:
        d = s / (s * s + alpha)
    else:
        # The pseudo-inverse: singular values below numpy's lstsq cutoff count as zero.
        cutoff = jnp.finfo(X.dtype).eps * max(X.shape) * s[0]
        d = jnp.where(s > cutoff, 1.0 / jnp.where(s > cutoff, s, 1.0), 0.0)
    return Vt.T @ (d[:, None] * (U.T @ Y))


def _qr_solve(X: Array, Y: Array, alpha: float) -> Array:
    # Least squares on the augmented system [X; sqrt(alpha) I] W = [Y; 0], which is the
    # ridge problem exactly. The QR factorisation of [A | B] holds Q^T B in its top-right
    # block, so Q itself is never formed; the condition number is that of the augmented
    # matrix (at most that of X), not its square as in the normal equations.
    num_in, num_out = X.shape[1], Y.shape[1]
    A = jnp.concatenate([X, Y], axis=1)
    if alpha > 0.0:
        penalty = jnp.concatenate(
            [jnp.sqrt(alpha) * jnp.eye(num_in, dtype=X.dtype),
             jnp.zeros((num_in, num_out), X.dtype)],
            axis=1,
        )
        A = jnp.concatenate([A, penalty], axis=0)
    R = jnp.linalg.qr(A, mode="r")
    W = jsl.solve_triangular(R[:num_in, :num_in], R[:num_in, num_in:], lower=False)
    if alpha == 0.0:
        # Without a penalty a rank-deficient X has no unique solution: say so with NaN
        # weights rather than huge ones (a zero pivot of R, at the SVD path's cutoff).
        pivots = jnp.abs(jnp.diagonal(R[:num_in, :num_in]))
        cutoff = jnp.finfo(X.dtype).eps * max(X.shape) * jnp.max(pivots)
        W = jnp.where(jnp.all(pivots > cutoff), W, jnp.nan)
    return W


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
    solver: str = "auto",
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
    - `solver`: how the problem is solved.
        - `"auto"` (default): `"qr"` when `alpha > 0`, `"svd"` when `alpha == 0`.
        - `"qr"`: a QR factorisation of the augmented matrix
          $[X;\ \sqrt{\alpha} I]$ (least squares on it is the ridge problem). Backward
          stable like the SVD, and it never forms $X^\top X$, so the condition number
          is not squared; about 3x faster than `"svd"` at 400 x 28 on XLA:CPU. With
          `alpha == 0` it needs full-rank `X` (a zero pivot of the factorisation, as
          for a repeated column, gives NaN weights) and at least as many samples as
          inputs.
        - `"svd"`: the SVD of `X`; with `alpha == 0` the minimum-norm solution (as
          `numpy.linalg.lstsq`), also for rank-deficient `X`. The slowest.
        - `"cholesky"`: a Cholesky solve of the normal equations
          $(X^\top X + \alpha I) W = X^\top Y$: the fastest (one pass over `X`, then
          a `num_in x num_in` factorisation), but it squares the condition number of
          `X`. On the NG-RC Lorenz63 fit (cond(X) = 6e7, alpha = 2.5e-6) its weights
          differ from the exact ones by 3e-4 relative (`"qr"` and `"svd"`: 1e-10), which
          still leaves the forecast NRMSE at 2.01e-3; with `alpha == 0` it needs
          full-rank `X`, and a nearly singular $X^\top X$ gives inaccurate or
          non-finite weights.

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
    if solver == "auto":
        solver = "qr" if alpha > 0.0 else "svd"
    if solver == "qr" and alpha == 0.0 and X.shape[0] < X.shape[1]:
        raise ValueError(
            f"ridge_regression: solver='qr' with alpha=0 needs at least as many samples as "
            f"inputs, got {X.shape[0]} samples of {X.shape[1]} inputs; use solver='svd' "
            "(the minimum-norm solution) or alpha > 0."
        )
    solve = {"qr": _qr_solve, "svd": _svd_solve, "cholesky": _cholesky_solve}[solver]
    W = solve(Xc, Yc, alpha)
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

    **Arguments:** `alpha` (the penalty, >= 0), `solver` (`"auto"`, the default, `"qr"`,
    `"svd"` or `"cholesky"`: see [`funcdyn.train.ridge_regression`][] for the accuracy
    and speed of each).
    A readout with a bias gets an unpenalised intercept; one without (`b=None`) gets
    none (put a constant feature in front, e.g. `NVAR(..., constant=True)`).
    """

    alpha: float = eqx.field(static=True, default=1e-7)
    solver: str = eqx.field(static=True, default="auto")

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
