"""NG-RC on Lorenz63: funcdyn against a hand-written pure-JAX version of the same maths.

Times (1) the readout fit (the NVAR feature run over the training inputs plus the ridge
solve) at the paper's 400 points and at `--train-large` points, and (2) a closed-loop
forecast of `--steps` steps (default 10,000), for
`NVAR(3, delay=2, order=2, constant=True) >> Dense(28, 3)` fitted by
`funcdyn.train.OfflineTrainer` and run by `funcdyn.train.forecast`, and for the same
computation written directly (the fit builds all feature vectors at once, the forecast
is a `lax.scan`) with the same ridge solve: the library's
default (`solver="auto"`, for alpha > 0 a QR factorisation of the augmented matrix
[X; sqrt(alpha) I]) and, as a second pair at the paper's size, `solver="cholesky"`
against a hand-written Cholesky solve of the normal equations. Both are jitted and
warmed up, then alternated over rounds; the medians and the ratio funcdyn / pure JAX are
printed (the goal is <= 1.1), with the best times as well. Each timed round runs
enough back-to-back calls (each waited for) to last about 5 ms, so that a round of the
0.1-ms fit is not one timer reading. Runs in float64, like the
paper. At 400 points the whole fit takes about a tenth of a millisecond, so the library's
fixed cost per call (flattening the model, dispatch: some tens of microseconds) shows in
that ratio.

    python benchmarks/bench_ngrc.py [--quick] [--rounds 20] [--steps 10000] [--train-large N]
"""

import argparse
import itertools
import time

import jax


jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import funcdyn  # noqa: E402
from _results import result_line  # noqa: E402  (benchmarks/, the script's folder)


DT = 0.025
ALPHA = 2.5e-6


def lorenz_series(num: int) -> np.ndarray:
    """`num` points of Lorenz63 from scipy's RK23 at default tolerances, as in the paper
    (on these data the fitted NG-RC forecast stays bounded)."""
    from scipy.integrate import solve_ivp

    def f(t, v):
        x, y, z = v
        return [10.0 * (y - x), x * (28.0 - z) - y, x * y - 8.0 / 3.0 * z]

    t_end = (num - 1) * DT
    t_eval = np.linspace(0.0, t_end, num)
    x_init = [17.67715816276679, 12.931379185960404, 43.91404334248268]
    return solve_ivp(f, (0.0, t_end), x_init, t_eval=t_eval, method="RK23").y.T


# -- hand-written pure JAX --------------------------------------------------------------

_PAIRS = np.array(list(itertools.combinations_with_replacement(range(6), 2)), np.int32)


def _shift(buffer, x):
    # buffer: (batch, 2, 3), newest first. (Concatenating x and the previous x directly
    # compiles to a loop about 5x slower on XLA:CPU, so the delay line is a buffer.)
    return jnp.concatenate([x[:, None, :], buffer[:, :-1]], axis=1)


def _features(buffer):
    lin = buffer.reshape(buffer.shape[0], 6)
    quad = lin[:, _PAIRS[:, 0]] * lin[:, _PAIRS[:, 1]]
    return jnp.concatenate([jnp.ones((lin.shape[0], 1), lin.dtype), lin, quad], axis=-1)


def _design(buffer0, xs, ys):
    # All inputs are known, so all feature vectors are built at once (no time loop):
    # the linear part of step t is (x(t), x(t-1)), with x(-1) from the buffer.
    prev = jnp.concatenate([buffer0[None, :, 0], xs[:-1]], axis=0)
    lin = jnp.concatenate([xs, prev], axis=-1).reshape(-1, 6)
    quad = lin[:, _PAIRS[:, 0]] * lin[:, _PAIRS[:, 1]]
    X = jnp.concatenate([jnp.ones((lin.shape[0], 1), lin.dtype), lin, quad], axis=-1)
    return X, ys.reshape(-1, ys.shape[-1])


@jax.jit
def jax_fit(buffer0, xs, ys):
    # Ridge as least squares on [X; sqrt(alpha) I] W = [Y; 0], by QR: the R factor of
    # [A | B] holds Q^T B in its top-right block.
    X, Y = _design(buffer0, xs, ys)
    n, k = X.shape[1], Y.shape[1]
    penalty = jnp.concatenate([jnp.sqrt(ALPHA) * jnp.eye(n, dtype=X.dtype),
                               jnp.zeros((n, k), X.dtype)], axis=1)
    R = jnp.linalg.qr(jnp.concatenate([jnp.concatenate([X, Y], axis=1), penalty]), mode="r")
    return jax.scipy.linalg.solve_triangular(R[:n, :n], R[:n, n:], lower=False)


@jax.jit
def jax_fit_cholesky(buffer0, xs, ys):
    X, Y = _design(buffer0, xs, ys)
    gram = X.T @ X + ALPHA * jnp.eye(X.shape[1], dtype=X.dtype)
    return jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(gram, lower=True), X.T @ Y)


def jax_forecast(W, buffer, x0, num_steps):
    def step(carry, _):
        x, buffer = carry
        buffer = _shift(buffer, x)
        x_next = x + _features(buffer) @ W
        return (x_next, buffer), x_next

    _, trajectory = jax.lax.scan(step, (x0, buffer), None, length=num_steps)
    return trajectory


jax_forecast = jax.jit(jax_forecast, static_argnums=3)


# -- funcdyn ----------------------------------------------------------------------------


def increment(y, x):
    return x + y


def build_model():
    nvar = funcdyn.layers.NVAR(3, delay=2, order=2, constant=True, mode=funcdyn.batching_mode)
    readout = funcdyn.layers.Dense(nvar.num_out, 3, b_initializer=None,
                                   mode=funcdyn.training_mode, key=jax.random.key(0))
    return nvar >> readout


def _time(fn, calls: int = 1) -> float:
    """Seconds per call over `calls` back-to-back calls, each waited for."""
    start = time.perf_counter()
    for _ in range(calls):
        jax.block_until_ready(fn())
    return (time.perf_counter() - start) / calls


def _calls_per_round(fn, fn_ref, target=5e-3) -> int:
    """How many calls make one timed round last about `target` seconds: a single call of
    a tenth of a millisecond is mostly timer and scheduling noise on a shared machine."""
    once = min(min(_time(fn), _time(fn_ref)) for _ in range(3))
    return max(1, int(target / max(once, 1e-6)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, few rounds")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--train", type=int, default=400, help="the paper's 400 points")
    parser.add_argument("--train-large", type=int, default=20_000,
                        help="a second, larger fit (where dispatch overhead is negligible)")
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else args.rounds
    steps = 200 if args.quick else args.steps
    train = 100 if args.quick else args.train
    train_large = train if args.quick else args.train_large  # quick: no second compile

    # The paper's window: a 200-point warm-up, then the training points.
    series = jnp.asarray(lorenz_series(200 + max(train, train_large) + 2)[199:])[:, None, :]
    model = build_model()
    trainer = funcdyn.train.OfflineTrainer(model, funcdyn.train.RidgeRegression(ALPHA))
    chol_trainer = funcdyn.train.OfflineTrainer(
        model, funcdyn.train.RidgeRegression(ALPHA, solver="cholesky"))
    warm, _, _ = funcdyn.run(model, series[:1], dt=DT)
    buffer0 = jnp.stack([series[0], jnp.zeros_like(series[0])], axis=1)

    def fit_pair(n, fd_trainer=trainer, jx=jax_fit):
        xs, ys = series[1 : n + 1], series[2 : n + 2] - series[1 : n + 1]

        def fd_fit():
            return fd_trainer.fit(xs, ys, dt=DT, state=warm).layers[1].W

        def jx_fit():
            return jx(buffer0, xs, ys)

        return fd_fit, jx_fit

    fd_fit, jx_fit = fit_pair(train)
    xs = series[1 : train + 1]
    fitted = trainer.fit(xs, series[2 : train + 2] - xs, dt=DT, state=warm)
    state, _, _ = funcdyn.run(fitted, xs, dt=DT, state=warm)
    x0 = series[train + 1]
    W = jx_fit()
    buffer_end = jnp.stack([series[train], series[train - 1]], axis=1)

    def fd_forecast():
        return funcdyn.train.forecast(fitted, state, x0, steps, dt=DT, feedback=increment)[1]

    def jx_forecast():
        return jax_forecast(W, buffer_end, x0, steps)

    # Same maths: same weights and forecasts (up to rounding).
    err_W = float(jnp.max(jnp.abs(fd_fit() - W)) / jnp.max(jnp.abs(W)))
    n_cmp = min(steps, 50)
    err_f = float(jnp.max(jnp.abs(fd_forecast()[:n_cmp] - jx_forecast()[:n_cmp])))
    print(f"check: relative weight difference {err_W:.1e}, forecast difference over "
          f"{n_cmp} steps {err_f:.1e}")

    fd_chol, jx_chol = fit_pair(train, chol_trainer, jax_fit_cholesky)
    err_chol = float(jnp.max(jnp.abs(fd_chol() - jx_chol())) / jnp.max(jnp.abs(W)))
    print(f"check: cholesky, relative weight difference {err_chol:.1e} (from the QR "
          f"weights: {float(jnp.max(jnp.abs(jx_chol() - W)) / jnp.max(jnp.abs(W))):.1e})")

    cases = [(f"fit {train} points", fd_fit, jx_fit),
             (f"fit {train_large} points", *fit_pair(train_large)),
             (f"forecast {steps} steps", fd_forecast, jx_forecast),
             (f"fit {train} points, cholesky", fd_chol, jx_chol)]
    results = {}
    for label, fd, jx in cases:
        for _ in range(2):  # warm-up (compilation)
            _time(fd)
            _time(jx)
        calls = _calls_per_round(fd, jx)
        t_fd, t_jx = [], []
        for _ in range(rounds):
            t_fd.append(_time(fd, calls))
            t_jx.append(_time(jx, calls))
        results[label] = (np.median(t_fd), np.median(t_jx), np.min(t_fd), np.min(t_jx))

    print(f"NG-RC Lorenz63, float64, {rounds} rounds, backend {jax.default_backend()}")
    for label, (fd, jx, fd_min, jx_min) in results.items():
        print(f"{label}: median funcdyn {fd * 1e3:.3f} ms, pure JAX {jx * 1e3:.3f} ms, "
              f"ratio {fd / jx:.2f} (best of {rounds}: {fd_min * 1e3:.3f} ms vs "
              f"{jx_min * 1e3:.3f} ms, ratio {fd_min / jx_min:.2f})")
    ratio = lambda label: results[label][0] / results[label][1]  # noqa: E731
    print(f"fit ratio: {ratio(cases[0][0]):.2f}")
    print(f"large fit ratio: {ratio(cases[1][0]):.2f}")
    print(f"forecast ratio: {ratio(cases[2][0]):.2f}")
    print(f"cholesky fit ratio: {ratio(cases[3][0]):.2f}")
    print(result_line("ngrc.fit", ratio(cases[0][0]), "<=", 1.10))
    print(result_line("ngrc.fit_large", ratio(cases[1][0]), "<=", 1.10))
    print(result_line("ngrc.forecast", ratio(cases[2][0]), "<=", 1.05))
    print(result_line("ngrc.fit_cholesky", ratio(cases[3][0]), "<=", 1.10))


if __name__ == "__main__":
    main()

# The figures end as "RESULT <benchmark>.<figure> ratio=<x> goal<=<y>" lines (_results.py).
