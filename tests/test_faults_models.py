"""Fault injection into the models: NaN in inputs, parameters and states; states that
belong to another model; wrong types for flags; numerics at the extremes. Every fault
gives a clear error or a non-finite output, never a quiet wrong value."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcdyn as fd
from funcdyn import neurons as N
from funcdyn import synapses as S
from funcdyn import synouts as O

CTX = fd.Context(dt=0.1)

# -- NaN never hides behind a finite output ----------------------------------------------

SPIKING = {
    "LIF": lambda: N.LIF(3), "IF": lambda: N.IF(3), "ALIF": lambda: N.ALIF(3),
    "ExpIF": lambda: N.ExpIF(3), "AdExIF": lambda: N.AdExIF(3), "QuaIF": lambda: N.QuaIF(3),
    "Izhikevich": lambda: N.Izhikevich(3), "GIF": lambda: N.GIF(3), "HH": lambda: N.HH(3),
    "LIF-refractory": lambda: N.LIF(3, tau_ref=2.0),
}


@pytest.mark.parametrize("name", sorted(SPIKING))
def test_nan_input_gives_nan_spike(name):
    model = SPIKING[name]()
    x = jnp.array([1.0, jnp.nan, 1.0])
    state, spike = eqx.filter_jit(model)(model.init_state(), x, CTX)
    assert bool(jnp.isnan(spike[1])) and bool(jnp.isnan(state.V[1]))
    assert bool(jnp.all(jnp.isfinite(spike[jnp.array([0, 2])])))


@pytest.mark.parametrize("name", sorted(SPIKING))
def test_nan_state_gives_nan_spike(name):
    model = SPIKING[name]()
    state = model.init_state()
    state = eqx.tree_at(lambda s: s.V, state, state.V.at[0].set(jnp.nan))
    _, spike = model(state, jnp.zeros(3), CTX)
    assert bool(jnp.isnan(spike[0]))


def test_nan_parameter_after_training_propagates():
    lif = N.LIF(2, tau=jnp.array([10.0, 10.0]))
    poisoned = eqx.tree_at(lambda m: m.V_th, lif, jnp.array(jnp.nan))
    _, spike = poisoned(poisoned.init_state(), jnp.ones(2), CTX)
    assert bool(jnp.all(jnp.isnan(spike)))


def test_hh_explicit_euler_overflow_is_not_hidden():
    # Forward Euler on HH at dt = 0.1 is unstable for a strong drive: the state blows up;
    # the outputs must say so (non-finite), never read as "no spike".
    hh = N.HH(1, solver=diffrax.Euler())
    _, spikes, V = fd.run(hh, jnp.full((2000, 1), 200.0), dt=0.1, monitors=lambda s: s.V)
    if bool(jnp.all(jnp.isfinite(V))):
        pytest.skip("this drive stayed stable on this platform")
    first_bad = int(jnp.argmax(~jnp.isfinite(V[:, 0])))
    assert not bool(jnp.all(jnp.isfinite(spikes[first_bad:])))


def test_leaky_integrator_nan_input():
    li = N.LeakyIntegrator(2)
    _, V = li(li.init_state(), jnp.array([jnp.nan, 1.0]), CTX)
    assert bool(jnp.isnan(V[0])) and bool(jnp.isfinite(V[1]))


# -- NaN and wrong types at construction --------------------------------------------------

@pytest.mark.parametrize(
    "make, arg",
    [
        (lambda v: N.LIF(2, V_th=v), "V_th"),
        (lambda v: N.LIF(2, V_reset=v), "V_reset"),
        (lambda v: N.LIF(2, V_rest=v), "V_rest"),
        (lambda v: N.LIF(2, R=v), "R"),
        (lambda v: N.LIF(2, tau=v), "tau"),
        (lambda v: N.HH(2, E_Na=v), "E_Na"),
        (lambda v: N.AdExIF(2, delta_T=v), "delta_T"),
        (lambda v: N.LIF(2, V_initializer=v), "V_initializer"),
        (lambda v: S.Exponential(2, 2, g_max=v), "g_max"),
        (lambda v: S.Exponential(2, 2, tau=v), "tau"),
        (lambda v: O.COBA(E=v), "E"),
        (lambda v: O.MgBlock(cc_Mg=v), "cc_Mg"),
    ],
)
def test_nan_parameters_refused(make, arg):
    with pytest.raises(ValueError, match=f"`{arg}`"):
        make(float("nan"))
    with pytest.raises(ValueError, match=f"`{arg}`"):
        make(jnp.array([1.0, jnp.nan]) if arg not in ("E", "cc_Mg") else float("inf"))


def test_flags_refuse_strings():
    with pytest.raises(TypeError, match="`detach_reset` must be a bool"):
        N.LIF(2, detach_reset="no")
    with pytest.raises(TypeError, match="`train_state` must be a bool"):
        N.LIF(2, train_state="yes")
    with pytest.raises(TypeError, match="`time_major` must be a Python bool"):
        fd.run(N.LIF(2), jnp.ones((3, 2)), dt=1.0, time_major="no")
    with pytest.raises(TypeError, match="`V_th` must be a float"):
        N.LIF(2, V_th="1.0")


def test_context_key_must_be_a_key():
    with pytest.raises(TypeError, match="Context.key must be None or a jax.random key"):
        fd.Context(key=123)
    fd.Context(key=jax.random.key(0))
    fd.Context(key=jax.random.PRNGKey(0))


def test_V_initializer_shape_names_the_argument():
    with pytest.raises(ValueError, match="`V_initializer`"):
        N.LIF(3, V_initializer=jnp.zeros(4))
    with pytest.raises(ValueError, match="`V_initializer`"):
        N.LeakyIntegrator(3, V_initializer=jnp.zeros((2, 2)))


# -- every random parameter draws its own numbers -----------------------------------------

def test_random_parameters_draw_from_their_own_keys():
    key = jax.random.key(3)
    u = fd.init.Uniform(5.0, 15.0)
    lif = N.LIF(50, tau=u, V_th=u, V_rest=u, R=u, key=key)
    arrays = [lif.tau, lif.V_th, lif.V_rest, lif.R]
    for i in range(len(arrays)):
        for j in range(i + 1, len(arrays)):
            assert not np.allclose(arrays[i], arrays[j])
    alif = N.ALIF(50, tau=u, tau_a=u, key=key)
    assert not np.allclose(alif.tau, alif.tau_a)
    # Reproducible: the same key gives the same parameters.
    np.testing.assert_array_equal(N.LIF(50, tau=u, key=key).tau, lif.tau)
    rec = N.RecurrentLIF(8, tau=u, key=key)
    assert not np.allclose(rec.neuron.tau, rec.W_rec[0])


# -- a state that belongs to another model is refused -------------------------------------

def test_state_of_another_model_is_refused():
    lif = N.LIF(3)
    alif = N.ALIF(3)
    with pytest.raises(ValueError, match=r"LIF: the state does not belong to this model"):
        lif(alif.init_state(), 1.0, CTX)
    with pytest.raises(ValueError, match=r"expected LIFState"):
        eqx.filter_jit(lif)(N.LIF(4).init_state(), 1.0, CTX)
    with pytest.raises(ValueError, match=r"the state does not belong"):
        N.LIF(3, tau_ref=2.0)(lif.init_state(), 1.0, CTX)  # no refractory time
    with pytest.raises(ValueError, match=r"the state does not belong"):
        lif(None, 1.0, CTX)
    batched = N.LIF(3, mode=fd.batching_mode)
    with pytest.raises(ValueError, match=r"the state does not belong"):
        batched(lif.init_state(), jnp.ones((2, 3)), CTX)


def test_synapse_takes_its_delay_from_itself():
    delayed = S.Exponential(2, 1, g_max=1.0, delay_steps=2)
    plain = S.Exponential(2, 1, g_max=1.0)
    with pytest.raises(ValueError, match=r"delay_steps=2.*does not belong|does not belong"):
        delayed(plain.init_state(), jnp.ones(2), CTX)
    with pytest.raises(ValueError, match=r"Exponential: the state does not belong"):
        plain(delayed.init_state(), jnp.ones(2), CTX)
    wider = S.Exponential(2, 3)
    with pytest.raises(ValueError, match=r"num_post=1"):
        plain(wider.init_state(), jnp.ones(2), CTX)
    with pytest.raises(ValueError, match=r"does not belong"):
        plain(S.DualExponential(2, 1).init_state(), jnp.ones(2), CTX)
    # The delay is exact: the response is shifted by two steps.
    xs = jnp.zeros((5, 2)).at[0].set(1.0)
    _, I_plain, _ = fd.run(plain, xs, dt=1.0)
    _, I_delay, _ = fd.run(delayed, xs, dt=1.0)
    np.testing.assert_allclose(I_delay[2:], I_plain[:3], rtol=1e-6)
    np.testing.assert_array_equal(I_delay[:2], 0.0)


def test_synapses_accept_populations():
    pre, post = N.InputGroup(5), N.LIF(3)
    syn = S.Exponential(pre, post, g_max=0.5)
    assert (syn.num_pre, syn.num_post) == (5, 3)
    with pytest.raises(ValueError, match="`num_pre` is a Dense, which has no population size"):
        S.Exponential(fd.layers.Dense(2, 2, key=jax.random.key(0)), post)


# -- numerics at the extremes ------------------------------------------------------------

def test_reset_lands_on_V_reset_exactly_for_huge_potentials():
    lif = N.LIF(3, V_reset=-5.0, V_th=20.0)
    state = lif.init_state()
    state = eqx.tree_at(lambda s: s.V, state, jnp.array([1e8, 3e30, 25.0], jnp.float32))
    state, spike = lif(state, 0.0, CTX)
    np.testing.assert_array_equal(spike, 1.0)
    np.testing.assert_array_equal(state.V, -5.0)


def test_adex_huge_currents_stay_finite():
    for I in (1e3, 1e6, 1e9):
        for dt in (0.1, 1.0):
            _, spikes, rec = fd.run(N.AdExIF(2), jnp.full((30, 2), I), dt=dt,
                                    monitors=lambda s: (s.V, s.w))
            assert bool(jnp.all(jnp.isfinite(rec[0]))) and bool(jnp.all(jnp.isfinite(rec[1])))
            assert float(spikes.sum()) > 0


# -- trained parameters that leave their range --------------------------------------------

def test_trained_time_constant_out_of_range_raises_under_jit():
    lif = N.LIF(3, tau=jnp.full(3, 10.0), mode=fd.training_mode)
    step = jax.jit(lambda m, s: m(s, jnp.ones((2, 3)), CTX))
    _, spikes = step(lif, lif.init_state(2))  # the normal path
    assert spikes.shape == (2, 3)
    for bad in (-1.0, 0.0, jnp.nan):
        broken = eqx.tree_at(lambda m: m.tau, lif, jnp.array([10.0, bad, 10.0]))
        with pytest.raises(Exception, match=r"trained parameter `tau` left its range"):
            jax.block_until_ready(step(broken, broken.init_state(2)))
    alif = N.ALIF(3, mode=fd.training_mode)
    broken = eqx.tree_at(lambda m: m.tau_a, alif, jnp.array(-5.0))
    with pytest.raises(Exception, match=r"`tau_a` left its range"):
        jax.block_until_ready(jax.jit(lambda m: m(m.init_state(2), jnp.ones((2, 3)), CTX))(
            broken))


# -- initial states are fixed unless train_state ------------------------------------------

def test_array_initial_potential_is_not_trained_unless_train_state():
    V0 = jnp.array([0.1, 0.2, 0.3])
    fixed = N.LIF(3, V_initializer=V0, mode=fd.training_mode)
    spec = fd.trainable(fixed)
    assert spec.V0 is None and fixed.V0 is None
    learned = N.LIF(3, V_initializer=V0, train_state=True, mode=fd.training_mode)
    assert fd.trainable(learned).V0 is True
    np.testing.assert_allclose(learned.init_state(2).V, jnp.broadcast_to(V0, (2, 3)))
    np.testing.assert_allclose(fixed.init_state(2).V, jnp.broadcast_to(V0, (2, 3)))
    # The learned initial potential gets a gradient through the first step.
    def loss(m):
        s, _ = m(m.init_state(2), jnp.zeros((2, 3)), CTX)
        return jnp.sum(s.V)
    grads = eqx.filter_grad(loss)(learned)
    assert bool(jnp.all(grads.V0 != 0))


def test_simulate_refuses_reset_models_and_bad_spans():
    with pytest.raises(ValueError, match="resets its potential"):
        fd.simulate(N.LIF(1), 1.0, 0.0, 10.0)
    with pytest.raises(ValueError, match="`t1` must be after `t0`"):
        fd.simulate(N.HH(1), 1.0, 5.0, 1.0)
    with pytest.raises(TypeError, match="not defined by a vector field"):
        fd.simulate(fd.layers.Dense(1, 1, key=jax.random.key(0)), 1.0, 0.0, 1.0)
