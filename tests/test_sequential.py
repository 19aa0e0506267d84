import equinox as eqx
import funcdyn as fd
import jax
import jax.numpy as jnp
import numpy as np
import pytest


def test_rshift_builds_flat_sequential(getkey):
    a, b, c = (fd.layers.Dense(3, 3, key=getkey()) for _ in range(3))
    seq = a >> jnp.tanh >> b >> c
    assert isinstance(seq, fd.Sequential) and len(seq) == 4
    assert seq[0] is a and seq[1] is jnp.tanh and seq[-1] is c
    assert isinstance(seq[1:], fd.Sequential) and len(seq[1:]) == 3
    assert list(seq)[2] is b
    # A function on the left also works (via __rrshift__).
    assert len(jax.nn.relu >> a) == 2


def test_sequential_values_match_manual(getkey):
    d1 = fd.layers.Dense(4, 5, key=getkey())
    d2 = fd.layers.Dense(5, 2, key=getkey())
    seq = fd.Sequential(d1, jax.nn.relu, d2)
    x = jax.random.normal(getkey(), (4,))
    state = seq.init_state()
    assert state == (None, None, None)
    _, y = seq(state, x, fd.Context())
    expected = jax.nn.relu(x @ d1.W + d1.b) @ d2.W + d2.b
    np.testing.assert_allclose(y, expected, rtol=1e-6)


def test_plain_equinox_module_vmapped_in_batching_mode(getkey):
    mlp = eqx.nn.MLP(3, 2, 8, 1, key=getkey())
    with fd.training_environment():
        seq = fd.layers.Dense(4, 3, key=getkey()) >> mlp
    x = jax.random.normal(getkey(), (5, 4))
    _, y = seq(seq.init_state(5), x, fd.Context())
    expected = jax.vmap(mlp)(x @ seq[0].W + seq[0].b[None])
    np.testing.assert_allclose(y, expected, rtol=1e-5)
    # The MLP's arrays inherit the training mode of the enclosing Sequential.
    spec = fd.trainable(seq)
    assert all(layer.weight is True and layer.bias is True for layer in spec.layers[1].layers)


def test_children_get_distinct_keys():
    seq = fd.Sequential(fd.layers.Dropout(0.5), fd.layers.Dropout(0.5))
    x = jnp.ones((1000,))
    ctx = fd.Context(fit=True, key=jax.random.key(0))
    _, y = seq(seq.init_state(), x, ctx)
    # Two independent p=0.5 masks keep about a quarter of the units, scaled by 4.
    kept = float(jnp.mean(y > 0))
    assert 0.2 < kept < 0.3
    assert jnp.allclose(y[y > 0], 4.0)


def test_sequential_errors(getkey):
    with pytest.raises(ValueError, match="at least one layer"):
        fd.Sequential()
    with pytest.raises(TypeError, match="layer 1 .* is not callable"):
        fd.Sequential(fd.layers.Dense(2, 2, key=getkey()), 3)
    seq = fd.Sequential(jnp.tanh, jnp.tanh)
    with pytest.raises(ValueError, match="needs a tuple of 2 states"):
        seq((None,), jnp.ones(2), fd.Context())


def test_sequential_contract(getkey):
    with fd.training_environment():
        seq = fd.layers.Dense(3, 4, key=getkey()) >> jnp.tanh >> fd.layers.Dense(4, 2, key=getkey())
    fd.testing.check_contract(seq, jnp.ones((2, 3)), batch_size=2)


def test_sequential_mode_inference(getkey):
    b = fd.layers.Dense(2, 2, mode=fd.batching_mode, key=getkey())
    t = fd.layers.Dense(2, 2, mode=fd.training_mode, key=getkey())
    n = fd.layers.Dense(2, 2, key=getkey())
    assert (t >> t).mode == fd.training_mode
    assert (b >> t).mode == fd.batching_mode
    assert fd.Sequential(jnp.tanh).mode == fd.nonbatching_mode
    with fd.training_environment():
        assert fd.Sequential(jnp.tanh).mode == fd.training_mode
    with pytest.raises(ValueError, match="mix batching and non-batching"):
        n >> t
    assert fd.Sequential(n, t, mode=fd.batching_mode).mode == fd.batching_mode
