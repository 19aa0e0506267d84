"""Event-driven (exact) against time-grid (surrogate) simulation of the Yin-Yang network.

Times one forward + backward pass (value and gradient of the time-to-first-spike loss
with respect to the weights) of the 5-120-3 LIF network of `examples/yin_yang.py` on a
batch of 256 samples, for

- `funcdyn.event` (closed form between events, exact gradients): its cost is the number
  of events (5 input spikes and at most one spike per neuron), independent of any `dt`;
- the same network solved by the general event loop (`ClosedForm(parallel=False)`), to
  show what the parallel solver for neurons that fire at most once saves (not in
  `--quick`);
- the same neuron objects stepped on a time grid with surrogate gradients
  (`examples/yin_yang.py`'s `GridNet`) at `dt = 0.1` and `dt = 0.01`: cost
  proportional to `t1 / dt` steps.

Each is jitted and warmed up, then the calls alternate over rounds; medians (and best
times) are printed with the ratio event / grid (< 1: the event path is faster). It then
prints the first-spike-time error of the grid path against the exact event-driven time
for a single synapse-driven LIF as `dt` shrinks, with the observed order.

    python benchmarks/bench_event.py [--quick] [--rounds 5] [--batch 256]
"""

import argparse
import importlib.util
import pathlib
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import funcdyn as fd
from funcdyn import event as ev

_EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "yin_yang.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("yin_yang_example", _EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _median_time(fn, rounds: int) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return float(np.median(times)), float(np.min(times))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes, few rounds")
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--hidden", type=int, default=None)
    args = p.parse_args(argv)
    yy = _load_example()
    rounds = args.rounds or (2 if args.quick else 5)
    batch = args.batch or (16 if args.quick else 256)
    hidden = args.hidden or (20 if args.quick else 120)
    dts = [0.1] if args.quick else [0.1, 0.01]

    xy, labels = ev.yin_yang(batch, seed=0)
    x = jnp.asarray(yy.encode(xy), jnp.float32)
    y = jnp.asarray(labels)
    net = yy.YinYangNet(hidden, jax.random.key(0))
    grid = yy.grid_from_event(net)

    # The same network solved event by event (the general loop) instead of by the
    # parallel spike-once solver that the example's layers (tau_ref = inf) take.
    loop_net = eqx.tree_at(
        lambda n: (n.hidden.method, n.out.method), net,
        (ev.ClosedForm(parallel=False),) * 2, is_leaf=lambda v: v is None,
    )

    def event_step_for(network):
        @eqx.filter_jit
        def event_step(W):
            def f(W):
                n = eqx.tree_at(yy.event_weights, network, W)
                return yy.loss_fn(yy.event_first_times(n, x), y)

            return jax.value_and_grad(f)(W)

        return event_step

    event_step = event_step_for(net)
    event_loop_step = event_step_for(loop_net)

    def grid_step_for(dt):
        @eqx.filter_jit
        def grid_step(W):
            def f(W):
                g = eqx.tree_at(yy.grid_weights, grid, W)
                first = jax.vmap(lambda t: g.first_times(t, dt))(x)
                return yy.loss_fn(first, y)

            return jax.value_and_grad(f)(W)

        return grid_step

    W = yy.event_weights(net)
    runs = {"event": lambda: event_step(W)}
    if not args.quick:
        # Compiling the loop's gradient takes most of a quick run's time; the tests
        # compare the two solvers' values and gradients.
        runs["event loop"] = lambda: event_loop_step(W)
    for dt in dts:
        runs[f"grid dt={dt}"] = (lambda s: lambda: s(W))(grid_step_for(dt))
    for fn in runs.values():
        jax.block_until_ready(fn())  # compile
    results = {name: [] for name in runs}
    for _ in range(rounds):
        for name, fn in runs.items():
            results[name].append(_median_time(fn, 1)[0])
    med = {k: float(np.median(v)) for k, v in results.items()}
    best = {k: float(np.min(v)) for k, v in results.items()}
    print(f"Yin-Yang 5-{hidden}-3 LIF network, batch {batch}, forward + backward "
          f"({rounds} rounds, {jax.devices()[0].platform}):")
    for name in runs:
        print(f"  {name:14s} median {med[name] * 1e3:9.2f} ms   best {best[name] * 1e3:9.2f} ms")
    if "event loop" in med:
        ratio = med["event"] / med["event loop"]
        print(f"RESULT event.parallel_solver_over_event_loop ratio={ratio:.3f} goal<=1.0")
    for dt in dts:
        ratio = med["event"] / med[f"grid dt={dt}"]
        print(f"RESULT event.fwd_bwd_event_over_grid_dt{dt} ratio={ratio:.3f} goal<=1.0")

    # Spike-time error of the grid path against the exact event-driven time, averaged
    # over input times and weights spread over ranges: a single case can sit so that
    # the grid's crossing lands on the same step for several dt.
    with jax.enable_x64(True):
        tau, tau_s = 10.0, 5.0
        n_cases = 9 if args.quick else 33
        t_in = jnp.linspace(1.0, 2.0, n_cases)
        w_in = jnp.linspace(5.0, 9.0, n_cases)
        neuron = fd.neurons.LIF(1, tau=tau, V_rest=0.0, V_reset=0.0, V_th=1.0)
        layer = ev.Layer(neuron, 1, W_in=jnp.ones((1, 1)), tau_syn=tau_s)

        def first_exact(t, w):
            one = eqx.tree_at(lambda l: l.W_in, layer, w[None, None])
            return one(ev.SpikeTrain(t[None, None]), t1=30.0).first[0]

        exact = np.asarray(jax.vmap(first_exact)(t_in, w_in))
        err_dts = [0.2, 0.1, 0.05] if args.quick else [0.2, 0.1, 0.05, 0.02, 0.01, 0.005]
        errors = []
        for dt in err_dts:
            n = int(round(30.0 / dt))
            decay = np.exp(-dt / tau_s)

            def first_on_grid(t, w, dt=dt, n=n, decay=decay):
                k_in = jnp.round(t / dt).astype(jnp.int32)

                def step(carry, k):
                    s, I = carry
                    I = I * decay + jnp.where(k == k_in, w, 0.0)
                    ctx = fd.Context(t=k.astype(jnp.float64) * dt, i=k, dt=dt)
                    s, spk = neuron(s, I, ctx)
                    return (s, I), spk[0]

                init = (neuron.init_state(), jnp.zeros(1))
                _, spikes = jax.lax.scan(step, init, jnp.arange(n))
                return (jnp.argmax(spikes > 0) + 1) * dt

            grid_t = np.asarray(jax.jit(jax.vmap(first_on_grid))(t_in, w_in))
            errors.append(float(np.mean(np.abs(grid_t - exact))))
        print(f"first spike time of {len(exact)} cases (input at 1..2, weight 5..9): exact "
              f"(event-driven) from {exact.min():.10f} to {exact.max():.10f}")
        for dt, e in zip(err_dts, errors):
            print(f"  grid dt={dt:<6} mean |error| = {e:.3e}")
        order = np.polyfit(np.log(err_dts), np.log(np.maximum(errors, 1e-300)), 1)[0]
        print(f"  observed order of the grid's spike-time error: {order:.2f}")
        print(f"RESULT event.grid_spike_time_error_dt{err_dts[-1]} ratio={errors[-1] / err_dts[-1]:.3f} goal<=1.0")

if __name__ == "__main__":
    main()
