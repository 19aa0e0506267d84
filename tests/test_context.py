import funcdyn as fd
import jax
import jax.numpy as jnp
import pytest


def test_context_fields_and_static_parts():
    ctx = fd.Context(t=1.5, i=3, dt=0.5, fit=True, key=None)
    assert float(ctx.t) == 1.5 and int(ctx.i) == 3 and ctx.dt == 0.5 and ctx.fit
    leaves = jax.tree_util.tree_leaves(ctx)
    assert len(leaves) == 2  # t and i are traced; dt and fit are static; key is None


def test_context_validation():
    with pytest.raises(ValueError, match="dt must be a positive float"):
        fd.Context(dt=0.0)
    with pytest.raises(TypeError, match="dt is static"):
        fd.Context(dt=jnp.asarray(0.1))
    with pytest.raises(TypeError, match="fit must be a Python bool"):
        fd.Context(fit=1)


def test_child_keys_distinct_and_reproducible():
    ctx = fd.Context(key=jax.random.key(0))
    a, b, a2 = ctx.child(0), ctx.child(1), ctx.child(0)
    ka, kb, ka2 = (jax.random.key_data(c.key) for c in (a, b, a2))
    assert not jnp.array_equal(ka, kb)
    assert jnp.array_equal(ka, ka2)
    named = jax.random.key_data(ctx.child("encoder").key)
    assert jnp.array_equal(named, jax.random.key_data(ctx.child("encoder").key))
    assert not jnp.array_equal(named, jax.random.key_data(ctx.child("decoder").key))
    with pytest.raises(TypeError, match="named by an int or a str"):
        ctx.child(1.5)


def test_child_without_key_is_same_context():
    ctx = fd.Context()
    assert ctx.child(3) is ctx


def test_require_key_error():
    with pytest.raises(ValueError, match="Dropout.*key=None"):
        fd.Context(fit=True).require_key("Dropout")


def test_replace():
    ctx = fd.Context(dt=0.1).replace(fit=True)
    assert ctx.fit and ctx.dt == 0.1
    with pytest.raises(TypeError, match="unknown fields"):
        ctx.replace(foo=1)


def test_context_is_scannable():
    ctxs = jax.tree_util.tree_map(
        lambda *a: jnp.stack(a), *[fd.Context(t=0.1 * i, i=i, dt=0.1) for i in range(4)]
    )
    _, ts = jax.lax.scan(lambda c, ctx: (c, ctx.t * 2), None, ctxs)
    assert jnp.allclose(ts, jnp.array([0.0, 0.2, 0.4, 0.6]))
