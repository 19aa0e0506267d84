"""An echo state network forecasting the Mackey-Glass series autonomously.

The Mackey-Glass delay equation (tau = 17, chaotic),

    dx/dt = 0.2 x(t - tau) / (1 + x(t - tau)^10) - 0.1 x(t),

is integrated here with a fixed-step RK4 (step 0.1, the delayed values at half steps
interpolated linearly) and sampled every time unit. A `Reservoir` (leaky tanh units) in
batching mode feeds a `Dense` readout in training mode; the readout is fitted by ridge
regression to predict the next sample (teacher forcing), then the network runs closed
loop, its prediction fed back as its next input. The final line is
`forecast NRMSE: ...` over the first `--horizon` forecast steps (normalised by the
standard deviation of the series).

    python examples/esn_mackey_glass.py [--quick] [--units 500] [--horizon 100]
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np

import funcdyn


def mackey_glass(num: int, *, tau: float = 17.0, h: float = 0.1, sample_every: float = 1.0,
                 x0: float = 1.2, discard: int = 500) -> np.ndarray:
    """`num` samples of the Mackey-Glass series, after `discard` samples of transient."""
    lag = round(tau / h)
    stride = round(sample_every / h)
    total = (num + discard) * stride
    x = np.empty(total + lag + 1)
    x[: lag + 1] = x0  # constant history

    def f(x_t, x_lag):
        return 0.2 * x_lag / (1.0 + x_lag**10) - 0.1 * x_t

    for i in range(lag, lag + total):
        xl0, xl1 = x[i - lag], x[i - lag + 1]
        xlm = 0.5 * (xl0 + xl1)
        xi = x[i]
        k1 = f(xi, xl0)
        k2 = f(xi + 0.5 * h * k1, xlm)
        k3 = f(xi + 0.5 * h * k2, xlm)
        k4 = f(xi + h * k3, xl1)
        x[i + 1] = xi + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x[lag::stride][discard : discard + num]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small reservoir, short series")
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--horizon", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    units = 200 if args.quick else args.units
    train = 1000 if args.quick else args.train
    warmup = 100
    horizon = args.horizon

    series = mackey_glass(warmup + train + horizon + 1)
    mean, std = series.mean(), series.std()
    u = jnp.asarray((series - mean) / std, jnp.float32)[:, None, None]  # (T, batch=1, 1)

    k_res, k_out = jax.random.split(jax.random.key(args.seed))
    reservoir = funcdyn.layers.Reservoir(
        1, units, leaky_rate=0.3, spectral_radius=1.25, input_scaling=1.0,
        b_initializer=funcdyn.init.Uniform(-0.2, 0.2), in_connectivity=1.0,
        rec_connectivity=0.1, mode=funcdyn.batching_mode, key=k_res,
    )
    readout = funcdyn.layers.Dense(units, 1, mode=funcdyn.training_mode, key=k_out)
    model = reservoir >> readout

    # Warm up to forget the zero initial state, then fit x(t) -> x(t+1).
    state, _, _ = funcdyn.run(model, u[:warmup], dt=1.0)
    xs, ys = u[warmup : warmup + train], u[warmup + 1 : warmup + train + 1]
    trainer = funcdyn.train.OfflineTrainer(model, funcdyn.train.RidgeRegression(alpha=1e-6))
    model = trainer.fit(xs, ys, dt=1.0, state=state)
    state, pred, _ = funcdyn.run(model, xs, dt=1.0, state=state)
    train_nrmse = float(jnp.sqrt(jnp.mean((pred - ys) ** 2)))

    # Closed loop from the last observed value.
    x0 = u[warmup + train]
    _, forecast = funcdyn.train.forecast(model, state, x0, horizon, dt=1.0)
    truth = u[warmup + train + 1 : warmup + train + 1 + horizon]
    forecast_nrmse = float(jnp.sqrt(jnp.mean((forecast - truth) ** 2)))
    print(f"Mackey-Glass tau=17: reservoir {units} units, {train} training steps, "
          f"forecast horizon {horizon} steps")
    print(f"training NRMSE: {train_nrmse:.3e}")
    print(f"forecast NRMSE: {forecast_nrmse:.3e}")


if __name__ == "__main__":
    main()
