"""W1 SNN-BPTT, hand-written pure JAX: the floor funcdyn is measured against.

The seed's network, one time step (dt = 1 ms, exact exponential decays a = exp(-dt/tau)):

    g1 = a_syn g1 + x_t W1                      input -> hidden exponential synapse (CUBA)
    V  = a_mem V + (1 - a_mem) g1               LIF, V_rest = 0, R = 1 (exponential Euler)
    s  = H(V - V_th)                             spike; surrogate 1 / (alpha |V - V_th| + 1)^2
    V  = V + (V_reset - V) s                     reset to V_reset = 0
    g2 = a_syn g2 + s W2                         hidden -> output exponential synapse
    Vo = a_out Vo + (1 - a_out) g2               leaky-integrator readout

Loss: cross-entropy of max_t Vo against the labels; Adam(1e-3) on (W1, W2).

Written the fastest way measured here (XLA:CPU, one core, process CPU time per step):
the reset as `V + (0 - V) s` rather than `V (1 - s)` (34 vs 51 ms: XLA fuses the former's
backward better) and the surrogate as a `custom_vjp` rather than a `custom_jvp` (30 vs
34 ms). The numbers computed are the same.
Measures: compile time (first call minus a median step), median step time, peak memory.
"""

import sys

sys.path.insert(0, __import__("pathlib").Path(__file__).resolve().parents[1].as_posix())
import _common as C  # noqa: E402

args = C.parse_args(__doc__)
C.configure_jax(args.threads)

import math  # noqa: E402
import time  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

ALPHA = 25.0  # surrogate sharpness, the same in every implementation


@jax.custom_vjp
def spike(v):
    return jnp.where(v >= 0.0, 1.0, 0.0).astype(v.dtype)


def _spike_fwd(v):
    return spike(v), v


def _spike_bwd(v, g):
    return (g / (ALPHA * jnp.abs(v) + 1.0) ** 2,)


spike.defvjp(_spike_fwd, _spike_bwd)


def main():
    s = C.SIZES["w1_snn"][args.size]
    data = C.load_data(args, "w1_snn")
    x, y = jnp.asarray(data["x"]), jnp.asarray(data["y"])
    params = (jnp.asarray(data["w1"]), jnp.asarray(data["w2"]))
    a_syn = math.exp(-s["dt"] / s["tau_syn"])
    a_mem = math.exp(-s["dt"] / s["tau_mem"])
    a_out = math.exp(-s["dt"] / s["tau_out"])
    v_th = s["V_th"]

    def loss_fn(params, x, y):
        w1, w2 = params
        b = x.shape[1]

        def step(carry, x_t):
            g1, v, g2, vo = carry
            g1 = a_syn * g1 + x_t @ w1
            v = a_mem * v + (1.0 - a_mem) * g1
            sp = spike(v - v_th)
            v = v + (0.0 - v) * sp
            g2 = a_syn * g2 + sp @ w2
            vo = a_out * vo + (1.0 - a_out) * g2
            return (g1, v, g2, vo), vo

        n_rec, n_out = w1.shape[1], w2.shape[1]
        init = (jnp.zeros((b, n_rec)), jnp.zeros((b, n_rec)), jnp.zeros((b, n_out)),
                jnp.zeros((b, n_out)))
        _, vos = jax.lax.scan(step, init, x)
        logits = jnp.max(vos, axis=0)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    opt = optax.adam(s["lr"])

    @jax.jit
    def train_step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    opt_state = opt.init(params)
    rss0 = C.current_rss_mb()
    carry = [params, opt_state]

    def one():
        p, o, loss = train_step(*carry, x, y)
        carry[:] = [p, o]
        return float(loss)

    m = C.time_training(one, s["steps"])
    temp_mb = C.xla_temp_mb(train_step, *carry, x, y)
    C.emit("w1_snn", "jax", dict(m, peak_rss_mb=C.peak_rss_mb(), rss_before_compile_mb=rss0,
                                 xla_temp_mb=temp_mb), mods=("jax", "optax"))


main()
