"""W3 NG-RC on Lorenz63 with reservoirpy: `NVAR(delay=2, order=2, strides=1) >>
Ridge(ridge=2.5e-6)`, fitted with `model.fit(X, dX, warmup=200)` and forecast with the
closed loop of reservoirpy's own NVAR example (`u = u + model(u)`, one call per step).

reservoirpy's NVAR has no constant feature; its Ridge fits an (unregularised) bias
instead, so its readout differs slightly from the other implementations'.
"""

import sys

sys.path.insert(0, __import__("pathlib").Path(__file__).resolve().parents[1].as_posix())
import _common as C  # noqa: E402

args = C.parse_args(__doc__)

import numpy as np  # noqa: E402
from reservoirpy.nodes import NVAR, Ridge  # noqa: E402



def main():
    s = C.SIZES["w3_ngrc"][args.size]
    traj = C.load_data(args, "w3_ngrc")["traj"]
    t0 = s["warmup"] + s["train"]
    X, dX = traj[:t0], traj[1:t0 + 1] - traj[:t0]

    def fit():
        model = NVAR(delay=s["delay"], order=s["order"], strides=1) >> Ridge(ridge=s["ridge"])
        model.fit(X, dX, warmup=s["warmup"])
        return model

    def forecast(model):
        # Each rep forecasts from the same fitted state: a fresh fit restores it.
        u = traj[t0]
        out = np.empty((s["forecast"], 3))
        for k in range(s["forecast"]):
            u = u + np.asarray(model(u)).reshape(-1)
            out[k] = u
        return out

    models, fit_times = [], C.Timings()
    for _ in range(s["reps"]):
        models.append(fit_times.measure(fit))
    fc_times, out = C.Timings(), None
    for m in models:
        o = fc_times.measure(forecast, m)
        out = o if out is None else out
    score = C.ngrc_score(traj, out, s)
    C.emit("w3_ngrc", "reservoirpy", dict(
        fit_s=fit_times, forecast_s=fc_times, compile_s=0.0,
        forecast_finite=bool(np.isfinite(out).all()), **score,
        peak_rss_mb=C.peak_rss_mb()), mods=("reservoirpy", "scipy"))


main()
