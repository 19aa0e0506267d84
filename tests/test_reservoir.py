"""Reservoir: contract, weight construction, the leaky update, sparse = dense, noise,
batching, errors, and the Mackey-Glass ESN example."""

import os
import re
import subprocess
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcdyn
from funcdyn.layers import Reservoir, ReservoirState
from funcdyn.testing import check_contract

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@eqx.filter_jit
def _run(model, xs, key=None):
    # One compiled loop per model structure and shape (an eager scan compiles each call).
    return funcdyn.run(model, xs, dt=1.0, key=key)[1]


def _reservoir(mode=funcdyn.nonbatching_mode, **kwargs):
    kw = dict(num_in=3, num_out=20, spectral_radius=0.9, in_connectivity=0.5,
              rec_connectivity=0.3, key=jax.random.key(0), mode=mode)
    kw.update(kwargs)
    return Reservoir(**kw)


@pytest.mark.parametrize(
    "mode, kwargs",
    [
        (funcdyn.nonbatching_mode, dict(comp_type="dense")),
        (
            funcdyn.training_mode,
            dict(comp_type="sparse", b_initializer=funcdyn.init.Normal(),
                 leaky_rate=jnp.linspace(0.2, 1.0, 20)),
        ),
    ],
)
def test_contract(mode, kwargs):
    res = _reservoir(mode, **kwargs)
    shape = (4, 3) if mode.is_batching else (3,)
    x = jax.random.normal(jax.random.key(1), shape)
    check_contract(res, x, batch_size=4 if mode.is_batching else None)


def test_spectral_radius_and_connectivity():
    res = Reservoir(2, 100, spectral_radius=1.25, in_connectivity=0.2, rec_connectivity=0.2,
                    input_scaling=0.5, key=jax.random.key(3))
    W = np.asarray(res.Wrec, np.float64)
    np.testing.assert_allclose(np.abs(np.linalg.eigvals(W)).max(), 1.25, rtol=1e-4)
    assert abs(np.mean(W != 0) - 0.2) < 0.02
    Win = np.asarray(res.Win)
    assert abs(np.mean(Win != 0) - 0.2) < 0.06
    assert np.abs(Win).max() <= 0.5  # Uniform(-1, 1) times input_scaling
    # Above 512 units the radius comes from ARPACK on the sparse matrix.
    from funcdyn.layers._reservoir import _spectral_radius

    rng = np.random.default_rng(0)
    big = rng.normal(size=(520, 520)) * (rng.random((520, 520)) < 0.02)
    np.testing.assert_allclose(_spectral_radius(big), np.abs(np.linalg.eigvals(big)).max(),
                               rtol=1e-6)


def test_leaky_update_matches_numpy():
    res = _reservoir(leaky_rate=0.4, b_initializer=funcdyn.init.Normal())
    xs = np.asarray(jax.random.normal(jax.random.key(5), (10, 3)))
    ys = _run(res, jnp.asarray(xs))
    Win, W, b = (np.asarray(a, np.float64) for a in (res.Win, res.Wrec, res.b))
    r = np.zeros(20)
    for t in range(10):
        r = 0.6 * r + 0.4 * np.tanh(xs[t] @ Win + r @ W + b)
        np.testing.assert_allclose(np.asarray(ys[t]), r, rtol=1e-5, atol=1e-6)


def test_sparse_equals_dense():
    kw = dict(mode=funcdyn.batching_mode, b_initializer=funcdyn.init.Normal())
    dense, sparse = _reservoir(comp_type="dense", **kw), _reservoir(comp_type="sparse", **kw)
    rows, cols = np.asarray(sparse.Wrec_indices).T
    rebuilt = np.zeros((20, 20), np.float32)
    rebuilt[rows, cols] = np.asarray(sparse.Wrec)
    np.testing.assert_array_equal(rebuilt, np.asarray(dense.Wrec))
    xs = jax.random.normal(jax.random.key(6), (15, 4, 3))
    yd = _run(dense, xs)
    ys = _run(sparse, xs)
    np.testing.assert_allclose(np.asarray(ys), np.asarray(yd), rtol=1e-5, atol=1e-6)


def test_batching_equals_per_sequence():
    batched = _reservoir(funcdyn.batching_mode)
    single = _reservoir()
    xs = jax.random.normal(jax.random.key(7), (12, 5, 3))
    yb = _run(batched, xs)
    # Each sequence alone, through the non-batching model.
    looped = jax.vmap(lambda x: _run(single, x), in_axes=1, out_axes=1)(xs)
    np.testing.assert_allclose(np.asarray(yb), np.asarray(looped), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(yb[:, 2]), np.asarray(_run(single, xs[:, 2])),
                               rtol=1e-5, atol=1e-6)


def test_noise_comes_from_the_context_key():
    res = _reservoir(funcdyn.batching_mode, noise_in=0.1, noise_rec=0.05)
    xs = jnp.ones((8, 2, 3))
    a = _run(res, xs, jax.random.key(1))
    b = _run(res, xs, jax.random.key(1))
    c = _run(res, xs, jax.random.key(2))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.allclose(np.asarray(a), np.asarray(c))
    assert not np.allclose(np.asarray(a[:, 0]), np.asarray(a[:, 1]))  # per sequence
    quiet = _run(_reservoir(funcdyn.batching_mode), xs)
    assert 0 < np.abs(np.asarray(a - quiet)).max() < 0.5
    with pytest.raises(ValueError, match="Reservoir \\(noise\\).*key=None"):
        _run(res, xs)


def test_arrays_without_key():
    Win = np.ones((2, 4), np.float32)
    Wrec = 0.1 * np.eye(4, dtype=np.float32)
    res = Reservoir(2, 4, Win_initializer=Win, Wrec_initializer=Wrec, in_connectivity=1.0,
                    rec_connectivity=1.0, leaky_rate=1.0)
    state, y = res(res.init_state(), jnp.ones(2), funcdyn.Context())
    np.testing.assert_allclose(np.asarray(y), np.tanh(2.0) * np.ones(4), rtol=1e-6)
    assert isinstance(state, ReservoirState)


def test_errors():
    with pytest.raises(ValueError, match="pass `key=jax.random.key"):
        Reservoir(2, 10)
    for value in (0.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="`leaky_rate` must lie in \\(0, 1\\]"):
            _reservoir(leaky_rate=value)
    for arg in ("in_connectivity", "rec_connectivity"):
        for value in (0.0, 1.2, True):
            with pytest.raises(ValueError, match=f"`{arg}` must be a float in"):
                _reservoir(**{arg: value})
    with pytest.raises(ValueError, match="`comp_type` must be 'dense' or 'sparse'"):
        _reservoir(comp_type="csr")
    with pytest.raises(ValueError, match="`spectral_radius` must be a float >= 0"):
        _reservoir(spectral_radius=-1.0)
    with pytest.raises(ValueError, match="`noise_in` must be a float >= 0"):
        _reservoir(noise_in=-0.1)
    with pytest.raises(ValueError, match="`input_scaling` must be a float >= 0"):
        _reservoir(input_scaling="big")
    with pytest.raises(TypeError, match="`activation` must be callable"):
        _reservoir(activation="tanh")
    with pytest.raises(ValueError, match="spectral radius 0"):
        Reservoir(1, 4, Wrec_initializer=np.zeros((4, 4)), rec_connectivity=1.0,
                  spectral_radius=1.0, key=jax.random.key(0))
    with pytest.raises(ValueError, match="`num_out` must be a positive int"):
        _reservoir(num_out=0)
    with pytest.raises(ValueError, match="`Wrec_initializer` must have shape"):
        _reservoir(Wrec_initializer=np.zeros((3, 3)))
    res = _reservoir()
    with pytest.raises(ValueError, match=r"expects input of shape \(3,\)"):
        res(res.init_state(), jnp.ones(2), funcdyn.Context())
    with pytest.raises(ValueError, match="the state has 5 units"):
        res(ReservoirState(r=jnp.zeros(5)), jnp.ones(3), funcdyn.Context())
    with pytest.raises(ValueError, match="construct the Reservoir outside jit"):
        jax.jit(lambda w: _reservoir(Win_initializer=w).Win)(jnp.ones((3, 20)))


def test_esn_mackey_glass_example(tmp_path):
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", "esn_mackey_glass.py"), "--quick"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    value = float(re.search(r"^forecast NRMSE: (\S+)$", out.stdout, re.M).group(1))
    assert value < 0.1, out.stdout
