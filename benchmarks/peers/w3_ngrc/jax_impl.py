"""W3 NG-RC on Lorenz63 (Gauthier et al. 2021), hand-written pure JAX in float64.

Features at time t: [1, u(t), u(t-1), unique quadratic monomials of (u(t), u(t-1))]
(1 + 6 + 21 = 28). Ridge regression (alpha 2.5e-6, the constant regularised like the rest)
of the targets u(t+1) - u(t) on the 400 training points after a 200-point warm-up:
W = Y F^T (F F^T + alpha I)^-1. Forecast: u(t+1) = u(t) + W phi(u(t), u(t-1)), 10,000
steps in one `lax.scan`. Measures the fit time, the forecast time (medians over `reps`,
compilation excluded and reported apart) and the NRMSE over one Lyapunov time (44 steps).

`fit_s` solves the normal equations by LU (`jnp.linalg.solve`), which squares the
condition number of F (6e7 here): its weights differ from the exact ridge solution by
1e-4 relative. The same fit is also timed as funcdyn solves it: `fit_qr_s` by a QR
factorisation of [F^T | Y^T; sqrt(alpha) I | 0] (funcdyn's default; 1e-10 from exact) and
`fit_cholesky_s` by Cholesky of the normal equations (funcdyn's `solver="cholesky"`).
"""

import sys

sys.path.insert(0, __import__("pathlib").Path(__file__).resolve().parents[1].as_posix())
import _common as C  # noqa: E402

args = C.parse_args(__doc__)
C.configure_jax(args.threads, x64=True)

import time  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402


def main():
    s = C.SIZES["w3_ngrc"][args.size]
    traj_np = C.load_data(args, "w3_ngrc")["traj"]
    traj = jnp.asarray(traj_np)
    w0, t0 = s["warmup"], s["warmup"] + s["train"]
    iu, ju = np.triu_indices(3 * s["delay"])

    def features(u, u_prev):
        lin = jnp.concatenate([u, u_prev], axis=-1)
        quad = lin[..., iu] * lin[..., ju]
        one = jnp.ones(lin.shape[:-1] + (1,), lin.dtype)
        return jnp.concatenate([one, lin, quad], axis=-1)

    @jax.jit
    def fit(traj):
        f = features(traj[w0:t0], traj[w0 - 1:t0 - 1])  # (train, 28)
        y = traj[w0 + 1:t0 + 1] - traj[w0:t0]  # (train, 3)
        a = f.T @ f + s["ridge"] * jnp.eye(f.shape[1], dtype=f.dtype)
        return jnp.linalg.solve(a, f.T @ y)  # (28, 3)

    @jax.jit
    def fit_qr(traj):
        f = features(traj[w0:t0], traj[w0 - 1:t0 - 1])
        y = traj[w0 + 1:t0 + 1] - traj[w0:t0]
        n, k = f.shape[1], y.shape[1]
        penalty = jnp.concatenate([jnp.sqrt(s["ridge"]) * jnp.eye(n, dtype=f.dtype),
                                   jnp.zeros((n, k), f.dtype)], axis=1)
        # The R factor of [A | B] holds Q^T B in its top-right block.
        r = jnp.linalg.qr(jnp.concatenate([jnp.concatenate([f, y], 1), penalty]), mode="r")
        return jax.scipy.linalg.solve_triangular(r[:n, :n], r[:n, n:], lower=False)

    @jax.jit
    def fit_cholesky(traj):
        f = features(traj[w0:t0], traj[w0 - 1:t0 - 1])
        y = traj[w0 + 1:t0 + 1] - traj[w0:t0]
        a = f.T @ f + s["ridge"] * jnp.eye(f.shape[1], dtype=f.dtype)
        return jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(a, lower=True), f.T @ y)

    @jax.jit
    def forecast(w, u, u_prev):
        def step(lin, _):
            u_next = lin[:3] + features(lin[:3], lin[3:]) @ w
            return jnp.concatenate([u_next, lin[:3]]), u_next

        # The carry is the one array (u(t), u(t-1)): with the pair (u(t), u(t-1)) as a
        # tuple carry, XLA:CPU runs this loop about 4x slower (8.4 vs 2.2 ms measured).
        _, out = jax.lax.scan(step, jnp.concatenate([u, u_prev]), None, length=s["forecast"])
        return out

    def run_fit():
        return jax.block_until_ready(fit(traj))

    def run_forecast(w):
        return jax.block_until_ready(forecast(w, traj[t0], traj[t0 - 1]))

    t = time.perf_counter()
    w = run_fit()
    fit_first = time.perf_counter() - t
    t = time.perf_counter()
    out = run_forecast(w)
    fc_first = time.perf_counter() - t
    w, fit_times = C.timed(run_fit, reps=s["reps"])
    jax.block_until_ready(fit_qr(traj))
    jax.block_until_ready(fit_cholesky(traj))
    _, qr_times = C.timed(lambda: jax.block_until_ready(fit_qr(traj)), reps=s["reps"])
    _, chol_times = C.timed(lambda: jax.block_until_ready(fit_cholesky(traj)), reps=s["reps"])
    out, fc_times = C.timed(run_forecast, w, reps=s["reps"])
    score = C.ngrc_score(traj_np, np.asarray(out), s)
    C.emit("w3_ngrc", "jax", dict(
        fit_s=fit_times, fit_qr_s=qr_times, fit_cholesky_s=chol_times, forecast_s=fc_times,
        compile_s=fit_first + fc_first - C.median(fit_times) - C.median(fc_times),
        forecast_finite=bool(np.isfinite(np.asarray(out)).all()), **score,
        peak_rss_mb=C.peak_rss_mb()), mods=("jax",))


main()
