import equinox as eqx
import funcdyn as fd
import jax
import jax.numpy as jnp
import optax
import pytest


def test_trainable_selects_training_mode_arrays_only(getkey):
    frozen = fd.layers.Dense(3, 4, mode=fd.batching_mode, key=getkey())
    readout = fd.layers.Dense(4, 2, mode=fd.training_mode, key=getkey())
    model = fd.Sequential(frozen, jnp.tanh, readout, mode=fd.batching_mode)
    spec = fd.trainable(model)
    assert spec.layers[0].W is False and spec.layers[0].b is False
    assert spec.layers[2].W is True and spec.layers[2].b is True
    params, static = eqx.partition(model, spec)
    assert len(jax.tree_util.tree_leaves(params)) == 2
    assert eqx.tree_equal(eqx.combine(params, static), model)


def test_integer_arrays_and_floats_never_trainable():
    class WithBuffers(fd.DynamicalSystem):
        w: jax.Array
        index: jax.Array
        gain: float

        def __call__(self, state, x, ctx):
            return state, x * self.w[self.index] * self.gain

    m = WithBuffers(jnp.ones(3), jnp.arange(3), 2.0, mode=fd.training_mode)
    spec = fd.trainable(m)
    assert spec.w is True and spec.index is False and spec.gain is False


@pytest.mark.standard_promotion
def test_optax_trains_only_the_readout(getkey):
    frozen = fd.layers.Dense(3, 8, mode=fd.batching_mode, key=getkey())
    readout = fd.layers.Dense(8, 1, mode=fd.training_mode, key=getkey())
    model = frozen >> jnp.tanh >> readout
    x = jax.random.normal(getkey(), (64, 3))
    y = jnp.sin(x[:, :1])
    params, static = eqx.partition(model, fd.trainable(model))
    opt = optax.adam(1e-2)
    opt_state = opt.init(params)

    @eqx.filter_jit
    def step(params, opt_state):
        def loss(p):
            m = eqx.combine(p, static)
            _, out = m(m.init_state(64), x, fd.Context())
            return jnp.mean((out - y) ** 2)

        value, grads = eqx.filter_value_and_grad(loss)(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return eqx.apply_updates(params, updates), opt_state, value

    losses = []
    for _ in range(100):
        params, opt_state, value = step(params, opt_state)
        losses.append(float(value))
    trained = eqx.combine(params, static)
    assert losses[-1] < 0.5 * losses[0]
    assert jnp.array_equal(trained.layers[0].W, frozen.W)
    assert not jnp.array_equal(trained.layers[2].W, readout.W)
