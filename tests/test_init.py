import math

import funcdyn as fd
import funcdyn.init as fi
import jax
import jax.numpy as jnp
import numpy as np
import pytest

KEY = jax.random.key(0)


def test_constants():
    assert jnp.array_equal(fi.ZeroInit()(None, (2, 3)), jnp.zeros((2, 3)))
    assert jnp.array_equal(fi.OneInit()(None, (2,)), jnp.ones(2))
    assert jnp.array_equal(fi.OneInit(3.0)(None, (2,)), jnp.full(2, 3.0))
    assert jnp.array_equal(fi.Constant(2.5)(None, (4,)), jnp.full(4, 2.5))
    assert jnp.array_equal(fi.IdentityMatrix(2.0)(None, (3, 4)), 2.0 * jnp.eye(3, 4))
    assert fi.Identity is fi.IdentityMatrix  # the documented alias
    with pytest.raises(ValueError, match="IdentityMatrix initialises 2-d"):
        fi.IdentityMatrix()(None, (3,))


@pytest.mark.parametrize("init,mean,std", [
    (fi.Normal(1.0, 2.0), 1.0, 2.0),
    (fi.Uniform(-1.0, 3.0), 1.0, 4 / math.sqrt(12)),
])
def test_random_moments(init, mean, std):
    w = np.asarray(init(KEY, (200, 500)))
    assert abs(w.mean() - mean) < 0.02 * max(std, 1)
    assert abs(w.std() - std) / std < 0.02


def test_truncated_normal_bounds():
    w = np.asarray(fi.TruncatedNormal(0.5, 2.0, -1.0, 1.0)(KEY, (10000,)))
    assert w.min() >= 0.5 - 2.0 - 1e-6 and w.max() <= 0.5 + 2.0 + 1e-6


@pytest.mark.parametrize("cls,scale,fan", [
    (fi.KaimingNormal, 2.0, "in"), (fi.KaimingUniform, 2.0, "in"),
    (fi.XavierNormal, 1.0, "avg"), (fi.XavierUniform, 1.0, "avg"),
    (fi.LecunNormal, 1.0, "in"), (fi.LecunUniform, 1.0, "in"),
])
def test_variance_scaling_presets(cls, scale, fan):
    shape = (400, 200)
    w = np.asarray(cls()(KEY, shape))
    fans = {"in": 400, "avg": 300}
    expected_var = scale / fans[fan]
    assert abs(w.var() / expected_var - 1) < 0.03
    w20 = np.asarray(cls(scale=20.0)(KEY, shape))
    assert abs(w20.var() / (20.0 / fans[fan]) - 1) < 0.03


def test_variance_scaling_fan_out_and_conv_fans():
    assert fi.compute_fans((3, 3, 16, 32)) == (144.0, 288.0)
    assert fi.compute_fans((7,)) == (7.0, 7.0)
    w = np.asarray(fi.VarianceScaling(1.0, "fan_out", "normal")(KEY, (300, 100)))
    assert abs(w.var() * 100 - 1) < 0.05


def test_variance_scaling_errors():
    with pytest.raises(ValueError, match="`mode` must be one of"):
        fi.VarianceScaling(1.0, "fan_x")
    with pytest.raises(ValueError, match="`distribution` must be one of"):
        fi.VarianceScaling(1.0, "fan_in", "cauchy")
    with pytest.raises(ValueError, match="`scale` must be > 0"):
        fi.KaimingNormal(scale=0.0)


@pytest.mark.parametrize("shape", [(5, 5), (8, 3), (3, 8), (2, 3, 4)])
def test_orthogonal(shape):
    w = np.asarray(fi.Orthogonal(scale=2.0)(KEY, shape)).reshape(-1, shape[-1])
    gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-4)
    with pytest.raises(ValueError, match=">= 2 axes"):
        fi.Orthogonal()(KEY, (4,))


def test_random_initialisers_need_key():
    with pytest.raises(ValueError, match="Normal draws random numbers"):
        fi.Normal()(None, (2,))


def test_errors_in_arguments():
    with pytest.raises(ValueError, match="`scale` must be >= 0"):
        fi.Normal(0.0, -1.0)
    with pytest.raises(ValueError, match="`min_val`"):
        fi.Uniform(1.0, 0.0)
    with pytest.raises(ValueError, match="`lower` must be below"):
        fi.TruncatedNormal(0.0, 1.0, 1.0, -1.0)


class TestParameterResolution:
    def test_array_shape_checked(self):
        w = fi.parameter(np.ones((2, 3)), (2, 3), name="W")
        assert w.shape == (2, 3) and w.dtype == jnp.float32
        with pytest.raises(ValueError, match=r"`W` must have shape \(2, 3\), got \(3, 2\)"):
            fi.parameter(np.ones((3, 2)), (2, 3), name="W")

    def test_broadcastable(self):
        tau = fi.parameter(10.0, (5,), name="tau", broadcast=True)
        assert tau.shape == ()
        tau = fi.parameter(jnp.arange(5.0), (5,), name="tau", broadcast=True)
        assert tau.shape == (5,)
        with pytest.raises(ValueError, match="does not broadcast to"):
            fi.parameter(jnp.ones(3), (5,), name="tau", broadcast=True)
        with pytest.raises(ValueError, match="does not broadcast to"):
            fi.parameter(jnp.ones((2, 5)), (5,), name="tau", broadcast=True)

    def test_initializer_and_key(self):
        w = fi.parameter(fi.Normal(), (4,), name="W", key=KEY)
        assert jnp.array_equal(w, fi.Normal()(KEY, (4,)))
        with pytest.raises(ValueError, match="`W` uses the random initialiser Normal: pass `key="):
            fi.parameter(fi.Normal(), (4,), name="W")
        # Deterministic initialisers need no key.
        assert jnp.array_equal(fi.parameter(fi.ZeroInit(), (4,), name="b"), jnp.zeros(4))

    def test_callables(self):
        w = fi.parameter(lambda shape: np.full(shape, 2.0), (2, 2), name="W")
        assert jnp.array_equal(w, jnp.full((2, 2), 2.0))
        w = fi.parameter(lambda key, shape: jax.random.normal(key, shape), (3,), name="W", key=KEY)
        assert w.shape == (3,)
        with pytest.raises(ValueError, match="callable taking \\(key, shape\\)"):
            fi.parameter(lambda key, shape: None, (3,), name="W")
        with pytest.raises(TypeError, match="must take `shape` or `\\(key, shape\\)`"):
            fi.parameter(lambda a, b, c: None, (3,), name="W")
        with pytest.raises(ValueError, match="must have shape"):
            fi.parameter(lambda shape: np.ones(7), (3,), name="W")

    def test_none(self):
        assert fi.parameter(None, (3,), name="b", allow_none=True) is None
        with pytest.raises(ValueError, match="`W` cannot be None"):
            fi.parameter(None, (3,), name="W")

    def test_bad_type(self):
        with pytest.raises(TypeError, match="`W` must be an array, an Initializer"):
            fi.parameter("abc", (3,), name="W")


def test_custom_initializer_subclass():
    class Sparse(fi.Initializer):
        density: float

        def __call__(self, key, shape, dtype=None):
            dtype = dtype or fi.default_float_dtype()
            keep = jax.random.bernoulli(key, self.density, shape)
            return jnp.where(keep, jnp.ones(shape, dtype), jnp.zeros(shape, dtype))

    w = fi.parameter(Sparse(0.25), (100, 100), name="W", key=KEY)
    assert abs(float(w.mean()) - 0.25) < 0.02


def test_every_way_to_build_a_dense(getkey):
    arr = np.ones((3, 2), np.float32)
    d = fd.layers.Dense(3, 2, W_initializer=arr, b_initializer=None)
    assert d.b is None and jnp.array_equal(d.W, arr)
    d = fd.layers.Dense(3, 2, W_initializer=lambda shape: np.zeros(shape), b_initializer=fi.Constant(1.0))
    assert jnp.array_equal(d.b, jnp.ones(2))
    d = fd.layers.Dense(3, 2, W_initializer=fi.KaimingNormal(scale=20.0), key=getkey())
    assert d.W.shape == (3, 2)


def test_normal_argument_order_is_explicit():
    # BrainPy's order (mean, scale) with both given; a single positional number is refused.
    n = fi.Normal(0.5, 2.0)
    assert (n.mean, n.scale) == (0.5, 2.0)
    assert repr(fi.Normal(scale=0.01)) == "Normal(mean=0.0, scale=0.01)"
    assert repr(fi.Normal()) == "Normal(mean=0.0, scale=1.0)"
    w = fi.Normal(scale=0.01)(KEY, (20_000,))
    # Sample moments of 20,000 draws: std error of the mean 7e-5, of the std 5e-5.
    assert abs(float(jnp.mean(w))) < 5e-4 and abs(float(jnp.std(w)) - 0.01) < 5e-4
    with pytest.raises(TypeError, match=r"Normal\(0.01\) is ambiguous.*Normal\(scale=0.01\)"):
        fi.Normal(0.01)
    with pytest.raises(TypeError, match=r"TruncatedNormal\(0.1\) is ambiguous"):
        fi.TruncatedNormal(0.1)
    with pytest.raises(TypeError, match="at most two positional"):
        fi.Normal(0.0, 1.0, 2.0)
    with pytest.raises(TypeError, match="`mean` given both by position and by keyword"):
        fi.Normal(0.0, mean=1.0)
    with pytest.raises(TypeError, match="`scale` given both"):
        fi.Normal(0.0, 1.0, scale=1.0)
    t = fi.TruncatedNormal(scale=2.0, lower=-1.0, upper=1.0)
    assert repr(t) == "TruncatedNormal(mean=0.0, scale=2.0, lower=-1.0, upper=1.0)"
    assert float(jnp.max(jnp.abs(t(KEY, (1000,))))) <= 2.0


def test_parameter_name_is_optional():
    assert fi.parameter(jnp.ones(3), (3,)).shape == (3,)
    with pytest.raises(ValueError, match="The parameter must have shape \\(2,\\), got \\(3,\\)"):
        fi.parameter(jnp.ones(3), (2,))
    with pytest.raises(ValueError, match="The parameter cannot be None"):
        fi.parameter(None, (2,))
    with pytest.raises(ValueError, match="The parameter uses the random initialiser Normal"):
        fi.parameter(fi.Normal(), (2,))
