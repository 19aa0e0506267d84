import funcdyn as fd
import jax
import jax.numpy as jnp
import numpy as np
import pytest


def test_dense_values_nonbatching_and_batching(getkey):
    key = getkey()
    x = jax.random.normal(getkey(), (5, 3))
    nb = fd.layers.Dense(3, 4, key=key)
    b = fd.layers.Dense(3, 4, mode=fd.training_mode, key=key)
    expected = np.asarray(x) @ np.asarray(nb.W) + np.asarray(nb.b)
    _, y1 = nb(None, x[0], fd.Context())
    _, yb = b(None, x, fd.Context())
    np.testing.assert_allclose(y1, expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(yb, expected, rtol=1e-5, atol=1e-6)


def test_dense_without_bias(getkey):
    d = fd.layers.Dense(3, 2, b_initializer=None, key=getkey())
    x = jnp.array([1.0, 2.0, 3.0])
    assert jnp.allclose(d(None, x, fd.Context())[1], x @ d.W)


def test_dense_errors(getkey):
    with pytest.raises(ValueError, match="Dense: `num_in` must be a positive int"):
        fd.layers.Dense(0, 3)
    with pytest.raises(ValueError, match="Dense: `num_out` must be a positive int"):
        fd.layers.Dense(3, 2.5)
    with pytest.raises(ValueError, match="`W_initializer` must have shape"):
        fd.layers.Dense(3, 2, W_initializer=np.ones((2, 3)))
    with pytest.raises(ValueError, match="pass `key="):
        fd.layers.Dense(3, 2)
    d = fd.layers.Dense(3, 2, key=getkey())
    with pytest.raises(ValueError, match=r"expects input of shape \(3,\), got \(4,\)"):
        d(None, jnp.ones(4), fd.Context())
    with pytest.raises(ValueError, match=r"NonBatchingMode takes one example"):
        d(None, jnp.ones((2, 3)), fd.Context())
    db = fd.layers.Dense(3, 2, mode=fd.batching_mode, key=getkey())
    with pytest.raises(ValueError, match=r"expects input of shape \(batch, 3\)"):
        db(None, jnp.ones(3), fd.Context())


def test_dense_contract(getkey):
    fd.testing.check_contract(fd.layers.Dense(3, 2, key=getkey()), jnp.ones(3))
    fd.testing.check_contract(
        fd.layers.Dense(3, 2, mode=fd.training_mode, key=getkey()), jnp.ones((4, 3)), batch_size=4
    )


def test_dropout_drop_probability_and_scaling():
    drop = fd.layers.Dropout(0.2)
    x = jnp.ones((20000,))
    _, y = drop(None, x, fd.Context(fit=True, key=jax.random.key(3)))
    kept = np.asarray(y) > 0
    assert abs(kept.mean() - 0.8) < 0.01
    np.testing.assert_allclose(np.asarray(y)[kept], 1 / 0.8, rtol=1e-6)
    assert abs(float(y.mean()) - 1.0) < 0.02


def test_dropout_identity_when_not_fitting():
    drop = fd.layers.Dropout(0.5)
    x = jnp.arange(5.0)
    _, y = drop(None, x, fd.Context(fit=False))
    assert jnp.array_equal(x, y)


def test_dropout_masks_differ_between_steps_and_are_reproducible():
    drop = fd.layers.Dropout(0.5, mode=fd.batching_mode)
    xs = jnp.ones((4, 2, 50))
    run = lambda k: fd.run(drop, xs, dt=1.0, fit=True, key=k)[1]  # noqa: E731
    ys = run(jax.random.key(0))
    assert not jnp.array_equal(ys[0], ys[1])
    assert jnp.array_equal(ys, run(jax.random.key(0)))
    assert not jnp.array_equal(ys, run(jax.random.key(1)))


def test_dropout_errors():
    for bad in (-0.1, 1.0, 2, float("nan"), np.float32(1.5)):
        with pytest.raises(ValueError, match=r"`p` is the drop probability and must be in"):
            fd.layers.Dropout(bad)
    for bad in ("0.5", True, None):
        with pytest.raises(TypeError, match=r"Dropout: `p` is the drop probability, a float"):
            fd.layers.Dropout(bad)
    with pytest.raises(ValueError, match=r"Dropout\(p=0.5\) draws random numbers.*key=None"):
        fd.layers.Dropout(0.5)(None, jnp.ones(3), fd.Context(fit=True))


def test_dropout_contract():
    fd.testing.check_contract(
        fd.layers.Dropout(0.3), jnp.ones(6), fit=True, key=jax.random.key(0)
    )


def test_dense_random_bias_initialiser(getkey):
    d = fd.layers.Dense(3, 200, b_initializer=fd.init.Normal(0.0, 1.0), key=getkey())
    assert 0.7 < float(d.b.std()) < 1.3
    with pytest.raises(ValueError, match="`b_initializer` uses the random initialiser Normal"):
        fd.layers.Dense(3, 2, W_initializer=np.ones((3, 2)), b_initializer=fd.init.Normal())
