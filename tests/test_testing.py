"""funcdyn.testing must catch broken models, not only pass good ones."""

import equinox as eqx
import funcdyn as fd
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from funcdyn import testing


class Good(fd.DynamicalSystem):
    w: jax.Array

    def init_state(self, batch_size=None, *, key=None):
        self.check_batch_size(batch_size)
        return jnp.zeros(3)

    def __call__(self, state, x, ctx):
        s = 0.5 * state + self.w * x
        return s, s


class ImpureCounter(Good):
    """Leaks Python state across calls: eager and jit disagree after the first call."""

    calls: list = eqx.field(static=True, default_factory=list)

    def __call__(self, state, x, ctx):
        self.calls.append(1)
        s = 0.5 * state + self.w * x + len(self.calls)
        return s, s


class ZeroGrad(Good):
    def __call__(self, state, x, ctx):
        s = 0.5 * state + jax.lax.stop_gradient(self.w) * x
        return s, jax.lax.stop_gradient(s)


class NaNGrad(Good):
    def __call__(self, state, x, ctx):
        s = jnp.sqrt(jnp.abs(self.w * x) - jnp.abs(self.w * x))
        return state, s


W = jnp.array([1.0, -2.0, 0.5])
X = jnp.array([0.3, 0.1, -0.2])


def test_good_model_passes():
    testing.check_contract(Good(W), X)


def test_detects_impure_model():
    with pytest.raises(AssertionError, match="eager != jit"):
        testing.check_jit(ImpureCounter(W), X)


def test_detects_zero_and_nan_gradients():
    with pytest.raises(AssertionError, match="all gradients are zero"):
        testing.check_grad(ZeroGrad(W), X)
    with pytest.raises(AssertionError, match="non-finite gradient"):
        testing.check_grad(NaNGrad(W), X)


def test_detects_mutation_of_input_state():
    class Mutates(Good):
        def __call__(self, state, x, ctx):
            state[0] = 99.0
            return state, x

    with pytest.raises(AssertionError, match="the input state changed"):
        testing.check_immutable(Mutates(W), X, state=np.zeros(3, np.float32))


def test_detects_recompilation_from_unstable_state():
    class PythonState(Good):
        def init_state(self, batch_size=None, *, key=None):
            return 0.0  # a Python float: static under jit, then an array after one step

    testing.check_no_recompile(Good(W), X)
    with pytest.raises(AssertionError, match="retraced on a second call"):
        testing.check_no_recompile(PythonState(W), X)


def test_perturbed_inputs_differ_and_keep_integers():
    xs = testing.perturbed_inputs({"f": jnp.ones(3), "i": jnp.arange(3)}, 4)
    assert xs["f"].shape == (4, 3) and not jnp.array_equal(xs["f"][0], xs["f"][1])
    assert jnp.array_equal(xs["i"], jnp.stack([jnp.arange(3)] * 4))
