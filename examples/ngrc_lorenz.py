"""Next-generation reservoir computing (NG-RC) forecasting the Lorenz63 system.

Reproduces the Lorenz63 setup of Gauthier, Bollt, Griffith & Barbosa, "Next generation
reservoir computing", Nat. Commun. 12, 5564 (2021):

- data: Lorenz63 (sigma=10, rho=28, beta=8/3) integrated by scipy's RK23 (the
  Bogacki-Shampine 3(2) pair) at its default tolerances (rtol=1e-3, atol=1e-6), sampled
  every dt = 0.025. The result depends on this: the NG-RC learns the one-step map of
  *these* data; on a high-accuracy trajectory the same settings diverge quickly.
- features: NVAR with k = 2 taps, stride s = 1, a constant, the 6 linear and the 21 unique
  quadratic terms: 28 features.
- readout: ridge regression (alpha = 2.5e-6) on 400 points after a 200-point warm-up,
  target x(t+1) - x(t), so the forecast is x(t+1) = x(t) + W O(t).
- score: NRMSE over one Lyapunov time (1.104 time units = 44 steps) of the autonomous
  forecast, normalised by the variance of the whole trajectory.

It runs in float64 (float32 is about ten times worse). The script prints the training
and forecast NRMSE of the paper's split, and with `--offsets N` the same for N warm-up
lengths (200, 220, ..., so N different training windows), ending with lines
`training NRMSE: ...` and `forecast NRMSE: ...` (the medians). It saves a plot of the
forecast against the truth in `--out`.

    python examples/ngrc_lorenz.py [--quick] [--offsets 10] [--out OUT] [--no-plot]
"""

import argparse
import os

import jax


jax.config.update("jax_enable_x64", True)

import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

import funcdyn  # noqa: E402


DT = 0.025
WARMUP = 5.0
TRAIN = 10.0
LYAPUNOV_TIME = 1.104
ALPHA = 2.5e-6
X_INIT = (17.67715816276679, 12.931379185960404, 43.91404334248268)


WARM_STEPS = 10
run = eqx.filter_jit(funcdyn.run)


def lorenz(t, xyz, sigma=10.0, rho=28.0, beta=8.0 / 3.0):
    x, y, z = xyz
    return [sigma * (y - x), x * (rho - z) - y, x * y - beta * z]


def lorenz_data(max_time: float) -> np.ndarray:
    """The Lorenz63 trajectory sampled every DT up to `max_time`, shape `(T, 3)`."""
    num = round(max_time / DT)
    t_eval = np.linspace(0.0, max_time, num + 1)
    sol = solve_ivp(lorenz, (0.0, max_time), X_INIT, t_eval=t_eval, method="RK23")
    return sol.y.T


def build_model(key):
    nvar = funcdyn.layers.NVAR(3, delay=2, order=2, stride=1, constant=True,
                               mode=funcdyn.batching_mode)
    readout = funcdyn.layers.Dense(nvar.num_out, 3, b_initializer=None,
                                   mode=funcdyn.training_mode, key=key)
    return nvar >> readout


def increment(y, x):
    return x + y


def ngrc(data: np.ndarray, warmup_pts: int, train_pts: int, lyap_pts: int, model):
    """Fits on `train_pts` points after `warmup_pts` and forecasts `lyap_pts` points.

    Returns `(train_nrmse, test_nrmse, forecast, truth)`."""
    total_var = np.var(data)
    series = jnp.asarray(data)[:, None, :]  # a batch of one sequence
    trainer = funcdyn.train.OfflineTrainer(model, funcdyn.train.RidgeRegression(ALPHA))
    # The feature at step j uses x(j) and x(j-1); the paper's first training feature is
    # at j = warmup_pts - 1, so the warm-up run ends one step before it.
    start, stop = warmup_pts - 1, warmup_pts - 1 + train_pts
    # The NVAR's state holds only the previous input, so warming up on the last
    # WARM_STEPS points gives the state of the full warm-up (and one compiled loop).
    warm_state, _, _ = run(model, series[start - WARM_STEPS : start], dt=DT)
    xs = series[start:stop]
    ys = series[start + 1 : stop + 1] - xs
    model = trainer.fit(xs, ys, dt=DT, state=warm_state)
    state, increments, _ = run(model, xs, dt=DT, state=warm_state)
    train_pred = xs + increments
    train_nrmse = float(np.sqrt(np.mean((series[start + 1 : stop + 1] - train_pred) ** 2)
                                / total_var))
    # The forecast starts from the last training target, x(warmup + train - 1).
    x0 = series[stop]
    _, predicted = funcdyn.train.forecast(model, state, x0, lyap_pts - 1, dt=DT,
                                          feedback=increment)
    forecast = np.concatenate([np.asarray(x0), np.asarray(predicted[:, 0])], axis=0)
    truth = data[stop : stop + lyap_pts]
    test_nrmse = float(np.sqrt(np.mean((truth - forecast) ** 2) / total_var))
    return train_nrmse, test_nrmse, forecast, truth


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one window, short test span")
    parser.add_argument("--offsets", type=int, default=1,
                        help="number of warm-up lengths (200, 220, ... points)")
    parser.add_argument("--out", default=os.path.join("outputs", "ngrc_lorenz"),
                        help="output folder (default: outputs/ngrc_lorenz)")
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)

    warmup_pts = round(WARMUP / DT)
    train_pts = round(TRAIN / DT)
    lyap_pts = round(LYAPUNOV_TIME / DT)
    offsets = 1 if args.quick else max(1, args.offsets)
    test_time = 3.0 if args.quick else 120.0
    data = lorenz_data(WARMUP + TRAIN + test_time + 20 * DT * offsets)
    print(f"Lorenz63: {data.shape[0]} points, dt={DT}, features: 28, ridge alpha={ALPHA}")

    model = build_model(jax.random.key(0))
    trains, tests = [], []
    for j in range(offsets):
        tr, te, forecast, truth = ngrc(data, warmup_pts + 20 * j, train_pts, lyap_pts, model)
        trains.append(tr)
        tests.append(te)
        print(f"warm-up {warmup_pts + 20 * j} points: training NRMSE {tr:.3e}, "
              f"forecast NRMSE (1 Lyapunov time, {lyap_pts} steps) {te:.3e}")
        if j == 0:
            first = (forecast, truth)

    if not args.no_plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        os.makedirs(args.out, exist_ok=True)
        forecast, truth = first
        t = np.arange(lyap_pts) * DT / LYAPUNOV_TIME
        fig, axes = plt.subplots(3, 1, sharex=True, figsize=(6, 6))
        for k, (ax, label) in enumerate(zip(axes, "xyz")):
            ax.plot(t, truth[:, k], "k", label="truth (RK23)")
            ax.plot(t, forecast[:, k], "r--", label="NG-RC forecast")
            ax.set_ylabel(label)
        axes[0].legend()
        axes[-1].set_xlabel("time (Lyapunov times)")
        fig.tight_layout()
        path = os.path.join(args.out, "ngrc_lorenz.png")
        fig.savefig(path, dpi=120)
        print(f"saved {path}")

    if offsets > 1:
        print(f"forecast NRMSE mean {np.mean(tests):.3e} +- {np.std(tests):.2e} "
              f"over {offsets} windows")
    print(f"training NRMSE: {np.median(trains):.3e}")
    print(f"max training NRMSE: {np.max(trains):.3e}")
    print(f"forecast NRMSE: {np.median(tests):.3e}")


if __name__ == "__main__":
    main()
