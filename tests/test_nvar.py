"""NVAR: contract, features against an independent reference, the NG-RC seed model, errors."""

import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
import pytest

import funcdyn
from funcdyn.layers import Dense, NVAR, NVARState
from funcdyn.testing import check_contract


@eqx.filter_jit
def _run(model, xs):
    return funcdyn.run(model, xs, dt=1.0)[1]


def _reference_features(xs, delay, orders, stride, constant):
    """Features of a whole sequence `xs` (T, d) by explicit loops, zeros before t=0."""
    T, d = xs.shape
    out = []
    for t in range(T):
        lin = []
        for j in range(delay):
            s = t - j * stride
            lin.extend(xs[s] if s >= 0 else np.zeros(d))
        row = [1.0] if constant else []
        row.extend(lin)
        for n in orders:
            for combo in itertools.combinations_with_replacement(range(len(lin)), n):
                row.append(np.prod([lin[i] for i in combo]))
        out.append(row)
    return np.asarray(out)


@pytest.mark.parametrize(
    "kwargs, batching",
    [
        (dict(num_in=3, delay=2, order=2, constant=True), False),
        (dict(num_in=2, delay=3, order=(2, 3), stride=2), True),
    ],
)
def test_contract(kwargs, batching):
    mode = funcdyn.batching_mode if batching else funcdyn.nonbatching_mode
    nvar = NVAR(**kwargs, mode=mode)
    shape = (4, kwargs["num_in"]) if batching else (kwargs["num_in"],)
    x = jax.random.normal(jax.random.key(0), shape)
    check_contract(nvar, x, batch_size=4 if batching else None)


@pytest.mark.parametrize(
    "num_in, delay, order, constant, expected",
    [
        (3, 2, 2, True, 1 + 6 + 21),  # the paper's Lorenz63 feature vector
        (3, 2, 2, False, 6 + 21),
        (2, 3, (2, 3), False, 6 + 21 + 56),
        (4, 1, 3, True, 1 + 4 + 20),
        (1, 4, 2, False, 4 + 10),
    ],
)
def test_num_out(num_in, delay, order, constant, expected):
    nvar = NVAR(num_in, delay, order, constant=constant)
    assert nvar.num_out == expected
    y = jax.eval_shape(nvar, nvar.init_state(), jnp.ones(num_in), funcdyn.Context())[1]
    assert y.shape == (expected,)


@pytest.mark.parametrize(
    "num_in, delay, order, stride, constant",
    [(3, 2, 2, 1, True), (2, 3, (2, 3), 2, False), (1, 4, 2, 5, True)],
)
def test_features_match_reference(num_in, delay, order, stride, constant):
    nvar = NVAR(num_in, delay, order, stride, constant)
    xs = np.asarray(jax.random.normal(jax.random.key(1), (20, num_in)))
    ys = _run(nvar, jnp.asarray(xs))
    orders = (order,) if isinstance(order, int) else order
    expected = _reference_features(xs, delay, orders, stride, constant)
    np.testing.assert_allclose(np.asarray(ys), expected, rtol=1e-5, atol=1e-6)


def test_paper_feature_layout():
    # Gauthier et al.'s Lorenz63 code: [1, x(t), x(t-1), x_i x_j for i <= j] row by row.
    nvar = NVAR(3, 2, 2, constant=True)
    a, b = np.array([1.0, 2.0, 3.0]), np.array([5.0, 7.0, 11.0])
    state, _ = nvar(nvar.init_state(), jnp.asarray(a), funcdyn.Context())
    _, y = nvar(state, jnp.asarray(b), funcdyn.Context())
    lin = np.concatenate([b, a])
    quad = [lin[r] * lin[c] for r in range(6) for c in range(r, 6)]
    np.testing.assert_allclose(np.asarray(y), np.concatenate([[1.0], lin, quad]))


def test_batching_equals_per_sequence():
    nvar_b = NVAR(2, 3, 2, stride=2, mode=funcdyn.batching_mode)
    nvar_n = NVAR(2, 3, 2, stride=2)
    xs = jax.random.normal(jax.random.key(2), (12, 5, 2))
    yb = _run(nvar_b, xs)
    looped = jax.vmap(lambda x: _run(nvar_n, x), in_axes=1, out_axes=1)(xs)
    np.testing.assert_allclose(np.asarray(yb), np.asarray(looped), rtol=1e-6)


def test_state_is_a_shift_buffer():
    nvar = NVAR(1, delay=3, order=2, stride=2)
    assert nvar.window == 5
    state = nvar.init_state()
    assert isinstance(state, NVARState) and state.buffer.shape == (5, 1)
    for v in range(1, 8):
        state, _ = nvar(state, jnp.array([float(v)]), funcdyn.Context())
    np.testing.assert_array_equal(np.asarray(state.buffer[:, 0]), [7.0, 6.0, 5.0, 4.0, 3.0])
    assert NVAR(1, 3, 2, mode=funcdyn.batching_mode).init_state(3).buffer.shape == (3, 3, 1)


def test_no_parameters():
    nvar = NVAR(3, 2, 2, constant=True, mode=funcdyn.batching_mode)
    assert not [leaf for leaf in jtu.tree_leaves(nvar) if eqx.is_array(leaf)]


def test_seed_ngrc_model_trains_only_the_readout():
    # The seed's NG-RC model: NVAR(num_in, delay=4, order=2, stride=5) in batching mode
    # feeding a Dense in training mode.
    nvar = NVAR(3, delay=4, order=2, stride=5, mode=funcdyn.batching_mode)
    readout = Dense(nvar.num_out, 3, mode=funcdyn.training_mode, key=jax.random.key(0))
    model = nvar >> readout
    assert nvar.num_out == 12 + 78
    spec = funcdyn.trainable(model)
    params, _ = eqx.partition(model, spec)
    leaves = [leaf for leaf in jtu.tree_leaves(params) if eqx.is_array(leaf)]
    assert len(leaves) == 2
    assert params.layers[1].W is readout.W and params.layers[1].b is readout.b
    ys = jax.eval_shape(_run, model, jnp.ones((30, 8, 3)))
    assert ys.shape == (30, 8, 3)


def test_linear_features_only_by_default():
    # BrainPy's NVAR(num_in, delay) with order=None: the delayed taps alone.
    nvar = NVAR(2, 3)
    assert nvar.order == () and nvar.num_nonlinear == 0 and nvar.num_out == 6
    assert NVAR(2, 3, None, constant=True).num_out == 7
    xs = jax.random.normal(jax.random.key(3), (7, 2))
    ys = np.asarray(_run(nvar, xs))
    padded = np.concatenate([np.zeros((2, 2)), np.asarray(xs)])
    expected = np.concatenate([padded[2:], padded[1:-1], padded[:-2]], axis=1)
    np.testing.assert_array_equal(ys, expected)



@pytest.mark.parametrize(
    "num_in, delay, order, stride, constant, batch, T",
    [(3, 2, 2, 1, True, 4, 50), (2, 3, (2, 3), 2, False, 4, 7), (1, 1, None, 1, True, None, 5),
     (2, 4, 2, 3, True, None, 3), (2, 3, 2, 2, False, 4, 1)],
)
def test_over_time_equals_the_scan(num_in, delay, order, stride, constant, batch, T):
    # All steps at once (used by OfflineTrainer) gives the loop's values exactly, also
    # with a non-zero starting buffer and fewer steps than the window.
    from funcdyn.layers._nvar import nvar_over_time

    mode = funcdyn.batching_mode if batch else funcdyn.nonbatching_mode
    nvar = NVAR(num_in, delay=delay, order=order, stride=stride, constant=constant, mode=mode)
    shape = nvar.init_state(batch).buffer.shape
    state = NVARState(buffer=jax.random.normal(jax.random.key(1), shape))
    xs = jax.random.normal(jax.random.key(0), (T,) + ((batch,) if batch else ()) + (num_in,))
    final, ys, _ = funcdyn.run(nvar, xs, dt=1.0, state=state)
    final_t, ys_t = nvar_over_time(nvar, state, xs)
    np.testing.assert_array_equal(np.asarray(ys_t), np.asarray(ys))
    np.testing.assert_array_equal(np.asarray(final_t.buffer), np.asarray(final.buffer))
    with pytest.raises(ValueError, match="expects input of shape"):
        nvar_over_time(nvar, state, xs[..., :1] if num_in > 1 else jnp.concatenate([xs, xs], -1))


def test_errors():
    with pytest.raises(ValueError, match="NVAR has no trainable parameters.*TrainingMode"):
        NVAR(3, 2, 2, mode=funcdyn.training_mode)
    with pytest.raises(ValueError, match="NVAR has no trainable parameters.*TrainingMode"):
        NVAR(1, 1, mode=funcdyn.training_mode)
    with funcdyn.training_environment():
        with pytest.raises(ValueError, match="does not support TrainingMode"):
            NVAR(3, 2, 2)
    for delay in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="`delay`.*int >= 1"):
            NVAR(3, delay, 2)
    for order in (1, 0, (1, 2), (2, 2.5)):
        with pytest.raises(ValueError, match="`order` must be an int >= 2"):
            NVAR(3, 2, order)
    with pytest.raises(ValueError, match="`order` is empty"):
        NVAR(3, 2, ())
    with pytest.raises(ValueError, match="repeats"):
        NVAR(3, 2, (2, 3, 2))
    for order in ("2", 2.0):
        with pytest.raises(TypeError, match="`order` must be None .*, an int >= 2 or a seq"):
            NVAR(3, 2, order)
    with pytest.raises(ValueError, match="`num_in` must be a positive int"):
        NVAR(0, 2, 2)
    with pytest.raises(ValueError, match="`stride` must be a positive int"):
        NVAR(3, 2, 2, stride=0)
    with pytest.raises(TypeError, match="`constant` must be a bool"):
        NVAR(3, 2, 2, constant=1)
    nvar = NVAR(3, 2, 2)
    with pytest.raises(ValueError, match=r"expects input of shape \(3,\)"):
        nvar(nvar.init_state(), jnp.ones(4), funcdyn.Context())
    with pytest.raises(ValueError, match="state buffer has shape"):
        nvar(NVARState(buffer=jnp.zeros((3, 3))), jnp.ones(3), funcdyn.Context())
    batched = NVAR(3, 2, 2, mode=funcdyn.batching_mode)
    with pytest.raises(ValueError, match=r"expects input of shape \(batch, 3\)"):
        batched(batched.init_state(2), jnp.ones(3), funcdyn.Context())
    with pytest.raises(ValueError, match="positive int"):
        batched.init_state()
