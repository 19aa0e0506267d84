"""e-prop (`ForwardTrainer(method="eprop")` on an `EPropNetwork`): the generic rule,
computed from forward-mode Jacobians of the neuron step, equals hand-written e-prop
formulas (eligibility traces, learning signals, leaky readout; Bellec et al. 2020) for
LIF and ALIF networks to 1e-6 in float64, with symmetric and random feedback; it is
exact (equal to BPTT) for a feed-forward layer, for any neuron including a user's own;
and every misuse is refused with a clear error."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcdyn as fd
from funcdyn import train

N, N_IN, N_OUT, T, B = 6, 3, 2, 15, 2
ALPHA_SG, V_TH = 5.0, 0.3
TAU, TAU_A, BETA, TAU_OUT = 5.0, 20.0, 0.5, 4.0


def _sg_grad(v):
    # The derivative of funcdyn.surrogate.InverseSquare(alpha).
    return 1.0 / (ALPHA_SG * np.abs(v) + 1.0) ** 2


def _hand_eprop(kind, net, x, labels, feedback):
    """e-prop written out: per-synapse traces eps (one per hidden variable), eligibility
    e, readout-filtered e_bar, learning signal L = (dl/dy) B^T; the mean over the steps
    of sum_t L_t e_bar_t."""
    W_in, W_rec, W_out, b = (np.asarray(v, np.float64) for v in
                             (net.W_in, net.W_rec, net.W_out, net.b_out))
    W_rec = W_rec * (1 - np.eye(N))
    Bfb = W_out if feedback is None else np.asarray(feedback)
    al, rho, kap = np.exp(-1 / TAU), np.exp(-1 / TAU_A), np.exp(-1 / TAU_OUT)
    x = np.asarray(x)
    V, a, z, y = (np.zeros((B, N)), np.zeros((B, N)), np.zeros((B, N)), np.zeros((B, N_OUT)))
    K = 1 if kind == "lif" else 2
    eps = {"in": np.zeros((K, B, N_IN, N)), "rec": np.zeros((K, B, N, N))}
    ebar = {"in": np.zeros((B, N_IN, N)), "rec": np.zeros((B, N, N))}
    grads = {"W_in": 0.0, "W_rec": 0.0, "W_out": 0.0, "b_out": 0.0}
    zbar, bbar = np.zeros((B, N)), 0.0
    for t in range(T):
        pre = {"in": x[:, t], "rec": z}
        I = x[:, t] @ W_in + z @ W_rec
        if kind == "lif":
            # reset="subtract", detach_reset=True: the paper's LIF, v_{t} = a v_{t-1} + ...
            V_pre = al * V + (1 - al) * I
            psi = _sg_grad(V_pre - V_TH)
            z = (V_pre >= V_TH).astype(float)
            V = V_pre - V_TH * z
            for s in eps:
                p = pre[s][:, :, None]
                e = psi[:, None, :] * (al * eps[s][0] + (1 - al) * p)
                eps[s] = (al * eps[s][0] + (1 - al) * p)[None]
                ebar[s] = kap * ebar[s] + (1 - kap) * e
        else:
            # ALIF (funcdyn's default subtractive reset, not detached): the Jacobians of
            # V_pre = a V + (1-a) I, a_pre = rho a, A = V_th + beta a_pre, z = H(V_pre - A),
            # V' = V_pre - A z, a' = a_pre + (1 - rho) z, differentiated by hand.
            V_pre, a_pre = al * V + (1 - al) * I, rho * a
            A = V_TH + BETA * a_pre
            psi = _sg_grad(V_pre - A)
            z = (V_pre >= A).astype(float)
            dz = {"V": psi * al, "a": -psi * BETA * rho, "I": psi * (1 - al)}
            dV = {"V": al - A * psi * al, "a": -BETA * rho * z + A * psi * BETA * rho,
                  "I": (1 - al) * (1 - A * psi)}
            da = {"V": (1 - rho) * psi * al, "a": rho - (1 - rho) * psi * BETA * rho,
                  "I": (1 - rho) * psi * (1 - al)}
            V, a = V_pre - A * z, a_pre + (1 - rho) * z
            for s in eps:
                p = pre[s][:, :, None]
                eV, ea = eps[s]
                c = lambda d: {k: v[:, None, :] for k, v in d.items()}
                dz_, dV_, da_ = c(dz), c(dV), c(da)
                e = dz_["V"] * eV + dz_["a"] * ea + dz_["I"] * p
                eps[s] = np.stack([dV_["V"] * eV + dV_["a"] * ea + dV_["I"] * p,
                                   da_["V"] * eV + da_["a"] * ea + da_["I"] * p])
                ebar[s] = kap * ebar[s] + (1 - kap) * e
        zbar, bbar = kap * zbar + (1 - kap) * z, kap * bbar + (1 - kap)
        y = kap * y + (1 - kap) * (z @ W_out + b)
        p = np.exp(y - y.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        err = (p - np.eye(N_OUT)[np.asarray(labels)]) / B  # d(mean cross-entropy)/dy
        L = err @ Bfb.T
        grads["W_in"] = grads["W_in"] + np.einsum("bj,bij->ij", L, ebar["in"])
        grads["W_rec"] = grads["W_rec"] + np.einsum("bj,bij->ij", L, ebar["rec"]) * (
            1 - np.eye(N))
        grads["W_out"] = grads["W_out"] + np.einsum("bj,bk->jk", zbar, err)
        grads["b_out"] = grads["b_out"] + bbar * err.sum(0)
    return {k: v / T for k, v in grads.items()}


def _cell(kind, **kwargs):
    sg = fd.surrogate.InverseSquare(alpha=ALPHA_SG)
    if kind == "lif":
        return fd.neurons.LIF(N, tau=TAU, V_th=V_TH, V_reset=0.0, reset="subtract",
                              detach_reset=True, spike_fn=sg, mode=fd.batching_mode, **kwargs)
    return fd.neurons.ALIF(N, tau=TAU, tau_a=TAU_A, beta=BETA, V_th=V_TH, spike_fn=sg,
                           mode=fd.batching_mode, **kwargs)


def _net(cell, key, **kwargs):
    return train.EPropNetwork(cell, N_IN, N_OUT, tau_out=TAU_OUT, mode=fd.training_mode,
                              key=key, W_rec_initializer=fd.init.KaimingNormal(scale=1.0),
                              **kwargs)


def _eprop_grads(trainer, net, x, y):
    """One `train_batch` with SGD at learning rate 1: the update is minus the gradient."""
    params, _ = train.partition_trainable(net)
    new, _, _, _ = trainer.train_batch(net, optax.sgd(1.0).init(params), (x, y))
    return jax.tree.map(lambda a, b: a - b, params, train.partition_trainable(new)[0])


@pytest.mark.parametrize("kind", ["lif", "alif"])
@pytest.mark.parametrize("feedback", ["symmetric", "random"])
def test_eprop_equals_hand_written_formulas(kind, feedback):
    with jax.enable_x64(True):
        net = _net(_cell(kind), jax.random.key(0))
        x = jax.random.uniform(jax.random.key(1), (B, T, N_IN), jnp.float64, 0.0, 2.0)
        y = jnp.array([0, 1])
        trainer = train.ForwardTrainer(
            net, fd.losses.cross_entropy, optax.sgd(1.0), method="eprop", feedback=feedback,
            feedback_key=jax.random.key(5) if feedback == "random" else None)
        _, _, spikes = fd.run(net, x, dt=1.0, time_major=False, monitors=lambda s: s.z)
        assert 3 <= float(spikes.sum()) < 0.75 * spikes.size
        fb = None if feedback == "symmetric" else trainer.feedback_matrix
        expected = _hand_eprop(kind, net, x, y, fb)
        got = _eprop_grads(trainer, net, x, y)
        for name, ref in expected.items():
            value = np.asarray(getattr(got, name))
            assert np.max(np.abs(ref)) > 1e-4
            np.testing.assert_allclose(value, ref, rtol=1e-6, atol=1e-6 * np.max(np.abs(ref)))


def _bptt_grads(trainer, model, x, y):
    params, rest = train.partition_trainable(model)
    loss = trainer.bptt_loss()
    return jax.grad(lambda p: loss(eqx.combine(p, rest), (x, y), None)[0])(params)


class QuadraticUnit(fd.DynamicalSystem):
    """A user's own neuron (no derivative written anywhere): a leaky quadratic rate unit
    with a per-neuron time constant, r = tanh(v)."""

    tau: jax.Array
    size: tuple = eqx.field(static=True)

    def __init__(self, n, *, mode=None):
        self.size = (n,)
        self.tau = jnp.linspace(3.0, 6.0, n)
        self.mode = mode if mode is not None else fd.batching_mode

    def init_state(self, batch_size=None, *, key=None):
        return {"v": jnp.zeros((batch_size,) + self.size)}

    def __call__(self, state, I, ctx):
        v = state["v"]
        v = v + ctx.dt / jnp.broadcast_to(self.tau, v.shape) * (-v + 0.3 * v * v + I)
        return {"v": v}, jnp.tanh(v)


@pytest.mark.parametrize("cell_kind", ["alif", "custom"])
def test_eprop_is_exact_without_recurrence(cell_kind):
    """Without recurrent weights nothing couples the neurons, so e-prop's traces are the
    exact influence of each weight: the gradient equals BPTT's. The custom neuron also
    trains its per-neuron time constant."""
    with jax.enable_x64(True):
        if cell_kind == "alif":
            cell = _cell("alif")
        else:
            cell = QuadraticUnit(N, mode=fd.training_mode)
        net = train.EPropNetwork(cell, N_IN, N_OUT, tau_out=TAU_OUT, recurrent=False,
                                 mode=fd.training_mode, key=jax.random.key(2),
                                 W_in_initializer=fd.init.KaimingNormal(scale=0.5))
        x = jax.random.uniform(jax.random.key(3), (B, T, N_IN), jnp.float64, 0.0, 2.0)
        y = jnp.array([1, 0])
        trainer = train.ForwardTrainer(net, fd.losses.cross_entropy, optax.sgd(1.0),
                                       method="eprop")
        got = _eprop_grads(trainer, net, x, y)
        ref = _bptt_grads(trainer, net, x, y)
        leaves_g, leaves_r = jax.tree.leaves(got), jax.tree.leaves(ref)
        assert len(leaves_g) == len(leaves_r) == (3 if cell_kind == "alif" else 4)
        for a, b in zip(leaves_g, leaves_r):
            assert float(jnp.max(jnp.abs(b))) > 1e-5
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7 * float(jnp.max(jnp.abs(b))))


def test_rate_rnn_eprop_is_biased_but_aligned():
    """A rate RNN (a tanh cell): e-prop drops the recurrent paths, so it differs from the
    exact gradient, but it points the same way (cosine > 0.8 here)."""
    with jax.enable_x64(True):
        net = train.EPropNetwork(fd.layers.Activation("tanh", mode=fd.batching_mode), N_IN,
                                 N_OUT, num_hidden=8, tau_out=None, mode=fd.training_mode,
                                 key=jax.random.key(4))
        x = jax.random.normal(jax.random.key(5), (B, T, N_IN), jnp.float64)
        y = jax.random.normal(jax.random.key(6), (B, T, N_OUT), jnp.float64)
        trainer = train.ForwardTrainer(net, fd.losses.mean_squared_error, optax.sgd(1.0),
                                       method="eprop", targets="step")
        got = _eprop_grads(trainer, net, x, y)
        ref = _bptt_grads(trainer, net, x, y)
        g, r = (jnp.concatenate([a.ravel() for a in jax.tree.leaves(t)]) for t in (got, ref))
        cosine = float(g @ r / (jnp.linalg.norm(g) * jnp.linalg.norm(r)))
        assert 0.8 < cosine < 1.0 - 1e-6
        # The readout's gradient is exact.
        np.testing.assert_allclose(got.W_out, ref.W_out, rtol=1e-6)


def test_eprop_memory_does_not_depend_on_T():
    net = _net(_cell("alif"), jax.random.key(0))
    trainer = train.ForwardTrainer(net, fd.losses.cross_entropy, optax.adam(1e-3),
                                   method="eprop")
    # Two hidden variables (V, a) per synapse, one filtered eligibility per synapse, and
    # the readout traces: float32.
    synapses = (N_IN + N) * N
    expected = 4 * (B * (2 * synapses + synapses) + B * N + 1)
    assert trainer.memory_estimate(B) == expected


def test_eprop_refuses_what_it_cannot_learn():
    key = jax.random.key(0)
    opt = optax.sgd(0.1)
    with fd.training_environment():
        seq = fd.layers.Dense(3, 4, key=key) >> fd.neurons.LIF(4)
    with pytest.raises(TypeError, match="method='eprop' learns a funcdyn.train.EPropNetwork"):
        train.ForwardTrainer(seq, fd.losses.cross_entropy, opt, method="eprop")
    nb = train.EPropNetwork(fd.neurons.LIF(4, mode=fd.nonbatching_mode), 3, 2,
                            mode=fd.nonbatching_mode, key=key)
    with pytest.raises(ValueError, match="needs the EPropNetwork in a batching mode"):
        train.ForwardTrainer(nb, fd.losses.cross_entropy, opt, method="eprop",
                             filter_spec=jax.tree.map(eqx.is_inexact_array, nb))
    frozen = train.EPropNetwork(_cell("lif"), 3, 2, mode=fd.batching_mode, key=key)
    with pytest.raises(ValueError, match="no trainable arrays"):
        train.ForwardTrainer(frozen, fd.losses.cross_entropy, opt, method="eprop")
    net = _net(_cell("lif"), key)
    with pytest.raises(ValueError, match="feedback_key"):
        train.ForwardTrainer(net, fd.losses.cross_entropy, opt, method="eprop",
                             feedback="random")
    with pytest.raises(ValueError, match="`feedback` must be 'symmetric' or 'random'"):
        train.ForwardTrainer(net, fd.losses.cross_entropy, opt, method="eprop",
                             feedback="sym")

    class Matrix(QuadraticUnit):
        M: jax.Array

        def __init__(self, n):
            super().__init__(n, mode=fd.training_mode)
            self.M = jnp.zeros((n, n))

    bad = train.EPropNetwork(Matrix(N), 3, 2, mode=fd.training_mode, key=key)
    with pytest.raises(ValueError, match=r"cell\.M has shape \(6, 6\)"):
        train.ForwardTrainer(bad, fd.losses.cross_entropy, opt, method="eprop")

    class TwoCompartment(QuadraticUnit):
        def init_state(self, batch_size=None, *, key=None):
            return {"v": jnp.zeros((batch_size, N, 2))}

        def __call__(self, state, I, ctx):
            v = state["v"] + I[..., None]
            return {"v": v}, v[..., 0]

    two = train.EPropNetwork(TwoCompartment(N, mode=fd.batching_mode), 3, 2,
                             mode=fd.training_mode, key=key)
    trainer = train.ForwardTrainer(two, fd.losses.cross_entropy, opt, method="eprop")
    with pytest.raises(ValueError, match=r"state array of shape \(2, 6, 2\)"):
        trainer.init(two, 2)


def test_eprop_network_checks_its_arguments():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="has its own recurrent weights"):
        train.EPropNetwork(fd.neurons.RecurrentLIF(4, mode=fd.batching_mode, key=key), 3, 2,
                           mode=fd.training_mode, key=key)
    with pytest.raises(ValueError, match="pass `num_hidden`"):
        train.EPropNetwork(fd.layers.Activation("tanh"), 3, 2, key=key)
    with pytest.raises(ValueError, match="`num_out` must be a positive int"):
        train.EPropNetwork(_cell("lif"), 3, 0, mode=fd.training_mode, key=key)
    with pytest.raises(ValueError, match="`tau_out` must be > 0"):
        train.EPropNetwork(_cell("lif"), 3, 2, tau_out=0.0, mode=fd.training_mode, key=key)
    with pytest.raises(ValueError, match="both must batch or both not"):
        train.EPropNetwork(fd.neurons.LIF(4, mode=fd.nonbatching_mode), 3, 2,
                           mode=fd.training_mode, key=key)
    with pytest.raises(ValueError, match="num_hidden`=5 but the cell has 6"):
        train.EPropNetwork(_cell("lif"), 3, 2, num_hidden=5, mode=fd.training_mode, key=key)
    net = _net(_cell("lif"), key)
    state = net.init_state(2)
    with pytest.raises(ValueError, match="takes 3 features"):
        net(state, jnp.zeros((2, 4)), fd.Context(dt=1.0))
