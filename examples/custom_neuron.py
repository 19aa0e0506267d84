"""A custom neuron model defined from its vector field: the quadratic integrate-and-fire
(QIF) neuron,

    tau dV/dt = (V - V_rest)(V - V_c) + R I,     a spike when V >= V_peak, then V <- V_reset,

written as a `funcdyn.DynamicalSystem` in a few lines: the vector field `f(t, V, I)`, a
typed state, `init_state`, and a step that integrates with any diffrax solver (through
`funcdyn.neurons.solver_step`) or with exponential Euler (`funcdyn.neurons.exp_euler_step`),
then spikes with a surrogate gradient and resets.

It then checks the model three ways:

1. Against the closed-form solution. With V_rest = V_c = 0 and constant I > 0,
   `V(t) = sqrt(R I) tan(sqrt(R I) t / tau + arctan(V0 / sqrt(R I)))`. The script prints the
   largest deviation over the first 20 ms for `diffrax.Tsit5()` and for exponential Euler,
   and the first spike time against the exact one.
2. Against the step contract, with `funcdyn.testing.check_contract` (jit, vmap, scan,
   gradients, no recompilation).
3. By training: its parameters are arrays, so `tau` is learned by gradient descent
   through the solver steps (a filter spec selects `tau` alone), recovering the `tau` of
   a target trace.

Prints `max |exact - simulated|: ...` (Tsit5) and `loss: a -> b`; saves a figure to `--out`.

    python examples/custom_neuron.py [--quick] [--out outputs/custom_neuron]
"""

import argparse
import math
import os

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import funcdyn as fd


class QIFState(eqx.Module):
    V: jax.Array
    spike: jax.Array


class QIF(fd.DynamicalSystem):
    """Quadratic integrate-and-fire neurons; the output is the spikes."""

    tau: jax.Array
    V_rest: jax.Array
    V_c: jax.Array
    V_peak: jax.Array
    V_reset: jax.Array
    R: jax.Array
    size: int = eqx.field(static=True)
    solver: diffrax.AbstractSolver | None = eqx.field(static=True)
    spike_fn: fd.surrogate.Surrogate

    def __init__(self, size, tau=10.0, V_rest=0.0, V_c=0.0, V_peak=10.0, V_reset=-2.0, R=1.0,
                 solver=None, spike_fn=fd.surrogate.Sigmoid(), *, mode=None, name=None):
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"QIF: `size` must be a positive int, got {size!r}.")
        self.size = size
        # broadcast=True: a float stays a scalar leaf, an array is per neuron.
        p = lambda v, n: fd.init.parameter(v, (size,), name=n, broadcast=True)  # noqa: E731
        self.tau, self.V_rest, self.V_c = p(tau, "tau"), p(V_rest, "V_rest"), p(V_c, "V_c")
        self.V_peak, self.V_reset, self.R = p(V_peak, "V_peak"), p(V_reset, "V_reset"), p(R, "R")
        self.solver = solver
        self.spike_fn = spike_fn
        self.mode = fd.get_default_mode() if mode is None else mode
        self.name = name

    def vector_field(self, t, V, I):
        """dV/dt; `I` is held constant over a step and passed as the ODE's `args`."""
        return ((V - self.V_rest) * (V - self.V_c) + self.R * I) / self.tau

    def init_state(self, batch_size=None, *, key=None):
        self.check_batch_size(batch_size)
        shape = (self.size,) if batch_size is None else (batch_size, self.size)
        return QIFState(V=jnp.broadcast_to(self.V_reset, shape), spike=jnp.zeros(shape))

    def __call__(self, state, I, ctx):
        I = jnp.broadcast_to(I, state.V.shape)
        if self.solver is None:
            V = fd.neurons.exp_euler_step(self.vector_field, ctx.t, ctx.dt, state.V, I)
        else:
            V = fd.neurons.solver_step(self.solver, self.vector_field, ctx.t, ctx.dt, state.V, I)
        # Past the peak the quadratic term explodes within a step; clipping keeps the
        # state finite before the reset (and the gradient of a clipped value is 0).
        V = jnp.minimum(V, 2.0 * self.V_peak)
        spike = self.spike_fn(V - self.V_peak)
        V = V + (self.V_reset - V) * jax.lax.stop_gradient(spike)
        return QIFState(V=V, spike=spike), spike


def exact_V(t, V0, I, tau):
    """The closed-form potential of dV/dt = (V^2 + I) / tau, before the first spike."""
    s = math.sqrt(I)
    return s * np.tan(s * t / tau + np.arctan(V0 / s))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer training steps (CI)")
    parser.add_argument("--out", default=os.path.join("outputs", "custom_neuron"))
    args = parser.parse_args(argv)

    dt, I, tau, V0 = 0.1, 1.0, 10.0, -2.0
    num_steps = 300
    t = dt * np.arange(1, num_steps + 1)                      # times after each step
    currents = jnp.full((num_steps, 1), I)
    monitor = {"V": lambda s: s.V[..., 0], "spike": lambda s: s.spike[..., 0]}

    # 1. Against the closed form.
    results = {}
    for label, solver in (("Tsit5", diffrax.Tsit5()), ("exponential Euler", None)):
        qif = QIF(1, tau=tau, V_reset=V0, solver=solver)
        _, _, rec = fd.run(qif, currents, dt=dt, monitors=monitor)
        results[label] = rec
        early = t <= 20.0
        err = float(np.max(np.abs(np.asarray(rec["V"])[early] - exact_V(t[early], V0, I, tau))))
        first = t[np.argmax(np.asarray(rec["spike"]) > 0)]
        print(f"{label:18}  max |exact - simulated| over 20 ms: {err:.2e}   "
              f"first spike at {first:.1f} ms")
    s = math.sqrt(I)
    exact_spike = tau / s * (math.atan(10.0 / s) - math.atan(V0 / s))
    print(f"exact first spike (V reaches V_peak = 10): {exact_spike:.2f} ms")
    err = float(np.max(np.abs(np.asarray(results["Tsit5"]["V"])[t <= 20.0]
                              - exact_V(t[t <= 20.0], V0, I, tau))))
    print(f"max |exact - simulated|: {err:.2e}")

    # 2. The step contract, in a batching mode.
    batch_qif = QIF(5, solver=diffrax.Heun(), mode=fd.training_mode)
    fd.testing.check_contract(batch_qif, jnp.ones((3, 5)), dt=dt, batch_size=3)
    print("QIF passes funcdyn.testing.check_contract")

    # 3. Learn tau from a subthreshold target trace (the first 15 ms, before any spike).
    T = 150
    true_model = QIF(1, tau=tau, V_reset=V0, solver=diffrax.Heun(), mode=fd.training_mode)
    xs = jnp.full((T, 1, 1), I)                                      # (T, batch 1, 1 neuron)
    _, _, rec = fd.run(true_model, xs, dt=dt, monitors={"V": lambda s: s.V})
    target = rec["V"]
    model = QIF(1, tau=20.0, V_reset=V0, solver=diffrax.Heun(), mode=fd.training_mode)

    def loss_fn(model, batch, key):
        _, _, rec = fd.run(model, batch, dt=dt, monitors={"V": lambda s: s.V})
        return fd.losses.mean_squared_error(rec["V"], target)

    # In training mode every parameter array is trainable; train only tau here, with a
    # filter spec that selects that one leaf.
    only_tau = jax.tree.map(lambda _: False, model)
    only_tau = eqx.tree_at(lambda m: m.tau, only_tau, replace=True)
    init, step = fd.train.make_step(loss_fn, optax.adam(0.5), filter_spec=only_tau)
    opt_state = init(model)
    losses = []
    for i in range(60 if args.quick else 200):
        model, opt_state, loss, _ = step(model, opt_state, xs, None)
        losses.append(float(loss))
    print(f"learned tau: {float(model.tau):.3f} (target {tau}, started at 20.0)")
    print(f"loss: {losses[0]:.4f} -> {losses[-1]:.2e}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(args.out, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    fine = np.linspace(0, exact_spike, 400)
    ax.plot(fine, exact_V(fine, V0, I, tau), "k", lw=3, alpha=0.3, label="exact (to the peak)")
    for label, rec in results.items():
        ax.plot(t, np.asarray(rec["V"]), lw=1, label=label)
    ax.set(xlabel="time (ms)", ylabel="V", ylim=(-3, 11), title="QIF neuron, I = 1")
    ax.legend()
    fig.tight_layout()
    path = os.path.join(args.out, "custom_neuron.png")
    fig.savefig(path, dpi=110)
    print(f"figure saved to {path}")


if __name__ == "__main__":
    main()
