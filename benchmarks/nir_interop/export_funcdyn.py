"""Phase 1 of the NIR fixtures (funcdyn's environment): funcdyn models exported to NIR.

Writes, under tests/fixtures/nir/, `funcdyn_<case>.nir` and `funcdyn_<case>.npz` (the
input and funcdyn's output spikes). Phase 2 (make_fixtures.py, in the torch environment)
imports these graphs into snnTorch and Norse and records what they compute.

Run: python benchmarks/nir_interop/export_funcdyn.py
"""

import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

import diffrax
import jax
import jax.numpy as jnp
import nir
import numpy as np

import funcdyn
from funcdyn.nir import to_nir

OUT = pathlib.Path(
    os.environ.get("NIR_FIXTURES_OUT")
    or pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "nir"
)
T = 60


def build(case, key):
    k1, k2 = jax.random.split(key)
    euler = diffrax.Euler()
    if case == "snntorch_lif":
        # snnTorch reads NIR with dt = 1e-4 s and r = tau/dt: beta = 1 - dt/tau = 0.9.
        dt = 0.1
        net = funcdyn.Sequential(
            funcdyn.layers.Dense(6, 5, W_initializer=funcdyn.init.Normal(scale=0.6), key=k1),
            funcdyn.neurons.LIF(5, tau=1.0, R=10.0, V_rest=0.0, V_reset=0.0, V_th=1.0,
                                solver=euler, spike_fn=funcdyn.nir.StrictHeaviside()),
        )
        return net, dt
    if case == "snntorch_cubalif":
        dt = 0.1
        net = funcdyn.Sequential(
            funcdyn.layers.Dense(6, 5, W_initializer=funcdyn.init.Normal(scale=0.6), key=k1),
            # alpha = 1 - dt/tau_syn = 0.8 (tau_syn = 0.5 ms), w_in = tau_syn/dt = 5.
            funcdyn.neurons.LeakyIntegrator(5, tau=0.5, R=5.0, V_rest=0.0, solver=euler),
            funcdyn.neurons.LIF(5, tau=1.0, R=10.0, V_rest=0.0, V_reset=0.0, V_th=1.0,
                                solver=euler, spike_fn=funcdyn.nir.StrictHeaviside()),
        )
        return net, dt
    if case == "norse_cubalif":
        # Norse reads NIR with dt = 1e-3 s and r = 1.
        dt = 1.0
        net = funcdyn.Sequential(
            funcdyn.layers.Dense(6, 5, W_initializer=funcdyn.init.Normal(scale=3.0), key=k1),
            funcdyn.neurons.LeakyIntegrator(5, tau=5.0, R=1.0, V_rest=0.0, solver=euler),
            funcdyn.neurons.LIF(5, tau=10.0, R=1.0, V_rest=0.0, V_reset=0.0, V_th=0.2,
                                solver=euler, spike_fn=funcdyn.nir.StrictHeaviside()),
        )
        return net, dt
    raise ValueError(case)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for i, case in enumerate(["snntorch_lif", "snntorch_cubalif", "norse_cubalif"]):
        key = jax.random.key(100 + i)
        net, dt = build(case, key)
        xs = (jax.random.uniform(jax.random.key(200 + i), (T, 6)) < 0.3).astype(jnp.float32)
        _, ys, _ = funcdyn.run(net, xs, dt=dt)
        graph = to_nir(net, dt=dt)
        nir.write(OUT / f"funcdyn_{case}.nir", graph)
        np.savez(OUT / f"funcdyn_{case}.npz", input=np.asarray(xs), spikes=np.asarray(ys), dt=dt)
        print(case, "spikes:", int(np.asarray(ys).sum()))


if __name__ == "__main__":
    main()
