"""Readout training: closed-form and iterative solvers against references, the offline
and online trainers, closed-loop forecasting, and every error path."""

import inspect

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcdyn
from funcdyn.layers import Dense, NVAR, Reservoir
from funcdyn.train import (
    forecast,
    lasso_regression,
    LassoRegression,
    least_squares,
    LinearRegression,
    LMS,
    logistic_regression,
    LogisticRegression,
    OfflineTrainer,
    OnlineTrainer,
    ridge_regression,
    RidgeRegression,
    RLS,
)


@eqx.filter_jit
def _run(model, xs):
    return funcdyn.run(model, xs, dt=1.0)[1]


def _data(n=300, d=8, k=3, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    W = rng.normal(size=(d, k)).astype(np.float32)
    Y = X @ W + 0.7 + noise * rng.normal(size=(n, k)).astype(np.float32)
    return X, Y


# -- closed-form solvers ------------------------------------------------------------


@pytest.mark.parametrize("bias", [False, True])
def test_ridge_alpha0_matches_lstsq(bias):
    X, Y = _data()
    W, b = jax.jit(lambda X, Y: ridge_regression(X, Y, 0.0, bias=bias))(X, Y)
    A = np.c_[X, np.ones(len(X))] if bias else X
    ref = np.linalg.lstsq(A.astype(np.float64), Y.astype(np.float64), rcond=None)[0]
    np.testing.assert_allclose(np.asarray(W), ref[: X.shape[1]], rtol=1e-4, atol=1e-5)
    if bias:
        np.testing.assert_allclose(np.asarray(b), ref[-1], rtol=1e-4, atol=1e-5)
    else:
        assert b is None


@pytest.mark.parametrize("solver", ["auto", "qr", "svd", "cholesky"])
def test_ridge_matches_augmented_lstsq(solver):
    X, Y = _data(n=100)
    alpha = 3.0
    W, _ = ridge_regression(X, Y, alpha, solver=solver)
    # min |XW - Y|^2 + alpha |W|^2 is least squares on [X; sqrt(alpha) I] W = [Y; 0].
    A = np.r_[X, np.sqrt(alpha) * np.eye(X.shape[1])].astype(np.float64)
    B = np.r_[Y, np.zeros((X.shape[1], Y.shape[1]))].astype(np.float64)
    ref = np.linalg.lstsq(A, B, rcond=None)[0]
    np.testing.assert_allclose(np.asarray(W), ref, rtol=1e-4, atol=1e-5)



def _ill_conditioned(cond, n=200, d=12, k=3, seed=0):
    # X = U diag(s) V^T with singular values from 1 down to 1 / cond, in float64.
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.normal(size=(n, d)))[0]
    V = np.linalg.qr(rng.normal(size=(d, d)))[0]
    X = U @ np.diag(np.logspace(0.0, -np.log10(cond), d)) @ V.T
    return X, rng.normal(size=(n, k))


def _ridge_reference(X, Y, alpha):
    # The exact ridge solution from numpy's SVD (LAPACK, float64).
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    return Vt.T @ ((s / (s * s + alpha))[:, None] * (U.T @ Y))


def test_ridge_qr_keeps_the_accuracy_of_the_svd_when_cholesky_loses_it():
    # cond(X) = 1e7, alpha far below s_min^2: the normal equations have condition 1e14,
    # the augmented matrix of the QR solver only 1e7.
    X, Y = _ill_conditioned(1e7)
    alpha = 1e-18
    ref = _ridge_reference(X, Y, alpha)
    scale = np.max(np.abs(ref))
    with jax.enable_x64(True):
        err = {}
        for solver in ("auto", "qr", "svd", "cholesky"):
            W, _ = ridge_regression(jnp.asarray(X), jnp.asarray(Y), alpha, solver=solver)
            assert W.dtype == jnp.float64
            err[solver] = np.max(np.abs(np.asarray(W) - ref)) / scale
    assert err["qr"] < 1e-8 and err["svd"] < 1e-8
    assert err["auto"] == err["qr"]  # alpha > 0: auto is qr
    assert err["cholesky"] > 1e-6  # the documented trade-off


@pytest.mark.parametrize("bias", [False, True])
def test_ridge_qr_equals_svd(bias):
    X, Y = _data(n=120)
    with jax.enable_x64(True):
        X64, Y64 = jnp.asarray(X, jnp.float64), jnp.asarray(Y, jnp.float64)
        W_qr, b_qr = ridge_regression(X64, Y64, 0.3, bias=bias, solver="qr")
        W_svd, b_svd = ridge_regression(X64, Y64, 0.3, bias=bias, solver="svd")
    np.testing.assert_allclose(np.asarray(W_qr), np.asarray(W_svd), rtol=1e-12, atol=1e-13)
    if bias:
        np.testing.assert_allclose(np.asarray(b_qr), np.asarray(b_svd), rtol=1e-12, atol=1e-13)
    # float32 and a vector target, through the default solver.
    W, b = ridge_regression(X, Y[:, 0], 0.3, bias=bias)
    assert W.shape == (X.shape[1],) and W.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(W), np.asarray(W_svd)[:, 0], rtol=1e-4, atol=1e-5)
    if bias:
        np.testing.assert_allclose(float(b), float(b_svd[0]), rtol=1e-4, atol=1e-5)


def test_ridge_auto_at_alpha0_is_the_minimum_norm_svd_solution():
    # Rank-deficient X: the default is still numpy's lstsq; solver="qr" without a
    # penalty has no unique solution and says so with NaN weights.
    X, Y = _data(n=50, d=4)
    X = np.c_[X, X[:, :1]]  # a repeated column
    ref = np.linalg.lstsq(X.astype(np.float64), Y.astype(np.float64), rcond=None)[0]
    W, _ = ridge_regression(X, Y)
    np.testing.assert_allclose(np.asarray(W), ref, rtol=1e-4, atol=1e-5)
    W_qr, _ = ridge_regression(X, Y, 0.0, solver="qr")
    assert np.all(np.isnan(np.asarray(W_qr)))
    W_qr, _ = ridge_regression(X[:, :4], Y, 0.0, solver="qr")  # full rank: lstsq
    np.testing.assert_allclose(np.asarray(W_qr), np.linalg.lstsq(X[:, :4], Y, rcond=None)[0],
                               rtol=1e-4, atol=1e-5)
    W_qr, _ = ridge_regression(X, Y, 1e-3, solver="qr")  # any penalty makes it unique
    np.testing.assert_allclose(np.asarray(W_qr), _ridge_reference(X, Y, 1e-3), rtol=1e-3,
                               atol=1e-4)


def test_ridge_bias_is_not_penalised():
    X, Y = _data(n=100)
    alpha = 5.0
    W, b = ridge_regression(X, Y, alpha, bias=True)
    # Augmented system with a ones column whose coefficient has no penalty row.
    d = X.shape[1]
    A = np.r_[np.c_[X, np.ones(100)], np.c_[np.sqrt(alpha) * np.eye(d), np.zeros(d)]]
    B = np.r_[Y, np.zeros((d, Y.shape[1]))]
    ref = np.linalg.lstsq(A.astype(np.float64), B.astype(np.float64), rcond=None)[0]
    np.testing.assert_allclose(np.asarray(W), ref[:d], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(b), ref[d], rtol=1e-4, atol=1e-5)


def test_least_squares_minimum_norm_and_vector_targets():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20, 5)).astype(np.float32)
    X = np.c_[X, X[:, :2]]  # rank deficient
    y = rng.normal(size=20).astype(np.float32)
    W, b = least_squares(X, y)
    assert W.shape == (7,) and b is None
    ref = np.linalg.lstsq(X.astype(np.float64), y.astype(np.float64), rcond=None)[0]
    np.testing.assert_allclose(np.asarray(W), ref, rtol=1e-4, atol=1e-5)
    Wl, bl = LinearRegression()(jnp.asarray(X), jnp.asarray(y)[:, None], bias=True)
    assert Wl.shape == (7, 1) and bl.shape == (1,)


def test_lasso_recovers_sparse_solution():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 12)).astype(np.float32)
    W_true = np.zeros((12, 2), np.float32)
    W_true[[1, 5, 9], [0, 1, 0]] = [2.0, -3.0, 1.5]
    Y = X @ W_true + 0.4 + 0.01 * rng.normal(size=(400, 2)).astype(np.float32)
    W, b = jax.jit(lambda X, Y: lasso_regression(X, Y, 0.01, bias=True, num_iters=500))(X, Y)
    W = np.asarray(W)
    np.testing.assert_array_equal(W != 0, W_true != 0)
    # The L1 penalty shrinks each active weight by about alpha / var(x) = 0.01.
    np.testing.assert_allclose(W, W_true, atol=0.03)
    np.testing.assert_allclose(np.asarray(b), 0.4, atol=0.02)
    W2, _ = LassoRegression(alpha=0.01, num_iters=500)(jnp.asarray(X), jnp.asarray(Y), bias=True)
    # Eager and jitted runs of 500 float32 iterations may fuse differently (CI saw 2.4e-6 on a
    # weight of size 3, i.e. ~1e-6 relative): compare at float32 round-off, relative.
    np.testing.assert_allclose(np.asarray(W2), W, rtol=1e-5, atol=1e-6)


def test_logistic_regression_separates():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    score = X[:, 0] - 2 * X[:, 2] + 0.3
    X = X[np.abs(score) > 0.2]  # separable with a margin
    labels = (score[np.abs(score) > 0.2] > 0).astype(np.float32)
    W, b = jax.jit(lambda X, y: logistic_regression(X, y, 1e-4))(X, labels)
    accuracy = np.mean((X @ np.asarray(W) + np.asarray(b) > 0) == (labels > 0))
    assert accuracy == 1.0


# -- offline trainer --------------------------------------------------------------------


def _ngrc(num_in=2, num_out=2, bias=False, key=0):
    nvar = NVAR(num_in, delay=2, order=2, constant=True, mode=funcdyn.batching_mode)
    readout = Dense(nvar.num_out, num_out, b_initializer=funcdyn.init.ZeroInit() if bias else None,
                    mode=funcdyn.training_mode, key=jax.random.key(key))
    return nvar >> readout


def test_offline_trainer_matches_ridge_on_features():
    model = _ngrc()
    xs = jax.random.normal(jax.random.key(1), (40, 3, 2))  # three sequences at once
    ys = jnp.tanh(xs)
    fitted = OfflineTrainer(model, RidgeRegression(1e-3)).fit(xs, ys)
    _, feats, _ = funcdyn.run(model.layers[0], xs, dt=1.0)
    W, _ = ridge_regression(feats.reshape(-1, 15), ys.reshape(-1, 2), 1e-3)
    np.testing.assert_allclose(np.asarray(fitted.layers[1].W), np.asarray(W), rtol=1e-4,
                               atol=1e-5)
    assert fitted.layers[1].b is None
    assert eqx.tree_equal(fitted.layers[0], model.layers[0])  # the NVAR is untouched
    assert not np.allclose(np.asarray(model.layers[1].W), np.asarray(W))  # a new model


def test_offline_trainer_recovers_quadratic_map_with_state_and_batch_major():
    model = _ngrc(bias=True)
    xs = jax.random.normal(jax.random.key(2), (4, 30, 2))  # (batch, T, 2)
    prev = jnp.concatenate([jnp.zeros((4, 1, 2)), xs[:, :-1]], axis=1)
    ys = jnp.stack([xs[..., 0] * prev[..., 1] + 1.0, 2.0 * xs[..., 1] ** 2], axis=-1)
    fitted = OfflineTrainer(model, LinearRegression()).fit(xs, ys, time_major=False)
    pred = jnp.swapaxes(_run(fitted, jnp.swapaxes(xs, 0, 1)), 0, 1)
    np.testing.assert_allclose(np.asarray(pred), np.asarray(ys), atol=1e-4)
    # Starting from a given state: the first input sees the state's previous value.
    state = model.init_state(4)
    warm_x = jnp.ones((1, 4, 2))
    state, _, _ = funcdyn.run(model, warm_x, dt=1.0, state=state)
    xs_t = jnp.swapaxes(xs, 0, 1)
    prev = jnp.concatenate([warm_x, xs_t[:-1]], axis=0)
    ys_t = jnp.stack([xs_t[..., 0] * prev[..., 1] + 1.0, 2.0 * xs_t[..., 1] ** 2], axis=-1)
    fitted = OfflineTrainer(model, LinearRegression()).fit(xs_t, ys_t, state=state)
    _, pred, _ = funcdyn.run(fitted, xs_t, dt=1.0, state=state)
    np.testing.assert_allclose(np.asarray(pred), np.asarray(ys_t), atol=1e-4)


def test_offline_trainer_many_readouts_and_classification():
    class TwoHeads(funcdyn.DynamicalSystem):
        res: Reservoir
        head_a: Dense
        head_b: Dense

        def __call__(self, state, x, ctx):
            s_res, y = self.res(state["res"], x, ctx.child("res"))
            s_a, a = self.head_a(state["head_a"], y, ctx)
            s_b, b = self.head_b(state["head_b"], y, ctx)
            return {"res": s_res, "head_a": s_a, "head_b": s_b}, (a, b)

    keys = jax.random.split(jax.random.key(0), 3)
    res = Reservoir(1, 30, leaky_rate=1.0, spectral_radius=0.5, input_scaling=0.2,
                    in_connectivity=1.0, mode=funcdyn.batching_mode, key=keys[0])
    net = TwoHeads(
        res,
        Dense(30, 1, mode=funcdyn.training_mode, name="value", key=keys[1]),
        Dense(30, 2, mode=funcdyn.training_mode, name="sign", key=keys[2]),
        mode=funcdyn.batching_mode,
    )
    xs = jax.random.normal(jax.random.key(5), (60, 8, 1))
    targets = {"value": 0.5 * xs, "sign": (xs[..., 0] > 0).astype(jnp.int32)}
    fitted = OfflineTrainer(net, RidgeRegression(1e-4)).fit(xs, targets)
    (a, b) = _run(fitted, xs)
    assert float(jnp.sqrt(jnp.mean((a - 0.5 * xs) ** 2))) < 0.05
    # Ridge on one-hot targets (from integer labels) classifies too.
    assert float(jnp.mean(jnp.argmax(b, -1) == targets["sign"])) > 0.95
    fitted = OfflineTrainer(net, RidgeRegression(1e-4)).fit(xs, [0.5 * xs, targets["sign"]])
    np.testing.assert_allclose(np.asarray(_run(fitted, xs)[1]), np.asarray(b), atol=1e-5)
    # The fast path rebuilds the model around the fitted readouts: the same weights as
    # the general (filter_jit) path for both heads, biases included, and the reservoir
    # is the trainer's own object, not a copy out of the compiled fit.
    from funcdyn.train import _offline

    general = _offline._offline_fit_general(
        net, RidgeRegression(1e-4), xs, [0.5 * xs, targets["sign"]], None, None,
        1.0, 0.0, 0, 8, True)
    for name in ("head_a", "head_b"):
        for field in ("W", "b"):
            np.testing.assert_allclose(
                np.asarray(getattr(getattr(fitted, name), field)),
                np.asarray(getattr(getattr(general, name), field)), rtol=1e-5, atol=1e-6)
    assert fitted.res is net.res
    assert jax.tree_util.tree_structure(fitted) == jax.tree_util.tree_structure(general)


@pytest.mark.slow
def test_offline_logistic_readout():
    res = Reservoir(2, 20, leaky_rate=1.0, spectral_radius=0.5, input_scaling=0.3,
                    in_connectivity=1.0, mode=funcdyn.batching_mode, key=jax.random.key(0))
    model = res >> Dense(20, 3, mode=funcdyn.training_mode, key=jax.random.key(1))
    xs = jax.random.normal(jax.random.key(2), (50, 6, 2))
    labels = jnp.argmax(jnp.stack([xs[..., 0], xs[..., 1], -xs[..., 0] - xs[..., 1]], -1), -1)
    fitted = OfflineTrainer(model, LogisticRegression(1e-5, num_iters=50)).fit(xs, labels)
    logits = _run(fitted, xs)
    assert float(jnp.mean(jnp.argmax(logits, -1) == labels)) > 0.95


def test_offline_trainer_on_a_bare_readout():
    dense = Dense(3, 2, mode=funcdyn.training_mode, key=jax.random.key(0))
    xs = jax.random.normal(jax.random.key(1), (10, 5, 3))
    A = jnp.arange(6.0).reshape(3, 2)
    fitted = OfflineTrainer(dense, LinearRegression()).fit(xs, xs @ A + 1.0)
    assert isinstance(fitted, Dense)
    np.testing.assert_allclose(np.asarray(fitted.W), np.asarray(A), atol=1e-4)
    np.testing.assert_allclose(np.asarray(fitted.b), 1.0, atol=1e-4)



class _LoopedNVAR(NVAR):
    # A subclass is not assumed to be a feed-forward map of the input window, so
    # OfflineTrainer runs it through funcdyn.run's loop.
    pass


@pytest.mark.parametrize("bias", [False, True])
def test_offline_fit_without_the_loop_equals_the_loop(bias):
    from funcdyn.train._over_time import readout_inputs_over_time
    from funcdyn.train._readouts import tap_readouts, tap_state

    def model(cls):
        nvar = cls(2, delay=3, order=2, stride=2, constant=not bias, mode=funcdyn.batching_mode)
        b = funcdyn.init.ZeroInit() if bias else None
        return nvar >> Dense(nvar.num_out, 2, b_initializer=b, mode=funcdyn.training_mode,
                             key=jax.random.key(0))

    xs = jax.random.normal(jax.random.key(1), (40, 3, 2))
    warm = jax.random.normal(jax.random.key(2), (6, 3, 2))
    fast, looped = model(NVAR), model(_LoopedNVAR)
    tapped, _ = tap_readouts(fast)
    state = tap_state(tapped, None, 3)
    assert readout_inputs_over_time(tapped, state, xs, 1, dt=1.0, t0=0.0, i0=0, key=None)
    tapped_l, _ = tap_readouts(looped)
    assert readout_inputs_over_time(tapped_l, tap_state(tapped_l, None, 3), xs, 1, dt=1.0,
                                    t0=0.0, i0=0, key=None) is None
    ys = jnp.sin(xs)
    fitted = []
    for m in (fast, looped):
        s0, _, _ = funcdyn.run(m, warm, dt=1.0)
        fitted.append(OfflineTrainer(m, RidgeRegression(1e-4)).fit(xs, ys, state=s0))
    np.testing.assert_allclose(np.asarray(fitted[0].layers[1].W),
                               np.asarray(fitted[1].layers[1].W), rtol=1e-6, atol=1e-6)
    if bias:
        np.testing.assert_allclose(np.asarray(fitted[0].layers[1].b),
                                   np.asarray(fitted[1].layers[1].b), rtol=1e-6, atol=1e-6)
    # time_major=False takes the loop; the fit is the same.
    s0, _, _ = funcdyn.run(fast, warm, dt=1.0)
    bm = OfflineTrainer(fast, RidgeRegression(1e-4)).fit(
        jnp.swapaxes(xs, 0, 1), jnp.swapaxes(ys, 0, 1), state=s0, time_major=False)
    np.testing.assert_allclose(np.asarray(bm.layers[1].W), np.asarray(fitted[0].layers[1].W),
                               rtol=1e-6, atol=1e-6)



def test_offline_fit_uses_each_trainers_own_arrays():
    # Fits of same-structure models share one compilation but never each other's arrays
    # (the reservoir weights here); a trainer's cached flattening goes with the trainer.
    import gc

    from funcdyn.train import _offline

    def trainer(seed):
        res = Reservoir(2, 12, leaky_rate=1.0, spectral_radius=0.5, input_scaling=0.5,
                        in_connectivity=1.0, mode=funcdyn.batching_mode,
                        key=jax.random.key(seed))
        return OfflineTrainer(res >> Dense(12, 1, mode=funcdyn.training_mode,
                                           key=jax.random.key(0)), RidgeRegression(1e-3))

    xs = jax.random.normal(jax.random.key(3), (30, 2, 2))
    ys = jnp.sum(jnp.sin(xs), -1, keepdims=True)
    ta, tb = trainer(1), trainer(2)
    wa, wb = (t.fit(xs, ys).layers[1].W for t in (ta, tb))
    assert not np.allclose(np.asarray(wa), np.asarray(wb))
    for t, w in ((ta, wa), (tb, wb)):
        general = _offline._offline_fit_general(t.model, t.fit_method, xs, [ys], None, None,
                                                1.0, 0.0, 0, 2, True)
        np.testing.assert_allclose(np.asarray(w), np.asarray(general.layers[1].W),
                                   rtol=1e-5, atol=1e-6)
    key = id(ta)
    assert _offline._PREPARED[key].trainer() is ta
    del ta
    gc.collect()
    assert key not in _offline._PREPARED


def test_offline_fit_compiles_once():
    model = _ngrc()
    trainer = OfflineTrainer(model, RidgeRegression(1e-3))
    xs = jax.random.normal(jax.random.key(1), (20, 2, 2))
    trainer.fit(xs, xs)
    from funcdyn.train._offline import _fit_from_leaves_jit

    before = _fit_from_leaves_jit._cache_size()
    assert before >= 1  # the fast path ran
    trainer.fit(xs + 1.0, xs * 2.0)
    assert _fit_from_leaves_jit._cache_size() == before



def test_offline_fit_dict_targets_follow_the_readout_names():
    # The readouts' names are cached by model structure: a model that differs only in a
    # readout's name must be asked for its own keys.
    def model(name):
        nvar = NVAR(1, delay=2, order=2, mode=funcdyn.batching_mode)
        return nvar >> Dense(nvar.num_out, 1, mode=funcdyn.training_mode, name=name,
                             key=jax.random.key(0))

    xs = jax.random.normal(jax.random.key(1), (30, 2, 1))
    ys = xs[1:] * 0.5
    fa = OfflineTrainer(model("a"), RidgeRegression(1e-6)).fit(xs[:-1], {"a": ys})
    fb = OfflineTrainer(model("b"), RidgeRegression(1e-6)).fit(xs[:-1], {"b": ys})
    np.testing.assert_array_equal(np.asarray(fa.layers[1].W), np.asarray(fb.layers[1].W))
    with pytest.raises(ValueError, match="named \\['b'\\]"):
        OfflineTrainer(model("b"), RidgeRegression(1e-6)).fit(xs[:-1], {"a": ys})


def test_offline_fit_is_a_plain_method():
    trainer = OfflineTrainer(_ngrc(), RidgeRegression(1e-3))
    assert "Fits the readouts" in OfflineTrainer.fit.__doc__
    assert "Fits the readouts" in trainer.fit.__doc__
    assert list(inspect.signature(trainer.fit).parameters)[:2] == ["xs", "ys"]
    xs = jax.random.normal(jax.random.key(1), (20, 2, 2))
    a = OfflineTrainer.fit(trainer, xs, xs)
    b = trainer.fit(xs, xs)
    np.testing.assert_array_equal(np.asarray(a.layers[1].W), np.asarray(b.layers[1].W))


# -- online trainer ---------------------------------------------------------------------


def _linear_readout(num_in, num_out, bias=True):
    return Dense(num_in, num_out, W_initializer=funcdyn.init.ZeroInit(),
                 b_initializer=funcdyn.init.ZeroInit() if bias else None,
                 mode=funcdyn.training_mode)


@pytest.mark.parametrize("batch", [1, 4])
def test_rls_equals_ridge(batch):
    X, Y = _data(n=200, d=5, k=2)
    xs = jnp.asarray(X).reshape(-1, batch, 5)
    ys = jnp.asarray(Y).reshape(-1, batch, 2)
    alpha = 0.5
    model, _, outs = OnlineTrainer(_linear_readout(5, 2), RLS(alpha)).fit_predict(xs, ys)
    # RLS from zero weights with P0 = I / alpha is ridge with the bias penalised too.
    W_ref, _ = ridge_regression(np.c_[X, np.ones(200)].astype(np.float32), Y, alpha)
    np.testing.assert_allclose(np.asarray(model.W), np.asarray(W_ref[:5]), atol=2e-3)
    np.testing.assert_allclose(np.asarray(model.b), np.asarray(W_ref[5]), atol=2e-3)
    assert outs.shape == ys.shape
    late = float(jnp.sqrt(jnp.mean((outs[-10:] - ys[-10:]) ** 2)))
    assert late < 0.1  # the a-priori error falls to the noise level


def test_rls_forgetting_tracks_a_change():
    X, _ = _data(n=400, d=3, k=1)
    w1, w2 = np.array([[1.0], [-1.0], [0.5]]), np.array([[-2.0], [0.0], [1.0]])
    Y = np.r_[X[:200] @ w1, X[200:] @ w2].astype(np.float32)
    trainer = OnlineTrainer(_linear_readout(3, 1, bias=False), RLS(1.0, forgetting=0.95))
    model = trainer.fit(jnp.asarray(X)[:, None], jnp.asarray(Y)[:, None])
    np.testing.assert_allclose(np.asarray(model.W), w2, atol=1e-3)


def test_lms_decreases_error():
    X, Y = _data(n=1000, d=5, k=2, noise=0.0)
    model, _, outs = OnlineTrainer(_linear_readout(5, 2), LMS(0.02)).fit_predict(
        jnp.asarray(X)[:, None], jnp.asarray(Y)[:, None]
    )
    err = np.asarray(jnp.sqrt(jnp.mean((outs[:, 0] - Y) ** 2, axis=-1)))
    assert err[-100:].mean() < 0.05 * err[:100].mean()
    W_true = np.linalg.lstsq(np.c_[X, np.ones(1000)], Y, rcond=None)[0]
    np.testing.assert_allclose(np.asarray(model.W), W_true[:5], atol=0.02)


def test_online_trainer_with_reservoir():
    res = Reservoir(1, 40, spectral_radius=0.9, in_connectivity=1.0, mode=funcdyn.batching_mode,
                    key=jax.random.key(0))
    model = res >> _linear_readout(40, 1)
    t = jnp.arange(600.0)
    xs = jnp.sin(0.2 * t)[:, None, None]
    ys = jnp.sin(0.2 * (t + 1.0))[:, None, None]
    fitted, state, outs = OnlineTrainer(model, RLS(1e-2)).fit_predict(xs, ys)
    assert isinstance(state[0], funcdyn.layers.ReservoirState)
    assert float(jnp.sqrt(jnp.mean((outs[-100:] - ys[-100:]) ** 2))) < 0.01
    assert eqx.tree_equal(fitted.layers[0], model.layers[0])


# -- forecast ---------------------------------------------------------------------------


def test_forecast_linear_map():
    A = jnp.array([[0.9, -0.2], [0.2, 0.9]])
    model = Dense(2, 2, W_initializer=A, b_initializer=None, mode=funcdyn.batching_mode)
    x0 = jnp.array([[1.0, 0.0]])
    _, traj = forecast(model, None, x0, 5)
    expected = [np.asarray(x0) @ np.linalg.matrix_power(np.asarray(A), k) for k in range(1, 6)]
    np.testing.assert_allclose(np.asarray(traj), np.stack(expected), rtol=1e-5)
    # Increments: x_{k+1} = x_k + x_k A.
    _, traj = forecast(model, None, x0, 3, feedback=lambda y, x: x + y)
    B = np.eye(2) + np.asarray(A)
    np.testing.assert_allclose(np.asarray(traj[-1]), np.asarray(x0) @ np.linalg.matrix_power(B, 3),
                               rtol=1e-5)


def test_forecast_continues_a_fitted_ngrc():
    # x(t+1) = 0.5 x(t) - 0.3 x(t-1) + 0.1 x(t)^2 is in the span of the NVAR features.
    def step(x, prev):
        return 0.5 * x - 0.3 * prev + 0.1 * x * x

    seq = [np.full(2, 0.3), np.array([0.5, -0.4])]
    for _ in range(80):
        seq.append(step(seq[-1], seq[-2]))
    seq = jnp.asarray(np.asarray(seq, np.float32))[:, None, :]
    model = _ngrc()
    state, _, _ = funcdyn.run(model, seq[:1], dt=1.0)
    fitted = OfflineTrainer(model, RidgeRegression(1e-8)).fit(seq[1:60], seq[2:61], state=state)
    state, _, _ = funcdyn.run(fitted, seq[1:60], dt=1.0, state=state)
    _, traj = forecast(fitted, state, seq[60], 20)
    np.testing.assert_allclose(np.asarray(traj), np.asarray(seq[61:81]), atol=1e-4)



def test_forecast_fast_dispatch_equals_filter_jit_and_compiles_once():
    from funcdyn.train._forecast import _forecast

    model = Dense(2, 2, W_initializer=jnp.array([[0.9, -0.2], [0.2, 0.9]]) * 0.1,
                  b_initializer=None, mode=funcdyn.batching_mode)
    x0 = jnp.array([[1.0, 0.5]])
    def increment(y, x):
        return x + y

    args = (model, None, x0, None, 7, 1.0, increment, 0.0, 0)
    _, fast = _forecast(*args)
    _, general = _forecast.general(*args)  # eqx.filter_jit of the same function
    np.testing.assert_array_equal(np.asarray(fast), np.asarray(general))
    _, public = forecast(model, None, x0, 7, feedback=increment)
    np.testing.assert_array_equal(np.asarray(public), np.asarray(fast))
    # A stateful model: the final state keeps its type and static fields.
    nvar_model = _ngrc()
    state = nvar_model.init_state(1)
    final, traj = forecast(nvar_model, state, x0, 4)
    assert type(final[0]) is type(state[0]) and traj.shape == (4, 1, 2)
    size = _forecast.jitted._cache_size()
    forecast(nvar_model, state, x0 + 1.0, 4)
    assert _forecast.jitted._cache_size() == size
    # numpy and Python inputs are converted as before.
    _, traj_np = forecast(nvar_model, state, np.asarray(x0), 4)
    np.testing.assert_array_equal(np.asarray(traj_np), np.asarray(traj))


# -- errors -----------------------------------------------------------------------------


def test_solver_errors():
    X, Y = _data(n=10)
    with pytest.raises(ValueError, match="`alpha` must be a float >= 0"):
        ridge_regression(X, Y, -1.0)
    with pytest.raises(ValueError, match="`solver` must be one of"):
        ridge_regression(X, Y, 1.0, solver="lu")
    with pytest.raises(ValueError, match="solver='qr' with alpha=0 needs at least as many"):
        ridge_regression(X[:3], Y[:3], 0.0, solver="qr")
    with pytest.raises(ValueError, match="`X` must be a matrix"):
        ridge_regression(X[0], Y)
    with pytest.raises(ValueError, match="`Y` must be .*with the 10 samples"):
        ridge_regression(X, Y[:5])
    with pytest.raises(ValueError, match="`alpha` must be a float >= 0"):
        RidgeRegression(alpha=-0.1)
    with pytest.raises(ValueError, match="`solver` must be one of"):
        RidgeRegression(solver="lu")
    with pytest.raises(ValueError, match="`num_iters` must be an int >= 1"):
        LassoRegression(num_iters=0)
    with pytest.raises(ValueError, match="`num_iters` must be an int >= 1"):
        lasso_regression(X, Y, 0.1, num_iters=2.5)
    with pytest.raises(ValueError, match="`alpha` must be a float >= 0"):
        LogisticRegression(alpha=-1.0)
    with pytest.raises(ValueError, match="`alpha` must be a float > 0"):
        RLS(alpha=0.0)
    with pytest.raises(ValueError, match="`forgetting` must be a float in"):
        RLS(forgetting=1.5)
    with pytest.raises(ValueError, match="`learning_rate` must be a float > 0"):
        LMS(learning_rate=0.0)


def test_trainer_errors():
    model = _ngrc()
    xs = jnp.ones((10, 3, 2))
    with pytest.raises(ValueError, match="has no trainable readout"):
        OfflineTrainer(NVAR(2, 2, 2, mode=funcdyn.batching_mode))
    with pytest.raises(ValueError, match="has no trainable readout"):
        OnlineTrainer(Reservoir(1, 5, key=jax.random.key(0)))
    with pytest.raises(TypeError, match="`fit_method` must be a funcdyn.train.OfflineMethod"):
        OfflineTrainer(model, RLS())
    with pytest.raises(TypeError, match="`fit_method` must be a funcdyn.train.OnlineMethod"):
        OnlineTrainer(model, RidgeRegression())
    trainer = OfflineTrainer(model)
    with pytest.raises(ValueError, match=r"targets of readout .* have shape \(10, 3, 5\)"):
        trainer.fit(xs, jnp.ones((10, 3, 5)))
    with pytest.raises(ValueError, match=r"targets of readout .* have shape \(10, 2\)"):
        OnlineTrainer(model).fit(xs, jnp.ones((10, 2)))
    with pytest.raises(ValueError, match="no batch axis"):
        trainer.fit(jnp.ones(10), jnp.ones(10))
    with pytest.raises(ValueError, match=r"expects input of shape \(batch, 2\)"):
        trainer.fit(jnp.ones((10, 2)), jnp.ones((10, 2)))
    with pytest.raises(ValueError, match="does not have the structure"):
        trainer.fit(xs, jnp.ones((10, 3, 2)), state=(None, None, None))
    with pytest.raises(ValueError, match="got 2 targets for 1 readouts"):
        trainer.fit(xs, [xs, xs])
    with pytest.raises(ValueError, match="targets dict has keys"):
        trainer.fit(xs, {"out": xs})
    two = model >> Dense(2, 2, mode=funcdyn.training_mode, key=jax.random.key(1))
    with pytest.raises(ValueError, match="has 2 readouts; pass the targets as a dict"):
        OfflineTrainer(two).fit(xs, xs)
    with pytest.raises(ValueError, match="`dt` must be a positive"):
        OfflineTrainer(model).fit(xs, xs, dt=0.0)
    with pytest.raises(ValueError, match="`dt` must be a positive"):
        OnlineTrainer(model).fit(xs, xs, dt=-1.0)

    class DropsState(funcdyn.DynamicalSystem):
        readout: Dense

        def __call__(self, state, x, ctx):
            _, y = self.readout(None, x, ctx)
            return state, y

    dropper = DropsState(Dense(2, 2, mode=funcdyn.training_mode, key=jax.random.key(0)),
                         mode=funcdyn.batching_mode)
    with pytest.raises(ValueError, match="records a readout's input through the readout's state"):
        OfflineTrainer(dropper).fit(xs, xs)


def test_forecast_errors():
    model = _ngrc(num_out=3)
    state = model.init_state(1)
    with pytest.raises(ValueError, match="`num_steps` must be an int >= 1"):
        forecast(model, state, jnp.ones((1, 2)), 0)
    with pytest.raises(ValueError, match="`dt` must be a positive"):
        forecast(model, state, jnp.ones((1, 2)), 3, dt=0)
    with pytest.raises(TypeError, match="`feedback` must be callable"):
        forecast(model, state, jnp.ones((1, 2)), 3, feedback=1.0)
    with pytest.raises(ValueError, match=r"fed-back input has shapes \(1, 3\)"):
        forecast(model, state, jnp.ones((1, 2)), 3)


def test_public_names():
    for name in ["OfflineTrainer", "OnlineTrainer", "OfflineMethod", "OnlineMethod",
                 "RidgeRegression", "LinearRegression", "LassoRegression",
                 "LogisticRegression", "RLS", "RLSState", "LMS", "ridge_regression",
                 "least_squares", "lasso_regression", "logistic_regression", "forecast"]:
        assert hasattr(funcdyn.train, name), name
    assert isinstance(RidgeRegression(), funcdyn.train.OfflineMethod)
    assert eqx.is_array(RLS().init(jnp.zeros((3, 2)), None).P)
