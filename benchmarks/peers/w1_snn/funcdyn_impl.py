"""W1 SNN-BPTT in funcdyn: the seed's network as a `Sequential` of
`funcdyn.synapses.Exponential(100, 200, g_max=W1, tau=10)` (CUBA) `>>`
`funcdyn.neurons.LIF(200, tau=10, V_rest=0, V_reset=0, V_th=1)` `>>`
`funcdyn.synapses.Exponential(200, 2, g_max=W2, tau=10)` `>>`
`funcdyn.neurons.LeakyIntegrator(2, tau=5)`, trained with `funcdyn.train.make_step` on
`funcdyn.train.sequence_loss(funcdyn.losses.cross_entropy_max_over_time)` and Adam(1e-3).

The weights and inputs are those of `jax_impl.py`, the surrogate is the same
(`InverseSquare(alpha=25)`: 1 / (25 |x| + 1)^2), and, as there, only the two weight
matrices are trained (a filter spec selecting the `g_max` arrays; by default training
mode would also train every tau and threshold).
"""

import sys

sys.path.insert(0, __import__("pathlib").Path(__file__).resolve().parents[1].as_posix())
import _common as C  # noqa: E402

args = C.parse_args(__doc__)
C.configure_jax(args.threads)
C.add_repo_to_path(__file__)

import functools  # noqa: E402

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

import funcdyn as fd  # noqa: E402
# The subpackages are imported explicitly in case the top level does not re-export them.
import funcdyn.neurons  # noqa: E402,F401
import funcdyn.synapses  # noqa: E402,F401


def build(s, d):
    mode = fd.training_mode
    return fd.Sequential(
        fd.synapses.Exponential(s["n_in"], s["n_rec"], g_max=jnp.asarray(d["w1"]),
                                tau=s["tau_syn"], mode=mode),
        fd.neurons.LIF(s["n_rec"], tau=s["tau_mem"], V_rest=0.0, V_reset=0.0, V_th=s["V_th"],
                       spike_fn=fd.surrogate.InverseSquare(alpha=25.0), mode=mode),
        fd.synapses.Exponential(s["n_rec"], s["n_out"], g_max=jnp.asarray(d["w2"]),
                                tau=s["tau_syn"], mode=mode),
        fd.neurons.LeakyIntegrator(s["n_out"], tau=s["tau_out"], mode=mode),
    )


def main():
    s = C.SIZES["w1_snn"][args.size]
    d = C.load_data(args, "w1_snn")
    model = build(s, d)
    spec = jax.tree.map(lambda _: False, model)
    spec = eqx.tree_at(lambda m: (m.layers[0].g_max, m.layers[2].g_max), spec,
                       replace=(True, True))
    batch = (jnp.asarray(d["x"]), jnp.asarray(d["y"]))
    loss = fd.train.sequence_loss(
        functools.partial(fd.losses.cross_entropy_max_over_time, time_axis=0), dt=s["dt"],
        time_major=True)
    init, step = fd.train.make_step(loss, optax.adam(s["lr"]), filter_spec=spec, has_aux=True)
    carry = [model, init(model)]
    rss0 = C.current_rss_mb()

    def one():
        m, o, value, _ = step(carry[0], carry[1], batch, None)
        carry[:] = [m, o]
        return float(value)

    m = C.time_training(one, s["steps"])
    C.emit("w1_snn", "funcdyn", dict(m, peak_rss_mb=C.peak_rss_mb(), rss_before_compile_mb=rss0),
           mods=("jax", "equinox", "optax", "funcdyn"))


main()
