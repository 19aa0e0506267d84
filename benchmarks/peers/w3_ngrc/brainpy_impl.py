"""W3 NG-RC on Lorenz63 with BrainPy, in float64: `bp.dyn.NVAR(3, delay=2, order=2,
constant=True)` (batching mode) feeding a `bp.dnn.Dense` readout (training mode, no bias),
trained with `bp.RidgeTrainer(alpha=2.5e-6)` as in BrainPy's NG-RC example (warm-up run
with `predict`, then `fit`), forecast autonomously with `bm.for_loop` (10,000 steps in one
compiled loop).
"""

import sys

sys.path.insert(0, __import__("pathlib").Path(__file__).resolve().parents[1].as_posix())
import _common as C  # noqa: E402

args = C.parse_args(__doc__)
C.configure_jax(args.threads, x64=True)

import time  # noqa: E402

import brainpy as bp  # noqa: E402
import brainpy.math as bm  # noqa: E402
import jax  # noqa: E402
import numpy as np  # noqa: E402

bm.enable_x64()
bm.set_environment(bm.batching_mode, dt=1.0)


class NGRC(bp.DynamicalSystem):
    def __init__(self, s):
        super().__init__()
        self.r = bp.dyn.NVAR(3, delay=s["delay"], order=s["order"], constant=True,
                             mode=bm.batching_mode)
        self.o = bp.dnn.Dense(self.r.num_out, 3, b_initializer=None, mode=bm.training_mode)

    def update(self, x):
        return self.o(self.r(x))


def main():
    s = C.SIZES["w3_ngrc"][args.size]
    traj = C.load_data(args, "w3_ngrc")["traj"]
    w0, t0 = s["warmup"], s["warmup"] + s["train"]
    # BrainPy's trainers take (batch, time, features).
    X_warm = bm.asarray(traj[None, :w0])
    X_train = bm.asarray(traj[None, w0:t0])
    Y_train = bm.asarray(traj[None, w0 + 1:t0 + 1] - traj[None, w0:t0])

    model = NGRC(s)
    trainer = bp.RidgeTrainer(model, alpha=s["ridge"], progress_bar=False)

    def warm_up():
        model.reset_state(1)
        trainer.predict(X_warm)

    def fit():
        trainer.fit([X_train, Y_train])
        jax.block_until_ready(model.o.W.value)

    u = bm.Variable(bm.zeros((1, 3)))

    def step(i):
        u.value = u.value + model(u.value)
        return u.value[0]

    @bm.jit
    def run_forecast():
        return bm.for_loop(step, bm.arange(s["forecast"]))

    def forecast():
        # Restart from the state at the end of training.
        model.reset_state(1)
        trainer.predict(bm.asarray(traj[None, :t0]))
        u.value = bm.asarray(traj[None, t0])
        return jax.block_until_ready(run_forecast())

    warm_up()
    t = time.perf_counter()
    fit()
    fit_first = time.perf_counter() - t
    t = time.perf_counter()
    forecast()
    fc_first = time.perf_counter() - t
    fit_times = C.Timings()
    for _ in range(s["reps"]):
        # The warm-up run (`predict`) is not part of the timed fit.
        warm_up()
        fit_times.measure(fit)
    fc_times, out = C.Timings(), None
    for _ in range(s["reps"]):
        # Only the compiled autonomous loop is timed, not the re-warm-up.
        model.reset_state(1)
        trainer.predict(bm.asarray(traj[None, :t0]))
        u.value = bm.asarray(traj[None, t0])
        out = fc_times.measure(lambda: jax.block_until_ready(run_forecast()))
    out = np.asarray(out)
    score = C.ngrc_score(traj, out, s)
    C.emit("w3_ngrc", "brainpy", dict(
        fit_s=fit_times, forecast_s=fc_times,
        compile_s=fit_first + fc_first - C.median(fit_times) - C.median(fc_times),
        forecast_finite=bool(np.isfinite(out).all()), **score,
        peak_rss_mb=C.peak_rss_mb()), mods=("brainpy", "jax"))


main()
