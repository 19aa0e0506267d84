import equinox as eqx
import funcdyn as fd
import jax
import jax.numpy as jnp
import pytest


class Leaky(fd.DynamicalSystem):
    """A minimal stateful model: v <- a v + x."""

    a: float = eqx.field(static=True, default=0.5)
    size: int = eqx.field(static=True, default=3)

    def init_state(self, batch_size=None, *, key=None):
        self.check_batch_size(batch_size)
        shape = (self.size,) if batch_size is None else (batch_size, self.size)
        return jnp.zeros(shape)

    def __call__(self, state, x, ctx):
        v = self.a * state + x
        return v, v


class Net(fd.DynamicalSystem):
    first: Leaky
    second: Leaky
    many: tuple

    def __init__(self, *, mode=None):
        self.mode = fd._core._modes.resolve_mode(mode)
        self.first = Leaky(mode=self.mode)
        self.second = Leaky(a=0.25, mode=self.mode)
        self.many = (Leaky(mode=self.mode), jnp.tanh)

    def __call__(self, state, x, ctx):
        s1, y = self.first(state["first"], x, ctx.child("first"))
        s2, y = self.second(state["second"], y, ctx.child("second"))
        return {"first": s1, "second": s2, "many": state["many"]}, y


def test_init_state_batch_size_rules():
    nb = Leaky()
    assert nb.init_state().shape == (3,)
    with pytest.raises(ValueError, match=r"NonBatchingMode.*init_state\(\) or init_state\(None\)"):
        nb.init_state(4)
    b = Leaky(mode=fd.batching_mode)
    assert b.init_state(4).shape == (4, 3)
    for bad in (None, 0, -1, 2.0, True):
        with pytest.raises(ValueError, match="needs the batch size as a positive int"):
            b.init_state(bad)


def test_default_init_state_gathers_children():
    net = Net(mode=fd.batching_mode)
    state = net.init_state(2)
    assert set(state) == {"first", "second", "many"}
    assert state["first"].shape == (2, 3)
    assert state["many"][0].shape == (2, 3) and state["many"][1] is None
    with pytest.raises(ValueError, match="batch size"):
        net.init_state()


def test_default_init_state_is_none_without_children():
    class Stateless(fd.DynamicalSystem):
        def __call__(self, state, x, ctx):
            return state, 2 * x

    assert Stateless().init_state() is None


def test_network_step_values():
    net = Net()
    state = net.init_state()
    x = jnp.array([1.0, 2.0, 3.0])
    state, y = net(state, x, fd.Context())
    assert jnp.allclose(y, x)  # both start at zero: v1 = x, v2 = x
    state, y = net(state, x, fd.Context())
    # v1 = 0.5 x + x = 1.5 x ; v2 = 0.25 x + 1.5 x = 1.75 x
    assert jnp.allclose(y, 1.75 * x)


def test_repr_shows_name_first_and_mode(getkey):
    d = fd.layers.Dense(128, 100, mode=fd.nonbatching_mode, name="hidden_layer", key=getkey())
    r = repr(d)
    assert r.startswith("Dense(name=hidden_layer, ")
    assert "num_in=128" in r and "num_out=100" in r and r.endswith("mode=NonBatchingMode)")
    assert "W=f32[128,100]" in r


def test_name_must_be_str(getkey):
    with pytest.raises(TypeError, match="`name` must be a str"):
        fd.layers.Dense(2, 2, name=3, key=getkey())


def test_module_is_immutable(getkey):
    d = fd.layers.Dense(2, 2, key=getkey())
    with pytest.raises(Exception):
        d.W = jnp.zeros((2, 2))


def test_contract_on_user_network():
    fd.testing.check_contract(Net(), jnp.array([1.0, -2.0, 0.5]))
    fd.testing.check_contract(Net(mode=fd.training_mode), jnp.ones((2, 3)), batch_size=2, grad=False)
