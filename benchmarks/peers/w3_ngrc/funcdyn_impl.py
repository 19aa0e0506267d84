"""W3 NG-RC on Lorenz63 in funcdyn, float64: `NVAR(3, delay=2, order=2, constant=True)`
(batching mode) `>> Dense(28, 3, b_initializer=None)` (training mode), fitted with
`funcdyn.train.OfflineTrainer(model, RidgeRegression(2.5e-6))` after a warm-up run, and
forecast with `funcdyn.train.forecast(..., feedback=lambda y, x: x + y)` (one compiled
`lax.scan` of 10,000 steps). Same protocol and data as `jax_impl.py`. `fit_s` uses the
default solver (`solver="auto"`: for alpha > 0 a QR factorisation of the augmented matrix
[F; sqrt(alpha) I], which does not square the condition number); it is reported again as
`fit_qr_s`, next to the hand-written QR fit of `jax_impl.py`. `fit_cholesky_s` is the same
fit with `solver="cholesky"` (the normal equations, like the hand-written `fit_s`).
"""

import sys

sys.path.insert(0, __import__("pathlib").Path(__file__).resolve().parents[1].as_posix())
import _common as C  # noqa: E402

args = C.parse_args(__doc__)
C.configure_jax(args.threads, x64=True)
C.add_repo_to_path(__file__)

import time  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import funcdyn as fd  # noqa: E402


def increment(y, x):
    return x + y


def main():
    s = C.SIZES["w3_ngrc"][args.size]
    traj = C.load_data(args, "w3_ngrc")["traj"]
    w0, t0 = s["warmup"], s["warmup"] + s["train"]
    nvar = fd.layers.NVAR(3, delay=s["delay"], order=s["order"], stride=1, constant=True,
                          mode=fd.batching_mode)
    readout = fd.layers.Dense(nvar.num_out, 3, b_initializer=None, mode=fd.training_mode,
                              key=jax.random.key(args.seed))
    model = nvar >> readout
    series = jnp.asarray(traj)[:, None, :]  # a batch of one sequence
    trainer = fd.train.OfflineTrainer(model, fd.train.RidgeRegression(s["ridge"]))
    dt = s["dt"]
    warm_state, _, _ = fd.run(model, series[:w0], dt=dt)
    xs = series[w0:t0]
    ys = series[w0 + 1:t0 + 1] - xs

    def fit():
        fitted = trainer.fit(xs, ys, dt=dt, state=warm_state)
        jax.block_until_ready(fitted)
        return fitted

    def run_forecast(fitted, state):
        _, pred = fd.train.forecast(fitted, state, series[t0], s["forecast"], dt=dt,
                                    feedback=increment)
        return jax.block_until_ready(pred)

    t = time.perf_counter()
    fitted = fit()
    fit_first = time.perf_counter() - t
    # The state at the end of the training inputs, from which the forecast starts.
    state, _, _ = fd.run(fitted, xs, dt=dt, state=warm_state)
    t = time.perf_counter()
    run_forecast(fitted, state)
    fc_first = time.perf_counter() - t
    fitted, fit_times = C.timed(fit, reps=s["reps"])
    # The same fit with the Cholesky solver of the normal equations (the hand-written
    # fit_s solves them by LU) instead of the default QR.
    chol = fd.train.OfflineTrainer(model, fd.train.RidgeRegression(s["ridge"],
                                                                   solver="cholesky"))
    chol_fit = lambda: jax.block_until_ready(chol.fit(xs, ys, dt=dt, state=warm_state))  # noqa
    chol_fit()
    _, chol_times = C.timed(chol_fit, reps=s["reps"])
    pred, fc_times = C.timed(run_forecast, fitted, state, reps=s["reps"])
    out = np.asarray(pred)[:, 0]
    score = C.ngrc_score(traj, out, s)
    C.emit("w3_ngrc", "funcdyn", dict(
        fit_s=fit_times, fit_qr_s=fit_times, fit_cholesky_s=chol_times, forecast_s=fc_times,
        compile_s=fit_first + fc_first - C.median(fit_times) - C.median(fc_times),
        forecast_finite=bool(np.isfinite(out).all()), **score,
        peak_rss_mb=C.peak_rss_mb()), mods=("jax", "equinox", "funcdyn"))


main()
