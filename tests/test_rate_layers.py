"""Rate-model layers: RNN/GRU/LSTM cells, convolutions, pooling, reshaping, norms,
activations and the conv LSTM cell."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.signal

import funcdyn as fd
from funcdyn import layers as L

K = jax.random.key(0)
TM = fd.training_mode
NB = fd.nonbatching_mode

# -- contract: every layer in non-batching and in training mode -------------------------

# name -> (constructor taking a mode, the shape of one example, context overrides)
LAYERS = {
    "RNNCell": (lambda m: L.RNNCell(3, 4, mode=m, key=K), (3,)),
    "RNNCell-relu-train_state": (
        lambda m: L.RNNCell(3, 4, activation="relu", train_state=True,
                            state_initializer=fd.init.Normal(mean=0.5), mode=m, key=K), (3,)),
    "GRUCell": (lambda m: L.GRUCell(3, 4, mode=m, key=K), (3,)),
    "LSTMCell": (lambda m: L.LSTMCell(3, 4, mode=m, key=K), (3,)),
    "LSTMCell-train_state": (
        lambda m: L.LSTMCell(3, 4, train_state=True, b_initializer=None, mode=m, key=K), (3,)),
    "Conv1d": (lambda m: L.Conv1d(2, 3, 3, stride=2, padding=1, mode=m, key=K), (7, 2)),
    "Conv2d": (lambda m: L.Conv2d(2, 4, (3, 2), dilation=(1, 2), groups=2, padding="VALID",
                                  mode=m, key=K), (5, 6, 2)),
    "Conv3d": (lambda m: L.Conv3d(1, 2, 2, b_initializer=None, mode=m, key=K), (3, 3, 3, 1)),
    "MaxPool": (lambda m: L.MaxPool(2, mode=m), (4, 4, 2)),
    "MaxPool1d": (lambda m: L.MaxPool1d(3, stride=1, padding="SAME", mode=m), (5, 2)),
    "AvgPool2d": (lambda m: L.AvgPool2d((2, 3), mode=m), (4, 6, 2)),
    "AvgPool3d": (lambda m: L.AvgPool3d(2, padding=1, mode=m), (3, 3, 3, 1)),
    "Flatten": (lambda m: L.Flatten(mode=m), (2, 3, 2)),
    "Unflatten": (lambda m: L.Unflatten(0, (2, 3), mode=m), (6,)),
    "LayerNorm": (lambda m: L.LayerNorm(5, mode=m), (5,)),
    "BatchNorm1d": (lambda m: L.BatchNorm1d(3, mode=m), (4, 3)),
    "BatchNorm2d": (lambda m: L.BatchNorm2d(3, mode=m), (3, 3, 3)),
    "Activation": (lambda m: L.Activation("softplus", mode=m), (4,)),
    "Identity": (lambda m: L.Identity(mode=m), (4,)),
    "ConvLSTMCell": (
        lambda m: L.ConvLSTMCell((4, 4), 2, 2, 3, train_state=True, mode=m, key=K),
        (4, 4, 2)),
}


# The contract of every layer in both modes takes minutes of compilation on two cores:
# this subset, touching every layer file, runs by default; the rest is marked slow.
FAST_NONBATCHING = {"RNNCell-relu-train_state", "LSTMCell", "Conv3d", "MaxPool", "Unflatten",
                    "LayerNorm", "Activation", "Identity"}
FAST_TRAINING = {"RNNCell", "GRUCell", "LSTMCell-train_state", "Conv3d", "MaxPool",
                 "BatchNorm1d", "Identity"}


def _params(fast):
    return [n if n in fast else pytest.param(n, marks=pytest.mark.slow) for n in sorted(LAYERS)]


def _x(shape):
    return jax.random.normal(jax.random.key(7), shape)


@pytest.mark.parametrize("name", _params(FAST_NONBATCHING))
def test_contract_nonbatching(name):
    make, shape = LAYERS[name]
    # BatchNorm in NonBatchingMode only evaluates (fit=False): see test_batchnorm_errors.
    fd.testing.check_contract(make(NB), _x(shape))


@pytest.mark.parametrize("name", _params(FAST_TRAINING))
def test_contract_training(name):
    make, shape = LAYERS[name]
    fit = name.startswith("BatchNorm")
    fd.testing.check_contract(make(TM), _x((3,) + shape), batch_size=3, fit=fit)


@pytest.mark.slow
def test_contract_batchnorm_training_mode_evaluation():
    fd.testing.check_contract(L.BatchNorm2d(3, mode=TM), _x((3, 2, 2, 3)), batch_size=3)


# -- recurrent cells: numerics -----------------------------------------------------------


def test_rnn_cell_matches_numpy(getkey):
    cell = L.RNNCell(3, 5, b_initializer=fd.init.Normal(), mode=fd.batching_mode, key=getkey())
    xs = jax.random.normal(getkey(), (6, 2, 3))
    h0 = jax.random.normal(getkey(), (2, 5))
    _, ys, _ = fd.run(cell, xs, dt=1.0, state=h0)
    Wi, Wh, b = (np.asarray(a, np.float64) for a in (cell.Wi, cell.Wh, cell.b))
    h = np.asarray(h0, np.float64)
    expected = []
    for x in np.asarray(xs, np.float64):
        h = np.tanh(x @ Wi + h @ Wh + b)
        expected.append(h)
    err = np.abs(np.asarray(ys) - np.stack(expected)).max()
    assert err < 1e-5, err


def test_lstm_cell_matches_equinox(getkey):
    ref = eqx.nn.LSTMCell(4, 6, key=getkey())
    cell = L.LSTMCell(4, 6, Wi_initializer=ref.weight_ih.T, Wh_initializer=ref.weight_hh.T,
                      b_initializer=ref.bias, mode=fd.batching_mode)
    xs = jax.random.normal(getkey(), (8, 3, 4))
    state = L.LSTMState(h=jax.random.normal(getkey(), (3, 6)),
                        c=jax.random.normal(getkey(), (3, 6)))
    final, ys, _ = fd.run(cell, xs, dt=1.0, state=state)

    def ref_step(hc, x):
        hc = jax.vmap(ref)(x, hc)
        return hc, hc[0]

    (h_ref, c_ref), ys_ref = jax.lax.scan(ref_step, (state.h, state.c), xs)
    err = max(float(jnp.abs(ys - ys_ref).max()), float(jnp.abs(final.c - c_ref).max()))
    assert err < 1e-5, err
    assert jnp.array_equal(final.h, ys[-1])


def test_gru_cell_matches_equinox(getkey):
    ref = eqx.nn.GRUCell(4, 6, key=getkey())
    cell = L.GRUCell(4, 6, Wi_initializer=ref.weight_ih.T, Wh_initializer=ref.weight_hh.T,
                     b_initializer=ref.bias, bh_initializer=ref.bias_n, mode=fd.batching_mode)
    xs = jax.random.normal(getkey(), (8, 3, 4))
    h0 = jax.random.normal(getkey(), (3, 6))
    _, ys, _ = fd.run(cell, xs, dt=1.0, state=h0)

    def ref_step(h, x):
        h = jax.vmap(ref)(x, h)
        return h, h

    _, ys_ref = jax.lax.scan(ref_step, h0, xs)
    err = float(jnp.abs(ys - ys_ref).max())
    assert err < 1e-5, err


@pytest.mark.parametrize("cls", [L.RNNCell, L.GRUCell, L.LSTMCell])
def test_cells_nonbatching_equals_batching(cls, getkey):
    key = getkey()
    nb, b = cls(3, 4, mode=NB, key=key), cls(3, 4, mode=fd.batching_mode, key=key)
    xs = jax.random.normal(getkey(), (5, 2, 3))
    _, yb, _ = fd.run(b, xs, dt=1.0)
    _, y0, _ = fd.run(nb, xs[:, 0], dt=1.0)
    np.testing.assert_allclose(y0, yb[:, 0], rtol=1e-6, atol=1e-6)


def test_lstm_state_exposes_h_and_c(getkey):
    cell = L.LSTMCell(2, 3, mode=fd.batching_mode, key=getkey())
    state = cell.init_state(4)
    assert isinstance(state, L.LSTMState)
    assert state.h.shape == state.c.shape == (4, 3)
    new, y = cell(state, jnp.ones((4, 2)), fd.Context())
    assert jnp.array_equal(new.h, y) and not jnp.array_equal(new.c, state.c)


# -- recurrent cells: initial states ------------------------------------------------------


@pytest.mark.parametrize("cls", [pytest.param(L.RNNCell, marks=pytest.mark.slow),
                                 pytest.param(L.GRUCell, marks=pytest.mark.slow), L.LSTMCell])
@pytest.mark.standard_promotion
def test_trained_initial_state_survives_reset(cls, getkey):
    """BrainPy re-initialised a learned initial state on reset; here it is a parameter."""
    cell = cls(2, 3, train_state=True, mode=TM, key=getkey())
    assert cell.train_state
    xs = jax.random.normal(getkey(), (4, 5, 2))
    target = jnp.full((4, 5, 3), 0.5)
    params, static = eqx.partition(cell, fd.trainable(cell))
    opt = optax.adam(0.1)
    opt_state = opt.init(params)

    @eqx.filter_jit
    def step(params, opt_state):
        def loss(p):
            _, ys, _ = fd.run(eqx.combine(p, static), xs, dt=1.0)
            return jnp.mean((ys - target) ** 2)

        value, grads = eqx.filter_value_and_grad(loss)(params)
        updates, opt_state = opt.update(grads, opt_state)
        return eqx.apply_updates(params, updates), opt_state, value

    losses = []
    for _ in range(20):
        params, opt_state, value = step(params, opt_state)
        losses.append(float(value))
    trained = eqx.combine(params, static)
    assert losses[-1] < losses[0]
    assert float(jnp.abs(trained.h0).max()) > 0.05  # it moved away from the zero start
    for batch in (5, 2):  # every reset, whatever the batch size, starts from h0
        state = trained.init_state(batch)
        h = state.h if isinstance(state, L.LSTMState) else state
        assert h.shape == (batch, 3)
        np.testing.assert_array_equal(h, jnp.broadcast_to(trained.h0, (batch, 3)))
        if isinstance(state, L.LSTMState):
            np.testing.assert_array_equal(state.c, jnp.broadcast_to(trained.c0, (batch, 3)))


def test_trainable_initial_state_is_selected_only_when_requested(getkey):
    cell = L.LSTMCell(2, 3, train_state=True, mode=TM, key=getkey())
    spec = fd.trainable(cell)
    assert spec.h0 is True and spec.c0 is True
    plain = L.LSTMCell(2, 3, mode=TM, key=getkey())
    assert plain.h0 is None and plain.c0 is None and not plain.train_state
    assert all(isinstance(x, jax.Array) for x in jax.tree_util.tree_leaves(plain))


def test_state_initializers(getkey):
    cell = L.RNNCell(2, 3, state_initializer=jnp.array([1.0, 2.0, 3.0]),
                     mode=fd.batching_mode, key=getkey())
    np.testing.assert_array_equal(cell.init_state(2), [[1.0, 2.0, 3.0]] * 2)
    jax.jit(lambda c: c.init_state(2))(cell)  # the fixed state is static and hashable
    cell = L.GRUCell(2, 3, state_initializer=fd.init.Constant(0.5), key=getkey())
    np.testing.assert_array_equal(cell.init_state(), [0.5] * 3)
    cell = L.LSTMCell(2, 3, state_initializer=fd.init.Normal(), mode=fd.batching_mode,
                      key=getkey())
    s1 = cell.init_state(4, key=jax.random.key(1))
    assert s1.h.shape == (4, 3) and not jnp.array_equal(s1.h, s1.c)
    assert not jnp.array_equal(s1.h[0], s1.h[1])  # drawn per example
    cell = L.LSTMCell(2, 3, train_state=True, state_initializer=0.25, key=getkey())
    np.testing.assert_array_equal(cell.init_state().c, [0.25] * 3)


def test_rnn_activation_by_name_and_callable(getkey):
    key = getkey()
    x = jnp.array([1.0, -2.0])
    by_name = L.RNNCell(2, 3, activation="relu", key=key)
    by_fn = L.RNNCell(2, 3, activation=jax.nn.relu, key=key)
    h = by_name.init_state()
    assert jnp.array_equal(by_name(h, x, fd.Context())[1], by_fn(h, x, fd.Context())[1])
    assert bool(jnp.all(by_name(h, -10 * x, fd.Context())[1] >= 0))


def test_recurrent_cell_errors(getkey):
    with pytest.raises(ValueError, match="RNNCell: `num_in` must be a positive int"):
        L.RNNCell(0, 3, key=getkey())
    with pytest.raises(ValueError, match="LSTMCell: `num_out` must be a positive int"):
        L.LSTMCell(3, -1, key=getkey())
    with pytest.raises(ValueError, match=r"`Wi_initializer` must have shape \(3, 12\)"):
        L.GRUCell(3, 4, Wi_initializer=jnp.ones((3, 4)), key=getkey())
    with pytest.raises(ValueError, match=r"`Wh_initializer` must have shape \(4, 16\)"):
        L.LSTMCell(3, 4, Wh_initializer=jnp.ones((4, 4)), key=getkey())
    with pytest.raises(ValueError, match="pass `key="):
        L.LSTMCell(3, 4)
    with pytest.raises(ValueError, match="RNNCell: `activation` 'nope' is not a function"):
        L.RNNCell(3, 4, activation="nope", key=getkey())
    with pytest.raises(TypeError, match="RNNCell: `activation` must be a callable"):
        L.RNNCell(3, 4, activation=3, key=getkey())
    with pytest.raises(TypeError, match="GRUCell: `train_state` must be a bool"):
        L.GRUCell(3, 4, train_state=1, key=getkey())
    with pytest.raises(ValueError, match="LSTMCell: `state_initializer` cannot be None"):
        L.LSTMCell(3, 4, state_initializer=None, key=getkey())
    with pytest.raises(ValueError, match=r"`state_initializer` has shape \(5,\)"):
        L.RNNCell(3, 4, state_initializer=jnp.ones(5), key=getkey())
    with pytest.raises(ValueError, match="state_initializer.*pass `key="):
        L.RNNCell(3, 4, train_state=True, state_initializer=fd.init.Normal(),
                  Wi_initializer=jnp.ones((3, 4)), Wh_initializer=jnp.ones((4, 4)))
    random_state = L.LSTMCell(3, 4, state_initializer=fd.init.Normal(), key=getkey())
    with pytest.raises(ValueError, match=r"LSTMCell: `state_initializer` Normal is random: "
                                         r"call init_state\(batch_size, key="):
        random_state.init_state()
    cell = L.LSTMCell(3, 4, mode=fd.batching_mode, key=getkey())
    with pytest.raises(ValueError, match="needs the batch size"):
        cell.init_state()
    with pytest.raises(ValueError, match=r"LSTMCell in BatchingMode expects input of shape "
                                         r"\(batch, 3\), got \(3,\)"):
        cell(cell.init_state(2), jnp.ones(3), fd.Context())
    with pytest.raises(ValueError, match=r"LSTMCell: the state `h` has shape \(2, 4\) but the "
                                         r"input needs \(5, 4\)"):
        cell(cell.init_state(2), jnp.ones((5, 3)), fd.Context())
    with pytest.raises(TypeError, match="LSTMCell: the state must be an LSTMState"):
        cell(jnp.zeros((2, 4)), jnp.ones((2, 3)), fd.Context())
    gru = L.GRUCell(3, 4, key=getkey())
    with pytest.raises(ValueError, match=r"GRUCell in NonBatchingMode expects input of shape "
                                         r"\(3,\), got \(2, 3\)"):
        gru(gru.init_state(), jnp.ones((2, 3)), fd.Context())
    with pytest.raises(ValueError, match=r"GRUCell: the state `h` has shape \(5,\)"):
        gru(jnp.zeros(5), jnp.ones(3), fd.Context())


# -- convolutions -------------------------------------------------------------------------


def _to_eqx_weight(W):
    """funcdyn's (*k, in, out) kernel as equinox's (out, in, *k)."""
    n = W.ndim - 2
    return jnp.transpose(W, (n + 1, n) + tuple(range(n)))


CONV_CASES = [
    # (dims, in, out, kernel, stride, padding, dilation, groups, spatial)
    (1, 2, 3, 3, 1, "SAME", 1, 1, (9,)),
    (2, 2, 4, 3, 1, 1, (2, 1), 2, (6, 5)),
    pytest.param((1, 4, 6, 4, 2, ((2, 1),), 2, 2, (11,)), marks=pytest.mark.slow),
    pytest.param((2, 3, 4, (3, 2), (2, 1), "VALID", 1, 1, (7, 6)), marks=pytest.mark.slow),
    pytest.param((2, 3, 2, 2, 2, "SAME", 1, 1, (5, 5)), marks=pytest.mark.slow),
    pytest.param((3, 2, 2, 2, 1, "VALID", 1, 1, (3, 4, 3)), marks=pytest.mark.slow),
    pytest.param((3, 1, 3, 3, 2, "SAME", 1, 1, (5, 4, 4)), marks=pytest.mark.slow),
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_matches_equinox(case, getkey):
    n, cin, cout, k, s, pad, dil, groups, spatial = case
    conv = L.Conv(n, cin, cout, k, stride=s, padding=pad, dilation=dil, groups=groups,
                  b_initializer=fd.init.Normal(), mode=fd.batching_mode, key=getkey())
    eqx_pad = pad if isinstance(pad, (str, int)) else pad
    ref = eqx.nn.Conv(n, cin, cout, k, stride=s, padding=eqx_pad, dilation=dil, groups=groups,
                      key=getkey())
    ref = eqx.tree_at(lambda c: (c.weight, c.bias), ref,
                      (_to_eqx_weight(conv.W), conv.b.reshape((cout,) + (1,) * n)))
    x = jax.random.normal(getkey(), (2,) + spatial + (cin,))
    _, y = conv(None, x, fd.Context())
    y_ref = jax.vmap(lambda xi: jnp.moveaxis(ref(jnp.moveaxis(xi, -1, 0)), 0, -1))(x)
    assert y.shape == y_ref.shape == (2,) + conv.out_shape(spatial) + (cout,)
    err = float(jnp.abs(y - y_ref).max())
    assert err < 1e-5, err


def test_conv2d_matches_scipy_correlation(getkey):
    conv = L.Conv2d(2, 3, (3, 4), padding="VALID", key=getkey())
    x = jax.random.normal(getkey(), (6, 7, 2))
    _, y = conv(None, x, fd.Context())
    xn, Wn = np.asarray(x, np.float64), np.asarray(conv.W, np.float64)
    ref = np.stack(
        [sum(scipy.signal.correlate(xn[..., c], Wn[..., c, o], mode="valid") for c in range(2))
         for o in range(3)], axis=-1)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_conv_fixed_dimension_classes(getkey):
    assert L.Conv1d(2, 3, 3, key=getkey()).W.shape == (3, 2, 3)
    assert L.Conv2d(2, 3, (3, 1), key=getkey()).W.shape == (3, 1, 2, 3)
    c3 = L.Conv3d(4, 6, 2, groups=2, key=getkey())
    assert c3.W.shape == (2, 2, 2, 2, 6) and c3.num_spatial_dims == 3
    x = jax.random.normal(getkey(), (3, 3, 3, 4))
    _, y = c3(None, x, fd.Context())
    assert y.shape == (3, 3, 3, 6)
    # Reference: "SAME" with an even kernel pads (0, 1) on each axis (XLA's convention);
    # output channel o belongs to group o // 3 and sees input channels 2g, 2g + 1.
    xn = np.pad(np.asarray(x, np.float64), ((0, 1), (0, 1), (0, 1), (0, 0)))
    Wn = np.asarray(c3.W, np.float64)
    ref = np.zeros((3, 3, 3, 6))
    for o in range(6):
        g = o // 3
        for c in range(2):
            ref[..., o] += scipy.signal.correlate(xn[..., 2 * g + c], Wn[..., c, o], mode="valid")
    ref += np.asarray(c3.b, np.float64)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    # Conv1d on a ramp: a centred 3-tap correlation with zero padding at the ends.
    c1 = L.Conv1d(1, 1, 3, W_initializer=jnp.array([1.0, -2.0, 3.0]).reshape(3, 1, 1))
    _, y1 = c1(None, jnp.arange(1.0, 6.0).reshape(5, 1), fd.Context())
    np.testing.assert_allclose(y1[:, 0], [0 - 2 * 1 + 3 * 2, 1 - 4 + 9, 2 - 6 + 12, 3 - 8 + 15,
                                          4 - 10 + 0])


def test_conv_errors(getkey):
    with pytest.raises(ValueError, match="Conv: `num_spatial_dims` must be 1, 2 or 3"):
        L.Conv(4, 1, 1, 3, key=getkey())
    with pytest.raises(ValueError, match="Conv2d: `in_channels` must be a positive int"):
        L.Conv2d(0, 1, 3, key=getkey())
    with pytest.raises(ValueError, match="Conv1d: `kernel_size` must be a positive int or a "
                                         "sequence of 1 positive ints"):
        L.Conv1d(1, 1, (3, 3), key=getkey())
    with pytest.raises(ValueError, match="Conv2d: `kernel_size` must be"):
        L.Conv2d(1, 1, 0, key=getkey())
    with pytest.raises(ValueError, match="Conv2d: `stride` must be"):
        L.Conv2d(1, 1, 3, stride=(1, 0), key=getkey())
    with pytest.raises(ValueError, match="Conv2d: `dilation` must be"):
        L.Conv2d(1, 1, 3, dilation=1.5, key=getkey())
    for bad in ("FULL", -1, (1, 2, 3), ((1, 2, 3), 1), 1.5):
        with pytest.raises(ValueError, match="Conv2d: `padding` must be 'SAME', 'VALID'"):
            L.Conv2d(1, 1, 3, padding=bad, key=getkey())
    with pytest.raises(ValueError, match=r"Conv2d: `groups` \(2\) must divide both "
                                         r"in_channels \(3\)"):
        L.Conv2d(3, 4, 3, groups=2, key=getkey())
    with pytest.raises(ValueError, match=r"`W_initializer` must have shape \(3, 3, 2, 4\)"):
        L.Conv2d(2, 4, 3, W_initializer=jnp.ones((3, 3, 4, 2)))
    conv = L.Conv2d(2, 4, 3, padding="VALID", mode=fd.batching_mode, key=getkey())
    with pytest.raises(ValueError, match=r"Conv2d in BatchingMode expects input of shape "
                                         r"\(batch, s1, s2, 2\) \(channels last\), got "
                                         r"\(5, 5, 2\)"):
        conv(None, jnp.ones((5, 5, 2)), fd.Context())
    with pytest.raises(ValueError, match=r"got \(1, 5, 5, 3\)"):
        conv(None, jnp.ones((1, 5, 5, 3)), fd.Context())
    with pytest.raises(ValueError, match=r"Conv2d: the input's spatial shape \(2, 5\) is "
                                         r"smaller than the \(dilated\) kernel"):
        conv(None, jnp.ones((1, 2, 5, 2)), fd.Context())


# -- pooling ------------------------------------------------------------------------------


def _np_pads(size, k, s, padding):
    if padding == "VALID":
        return 0, 0
    if padding == "SAME":
        out = -(-size // s)
        total = max((out - 1) * s + k - size, 0)
        return total // 2, total - total // 2
    return padding


def _np_pool(x, kernel, stride, padding, reduce):
    """A direct NumPy pool over the leading len(kernel) axes of one example."""
    n = len(kernel)
    pads = [_np_pads(x.shape[a], kernel[a], stride[a],
                     padding if isinstance(padding, str) else padding[a]) for a in range(n)]
    fill = -np.inf if reduce is np.max else 0.0
    xp = np.pad(x, pads + [(0, 0)], constant_values=fill)
    out_shape = [(xp.shape[a] - kernel[a]) // stride[a] + 1 for a in range(n)]
    out = np.empty(out_shape + [x.shape[-1]])
    for idx in np.ndindex(*out_shape):
        window = tuple(slice(i * s, i * s + k) for i, s, k in zip(idx, stride, kernel))
        out[idx] = reduce(xp[window].reshape(-1, x.shape[-1]), axis=0)
    return out


POOL_CASES = [
    # (class, kwargs, kernel, stride, padding for the reference, example shape)
    (L.MaxPool1d, dict(kernel_size=2), (2,), (2,), "VALID", (7, 3)),
    (L.MaxPool2d, dict(kernel_size=3, stride=2, padding="SAME"), (3, 3), (2, 2), "SAME",
     (6, 5, 2)),
    (L.MaxPool, dict(kernel_size=(2, 3), stride=1, padding=((1, 0), (1, 1))), (2, 3), (1, 1),
     ((1, 0), (1, 1)), (4, 4, 2)),
    (L.MaxPool3d, dict(kernel_size=2, padding=1), (2, 2, 2), (2, 2, 2),
     ((1, 1), (1, 1), (1, 1)), (3, 4, 3, 2)),
    (L.AvgPool1d, dict(kernel_size=3, stride=1, padding="SAME"), (3,), (1,), "SAME", (6, 2)),
    pytest.param((L.AvgPool2d, dict(kernel_size=2), (2, 2), (2, 2), "VALID", (5, 4, 3)),
                 marks=pytest.mark.slow),
    pytest.param((L.AvgPool, dict(kernel_size=2, stride=1), (2, 2), (1, 1), "VALID", (4, 3, 2)),
                 marks=pytest.mark.slow),
    pytest.param((L.AvgPool3d, dict(kernel_size=(1, 2, 2), stride=(1, 1, 2)), (1, 2, 2),
                  (1, 1, 2), "VALID", (2, 3, 4, 1)), marks=pytest.mark.slow),
]


def _pool_id(case):
    return case[0].__name__ if isinstance(case, tuple) else None


@pytest.mark.parametrize("case", POOL_CASES, ids=_pool_id)
def test_pool_matches_numpy(case, getkey):
    cls, kwargs, kernel, stride, padding, shape = case
    pool = cls(**kwargs, mode=fd.batching_mode)
    x = jax.random.normal(getkey(), (2,) + shape)
    _, y = pool(None, x, fd.Context())
    reduce = np.max if issubclass(cls, L.MaxPool) else np.mean
    ref = np.stack([_np_pool(np.asarray(xi, np.float64), kernel, stride, padding, reduce)
                    for xi in x])
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=1e-6, atol=1e-6)


def test_avg_pool_counts_padding_as_zeros():
    pool = L.AvgPool1d(2, padding=((1, 0),))
    _, y = pool(None, jnp.array([[2.0], [4.0], [6.0]]), fd.Context())
    np.testing.assert_allclose(y[:, 0], [1.0, 5.0])


def test_max_pool_gradient_goes_to_the_maximum():
    pool = L.MaxPool1d(2)
    x = jnp.array([[1.0], [3.0], [2.0], [0.0]])
    g = jax.grad(lambda x: pool(None, x, fd.Context())[1].sum())(x)
    np.testing.assert_array_equal(g[:, 0], [0.0, 1.0, 1.0, 0.0])


def test_generic_pool_infers_the_spatial_axes():
    pool = L.MaxPool(2, mode=fd.batching_mode)
    assert pool(None, jnp.ones((1, 4, 3)), fd.Context())[1].shape == (1, 2, 3)
    assert pool(None, jnp.ones((1, 4, 6, 3)), fd.Context())[1].shape == (1, 2, 3, 3)
    assert pool(None, jnp.ones((1, 4, 4, 4, 3)), fd.Context())[1].shape == (1, 2, 2, 2, 3)
    assert L.MaxPool((2, 2)).num_spatial_dims == 2


def test_pool_errors():
    with pytest.raises(ValueError, match="MaxPool2d: `kernel_size` must be a positive int"):
        L.MaxPool2d(0)
    with pytest.raises(ValueError, match="AvgPool1d: `stride` must be"):
        L.AvgPool1d(2, stride=(1, 1))
    with pytest.raises(ValueError, match="MaxPool3d: `padding` must be 'SAME', 'VALID'"):
        L.MaxPool3d(2, padding="full")
    with pytest.raises(ValueError, match="AvgPool: `num_spatial_dims` must be 1, 2 or 3"):
        L.AvgPool((2, 2, 2, 2))
    with pytest.raises(ValueError, match="MaxPool: with an int `kernel_size` and no "
                                         "`num_spatial_dims`, `padding` must be"):
        L.MaxPool(2, padding=(1, 1))
    with pytest.raises(ValueError, match="MaxPool: `kernel_size` must be"):
        L.MaxPool(-2)
    pool = L.MaxPool2d(2, mode=fd.batching_mode)
    with pytest.raises(ValueError, match=r"MaxPool2d in BatchingMode expects input of shape "
                                         r"\(batch, s1, s2, channels\), got \(4, 4, 2\)"):
        pool(None, jnp.ones((4, 4, 2)), fd.Context())
    with pytest.raises(ValueError, match=r"MaxPool2d: the input's spatial shape \(1, 4\) is "
                                         r"smaller than the window \(2, 2\)"):
        pool(None, jnp.ones((1, 1, 4, 2)), fd.Context())
    with pytest.raises(ValueError, match=r"MaxPool in NonBatchingMode pools every axis before "
                                         r"the channel \(last\) axis, 1 to 3 of them"):
        L.MaxPool(2)(None, jnp.ones(4), fd.Context())
    with pytest.raises(ValueError, match=r"MaxPool in BatchingMode pools every axis after the "
                                         r"batch axis before the channel"):
        L.MaxPool(2, mode=fd.batching_mode)(None, jnp.ones((1, 2, 2, 2, 2, 1)), fd.Context())


# -- reshaping ----------------------------------------------------------------------------


def test_flatten_and_unflatten_round_trip():
    x = jnp.arange(2 * 3 * 4 * 5.0).reshape(2, 3, 4, 5)
    flat = L.Flatten(mode=fd.batching_mode)
    _, y = flat(None, x, fd.Context())
    assert y.shape == (2, 60)
    _, back = L.Unflatten(0, (3, 4, 5), mode=fd.batching_mode)(None, y, fd.Context())
    assert jnp.array_equal(back, x)
    _, y = L.Flatten(1, -1)(None, x[0], fd.Context())
    assert y.shape == (3, 20) and jnp.array_equal(y, x[0].reshape(3, 20))
    _, y = L.Flatten(-3, -2, mode=fd.batching_mode)(None, x, fd.Context())
    assert y.shape == (2, 12, 5)
    _, y = L.Unflatten(-1, (2, 10))(None, x[0].reshape(3, 20), fd.Context())
    assert y.shape == (3, 2, 10)
    # Flatten in non-batching mode is the same maths as in batching mode, per example.
    assert jnp.array_equal(L.Flatten()(None, x[1], fd.Context())[1], x[1].reshape(-1))


def test_flatten_errors():
    with pytest.raises(TypeError, match="Flatten: `start_dim` must be an int"):
        L.Flatten(0.5)
    with pytest.raises(ValueError, match=r"Flatten: `start_dim` \(2\) must not come after "
                                         r"`end_dim` \(1\)"):
        L.Flatten(2, 1)
    with pytest.raises(ValueError, match=r"Flatten: `end_dim=3` is out of range for an input "
                                         r"of shape \(2, 3, 4\) in BatchingMode \(2 axes"):
        L.Flatten(0, 3, mode=fd.batching_mode)(None, jnp.ones((2, 3, 4)), fd.Context())
    with pytest.raises(ValueError, match=r"Flatten: `start_dim` \(-1\) comes after `end_dim`"):
        L.Flatten(-1, 0)(None, jnp.ones((2, 3)), fd.Context())
    with pytest.raises(ValueError, match="Unflatten: `sizes` must be a non-empty sequence"):
        L.Unflatten(0, ())
    with pytest.raises(ValueError, match="Unflatten: `sizes` must be"):
        L.Unflatten(0, (2, 0))
    with pytest.raises(TypeError, match="Unflatten: `dim` must be an int"):
        L.Unflatten("0", (2, 3))
    with pytest.raises(ValueError, match=r"Unflatten: axis 0 of the input has size 7, which "
                                         r"cannot be split into \(2, 3\)"):
        L.Unflatten(0, (2, 3))(None, jnp.ones(7), fd.Context())
    with pytest.raises(ValueError, match=r"Unflatten: `dim=1` is out of range"):
        L.Unflatten(1, (2, 3))(None, jnp.ones(6), fd.Context())


# -- normalisation ------------------------------------------------------------------------


def test_layer_norm_matches_formula(getkey):
    norm = L.LayerNorm((3, 4), scale_initializer=fd.init.Normal(),
                       bias_initializer=fd.init.Normal(), mode=fd.batching_mode, key=getkey())
    x = jax.random.normal(getkey(), (2, 5, 3, 4)) * 3 + 1
    _, y = norm(None, x, fd.Context())
    xn = np.asarray(x, np.float64)
    mean = xn.mean(axis=(-2, -1), keepdims=True)
    var = xn.var(axis=(-2, -1), keepdims=True)
    ref = (xn - mean) / np.sqrt(var + 1e-5) * np.asarray(norm.scale) + np.asarray(norm.bias)
    err = np.abs(np.asarray(y) - ref).max()
    assert err < 1e-5, err
    _, y = L.LayerNorm(4, scale_initializer=None, bias_initializer=None)(None, x[0, 0],
                                                                         fd.Context())
    np.testing.assert_allclose(y.mean(-1), 0.0, atol=1e-6)
    np.testing.assert_allclose(y.var(-1), 1.0, rtol=1e-4)


def test_batch_norm_batch_statistics_and_running_update(getkey):
    bn = L.BatchNorm2d(3, momentum=0.9, scale_initializer=jnp.array([1.0, 2.0, 0.5]),
                       bias_initializer=jnp.array([0.0, 1.0, -1.0]), mode=TM)
    x = jax.random.normal(getkey(), (4, 5, 6, 3)) * jnp.array([1.0, 2.0, 3.0])[None, None, None]
    x = x + 2.0
    state = bn.init_state(4)
    new, y = bn(state, x, fd.Context(fit=True))
    xn = np.asarray(x, np.float64)
    mean, var = xn.mean(axis=(0, 1, 2)), xn.var(axis=(0, 1, 2))
    ref = (xn - mean) / np.sqrt(var + 1e-5) * [1.0, 2.0, 0.5] + [0.0, 1.0, -1.0]
    assert np.abs(np.asarray(y) - ref).max() < 1e-5
    np.testing.assert_allclose(new.mean, 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(new.var, 0.9 + 0.1 * var, rtol=1e-5)
    # Evaluation uses the running statistics and leaves them unchanged.
    same, y_eval = bn(new, x, fd.Context(fit=False))
    assert same is new
    ref_eval = (xn - np.asarray(new.mean)) / np.sqrt(np.asarray(new.var) + 1e-5)
    ref_eval = ref_eval * [1.0, 2.0, 0.5] + [0.0, 1.0, -1.0]
    assert np.abs(np.asarray(y_eval) - ref_eval).max() < 1e-4


def test_batch_norm_running_statistics_converge(getkey):
    bn = L.BatchNorm1d(2, momentum=0.8, mode=fd.batching_mode)
    xs = np.random.default_rng(0).normal([1.0, -3.0], [2.0, 0.5], (200, 64, 2))
    xs = jnp.asarray(xs, jnp.float32)
    final, _, _ = fd.run(bn, xs, dt=1.0, fit=True)
    np.testing.assert_allclose(final.mean, [1.0, -3.0], atol=0.15)
    np.testing.assert_allclose(final.var, [4.0, 0.25], rtol=0.15)
    # Sequences (batch, length, features): statistics over batch and length.
    seq = L.BatchNorm1d(2, mode=fd.batching_mode)
    _, y = seq(seq.init_state(3), xs[:3].transpose(1, 0, 2)[:5], fd.Context(fit=True))
    np.testing.assert_allclose(y.reshape(-1, 2).mean(0), 0.0, atol=1e-5)


def test_batch_norm_state_has_no_batch_axis():
    state = L.BatchNorm2d(4, mode=TM).init_state(8)
    assert isinstance(state, L.BatchNormState)
    assert state.mean.shape == state.var.shape == (4,)
    assert L.BatchNorm1d(4).init_state().mean.shape == (4,)


def test_norm_errors():
    with pytest.raises(ValueError, match="LayerNorm: `normalized_shape` must be a positive int"):
        L.LayerNorm(0)
    with pytest.raises(ValueError, match="LayerNorm: `normalized_shape` must be"):
        L.LayerNorm(())
    with pytest.raises(ValueError, match="LayerNorm: `epsilon` must be > 0, got 0.0"):
        L.LayerNorm(3, epsilon=0.0)
    with pytest.raises(ValueError, match=r"`scale_initializer` must have shape \(3,\)"):
        L.LayerNorm(3, scale_initializer=jnp.ones(4))
    with pytest.raises(ValueError, match=r"LayerNorm in BatchingMode expects input of shape "
                                         r"\(batch, \.\.\., 3\), got \(3,\)"):
        L.LayerNorm(3, mode=fd.batching_mode)(None, jnp.ones(3), fd.Context())
    with pytest.raises(ValueError, match=r"got \(2, 4\)"):
        L.LayerNorm(3)(None, jnp.ones((2, 4)), fd.Context())
    with pytest.raises(ValueError, match="BatchNorm1d: `num_features` must be a positive int"):
        L.BatchNorm1d(0)
    with pytest.raises(ValueError, match=r"BatchNorm2d: `momentum` must be in \[0, 1\)"):
        L.BatchNorm2d(3, momentum=1.0)
    with pytest.raises(ValueError, match="BatchNorm2d: `epsilon` must be > 0, got -1e-05"):
        L.BatchNorm2d(3, epsilon=-1e-5)
    bn = L.BatchNorm2d(3, mode=TM)
    with pytest.raises(ValueError, match=r"BatchNorm2d in TrainingMode expects input of shape "
                                         r"\(batch, height, width, 3\) \(channels last\), got "
                                         r"\(2, 4, 3\)"):
        bn(bn.init_state(2), jnp.ones((2, 4, 3)), fd.Context())
    bn1 = L.BatchNorm1d(3, mode=TM)
    with pytest.raises(ValueError, match=r"\(batch, 3\) or \(batch, length, 3\)"):
        bn1(bn1.init_state(2), jnp.ones((2, 4)), fd.Context())
    with pytest.raises(TypeError, match="BatchNorm1d: the state must be a BatchNormState"):
        bn1(None, jnp.ones((2, 3)), fd.Context())
    nb = L.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"BatchNorm1d: batch statistics \(ctx.fit=True\) "
                                         r"need a batch axis"):
        nb(nb.init_state(), jnp.ones(3), fd.Context(fit=True))


# -- activations --------------------------------------------------------------------------


def test_activation_and_identity():
    x = jnp.array([-1.0, 0.5, 2.0])
    assert jnp.array_equal(L.Activation("relu")(None, x, fd.Context())[1], jax.nn.relu(x))
    assert jnp.array_equal(L.Activation(jnp.tanh)(None, x, fd.Context())[1], jnp.tanh(x))
    assert jnp.array_equal(L.Activation("exp")(None, x, fd.Context())[1], jnp.exp(x))
    assert L.Identity()(None, x, fd.Context())[1] is x
    net = L.Identity(mode=fd.batching_mode) >> L.Activation("sigmoid", mode=fd.batching_mode)
    _, y = net(net.init_state(2), jnp.stack([x, x]), fd.Context())
    np.testing.assert_allclose(y[1], jax.nn.sigmoid(x))
    assert jax.tree_util.tree_leaves(L.Activation("relu")) == []


def test_activation_errors():
    with pytest.raises(ValueError, match="Activation: `fn` 'relux' is not a function of "
                                         "jax.nn or jax.numpy"):
        L.Activation("relux")
    with pytest.raises(TypeError, match="Activation: `fn` must be a callable or a name"):
        L.Activation(None)


# -- conv LSTM ----------------------------------------------------------------------------


def _np_same_conv(x, W):
    """SAME cross-correlation of (H, W, Cin) with an odd (kh, kw, Cin, Cout) kernel."""
    return np.stack(
        [sum(scipy.signal.correlate(x[..., c], W[..., c, o], mode="same")
             for c in range(W.shape[-2])) for o in range(W.shape[-1])], axis=-1)


def test_conv_lstm_matches_numpy(getkey):
    cell = L.ConvLSTMCell((5, 4), 2, 3, (3, 3), b_initializer=fd.init.Normal(),
                          mode=fd.batching_mode, key=getkey())
    xs = jax.random.normal(getkey(), (3, 2, 5, 4, 2))
    state = L.LSTMState(h=jax.random.normal(getkey(), (2, 5, 4, 3)) * 0.5,
                        c=jax.random.normal(getkey(), (2, 5, 4, 3)) * 0.5)
    final, ys, _ = fd.run(cell, xs, dt=1.0, state=state)
    Wi, Wh, b = (np.asarray(a, np.float64) for a in (cell.Wi, cell.Wh, cell.b))
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    err = 0.0
    for n in range(2):
        h, c = np.asarray(state.h[n], np.float64), np.asarray(state.c[n], np.float64)
        for t in range(3):
            gates = _np_same_conv(np.asarray(xs[t, n], np.float64), Wi) + _np_same_conv(h, Wh) + b
            i, f, g, o = np.split(gates, 4, axis=-1)
            c = sig(f) * c + sig(i) * np.tanh(g)
            h = sig(o) * np.tanh(c)
            err = max(err, np.abs(np.asarray(ys[t, n]) - h).max())
        err = max(err, np.abs(np.asarray(final.c[n]) - c).max())
    assert err < 1e-5, err


def test_conv_lstm_one_dimensional_and_initial_state(getkey):
    cell = L.ConvLSTMCell((6,), 1, 2, 3, train_state=True, state_initializer=0.1,
                          mode=fd.batching_mode, key=getkey())
    assert cell.h0.shape == (6, 2) and cell.train_state
    state = cell.init_state(3)
    np.testing.assert_array_equal(state.c, jnp.full((3, 6, 2), 0.1))
    state, y = cell(state, jnp.ones((3, 6, 1)), fd.Context())
    assert y.shape == (3, 6, 2)


def test_conv_lstm_errors(getkey):
    for bad in ((), (4, 4, 4, 4), (4, 0), "44", 4):
        with pytest.raises(ValueError, match="ConvLSTMCell: `input_shape` is the spatial shape"):
            L.ConvLSTMCell(bad, 1, 2, 3, key=getkey())
    with pytest.raises(ValueError, match="ConvLSTMCell: `out_channels` must be a positive int"):
        L.ConvLSTMCell((4, 4), 1, 0, 3, key=getkey())
    with pytest.raises(ValueError, match="ConvLSTMCell: `kernel_size` must be"):
        L.ConvLSTMCell((4, 4), 1, 2, (3, 3, 3), key=getkey())
    with pytest.raises(ValueError, match=r"`Wh_initializer` must have shape \(3, 3, 2, 8\)"):
        L.ConvLSTMCell((4, 4), 1, 2, 3, Wh_initializer=jnp.ones((3, 3, 1, 8)), key=getkey())
    cell = L.ConvLSTMCell((4, 4), 1, 2, 3, key=getkey())
    with pytest.raises(ValueError, match=r"ConvLSTMCell in NonBatchingMode expects input of "
                                         r"shape \(s1, s2, 1\)"):
        cell(cell.init_state(), jnp.ones((4, 4, 2)), fd.Context())
    with pytest.raises(ValueError, match=r"the input's spatial shape \(5, 4\) differs from "
                                         r"input_shape=\(4, 4\)"):
        cell(cell.init_state(), jnp.ones((5, 4, 1)), fd.Context())
    with pytest.raises(TypeError, match="ConvLSTMCell: the state must be an LSTMState"):
        cell((jnp.zeros((4, 4, 2)),) * 2, jnp.ones((4, 4, 1)), fd.Context())
    with pytest.raises(ValueError, match=r"the state `c` has shape \(4, 4, 3\)"):
        cell(L.LSTMState(jnp.zeros((4, 4, 2)), jnp.zeros((4, 4, 3))), jnp.ones((4, 4, 1)),
             fd.Context())


# -- everything together ------------------------------------------------------------------


def test_small_conv_net_in_a_sequential(getkey):
    net = (
        L.Conv2d(1, 4, 3, mode=TM, key=getkey())
        >> L.BatchNorm2d(4, mode=TM)
        >> L.Activation("relu", mode=TM)
        >> L.MaxPool2d(2, mode=TM)
        >> L.Flatten(mode=TM)
        >> L.LayerNorm(4 * 4 * 4, mode=TM)
        >> fd.layers.Dense(64, 3, mode=TM, key=getkey())
    )
    xs = jax.random.normal(getkey(), (2, 5, 8, 8, 1))  # (T, batch, H, W, C)
    final, ys, _ = fd.run(net, xs, dt=1.0, fit=True)
    assert ys.shape == (2, 5, 3)
    assert final[1].mean.shape == (4,)
    # The same network written out in NumPy (float64): conv (SAME, 3x3), batch norm with
    # batch statistics, ReLU, 2x2 max pool, flatten (H, W, C order), layer norm, dense.
    conv, bn, ln, dense = net.layers[0], net.layers[1], net.layers[5], net.layers[6]
    W = np.asarray(conv.W, np.float64)
    running = np.zeros(4)
    for t in range(2):
        x = np.pad(np.asarray(xs[t], np.float64)[..., 0], ((0, 0), (1, 1), (1, 1)))
        h = np.stack([np.stack([scipy.signal.correlate(x[b], W[..., 0, o], mode="valid")
                                for o in range(4)], -1) for b in range(5)])
        h = h + np.asarray(conv.b, np.float64)
        mean, var = h.mean((0, 1, 2)), h.var((0, 1, 2))
        running = 0.99 * running + 0.01 * mean
        h = np.maximum((h - mean) / np.sqrt(var + 1e-5), 0.0)
        h = h.reshape(5, 4, 2, 4, 2, 4).max((2, 4)).reshape(5, 64)
        h = (h - h.mean(1, keepdims=True)) / np.sqrt(h.var(1, keepdims=True) + 1e-5)
        y = h @ np.asarray(dense.W, np.float64) + np.asarray(dense.b, np.float64)
        np.testing.assert_allclose(ys[t], y, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(final[1].mean, running, rtol=1e-4, atol=1e-6)
    assert ln.epsilon == bn.epsilon == 1e-5
