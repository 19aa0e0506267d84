import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import norm

import funcdyn as fd  # noqa: F401
import funcdyn.surrogate as S


def _sig(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


# Each surrogate with non-default parameters and its closed-form derivative (numpy, float64).
CASES = [
    (S.Sigmoid(alpha=3.0), lambda x: 3.0 * _sig(3.0 * x) * _sig(-3.0 * x)),
    (S.FastSigmoid(alpha=10.0), lambda x: 1.0 / (10.0 * np.abs(x) + 1.0) ** 2),
    (S.InverseSquare(alpha=50.0), lambda x: 1.0 / (50.0 * np.abs(x) + 1.0) ** 2),
    (S.Arctan(alpha=2.0), lambda x: 2.0 / (2.0 * (1.0 + (np.pi / 2 * 2.0 * x) ** 2))),
    (
        S.PiecewiseQuadratic(alpha=1.5),
        lambda x: np.where(np.abs(x) > 1 / 1.5, 0.0, 1.5 - 1.5**2 * np.abs(x)),
    ),
    (S.PiecewiseExp(alpha=2.0), lambda x: 1.0 * np.exp(-2.0 * np.abs(x))),
    (S.SoftSign(alpha=2.0), lambda x: 2.0 / (2.0 * (1.0 + np.abs(2.0 * x)) ** 2)),
    (S.ERF(alpha=1.5), lambda x: 1.5 / np.sqrt(np.pi) * np.exp(-((1.5 * x) ** 2))),
    (S.Gaussian(sigma=0.7, alpha=0.9), lambda x: 0.9 * norm.pdf(x, 0.0, 0.7)),
    (
        S.MultiGaussian(h=0.2, s=5.0, sigma=0.6, scale=0.7),
        lambda x: (
            0.7
            * (
                1.2 * norm.pdf(x, 0, 0.6)
                - 0.2 * norm.pdf(x, 0.6, 3.0)
                - 0.2 * norm.pdf(x, -0.6, 3.0)
            )
        ),
    ),
    (S.ReluGrad(alpha=0.4, width=1.3), lambda x: 0.4 * np.maximum(1.3 - np.abs(x), 0.0)),
    (S.Triangle(width=0.8), lambda x: np.maximum(1 - np.abs(x) / 0.8, 0.0) / 0.8),
    (S.Boxcar(width=0.7), lambda x: np.where(np.abs(x) < 0.7, 0.5 / 0.7, 0.0)),
    (S.PiecewiseLeakyRelu(c=0.05, w=0.9), lambda x: np.where(np.abs(x) <= 0.9, 1 / 0.9, 0.05)),
    (
        S.LogTailedRelu(alpha=0.1),
        lambda x: np.where(x <= 0, 0.1, np.where(x <= 1, 1.0, 1.0 / np.maximum(x, 1.0))),
    ),
    (S.SlayerGrad(alpha=1.7), lambda x: np.exp(-1.7 * np.abs(x))),
    (S.QPseudoSpike(alpha=3.0), lambda x: (1 + 2 * np.abs(x) / 2.0) ** -3.0),
    (
        S.S2NN(alpha=3.0, beta=0.5),
        lambda x: np.where(
            x < 0, 3.0 * _sig(3.0 * x) * _sig(-3.0 * x), 0.5 / (np.maximum(x, 0) + 1)
        ),
    ),
    (S.StraightThrough(alpha=0.5), lambda x: 0.5 * np.ones_like(x)),
    (S.NonzeroSignLog(alpha=2.0), lambda x: 1.0 / (0.5 + np.abs(x))),
    (S.LeakyRelu(alpha=0.2, beta=0.8), lambda x: np.where(x >= 0, 0.8, 0.2)),
    (
        S.SquarewaveFourierSeries(n=3, t_period=6.0),
        lambda x: np.where(
            np.abs(x) < 3.0,
            4 / 6.0 * sum(np.cos((2 * i - 1) * 2 * np.pi / 6.0 * x) for i in range(1, 4)),
            0.0,
        ),
    ),
]
IDS = [type(s).__name__ for s, _ in CASES]

# Many points, avoiding the kinks of the piecewise kernels (checked separately).
X = np.concatenate([np.linspace(-4.0, 4.0, 1001) + 0.00123, [-1e-3, 1e-3, 0.0, 2.5, -2.5]])
REQUIRED = [
    "Sigmoid",
    "FastSigmoid",
    "Arctan",
    "PiecewiseQuadratic",
    "PiecewiseExp",
    "SoftSign",
    "ERF",
    "Gaussian",
    "MultiGaussian",
    "InverseSquare",
    "ReluGrad",
    "Triangle",
    "Boxcar",
    "PiecewiseLeakyRelu",
    "LogTailedRelu",
    "SlayerGrad",
    "QPseudoSpike",
    "S2NN",
    "StraightThrough",
]


def test_all_required_surrogates_exist():
    for name in REQUIRED:
        assert issubclass(getattr(S, name), S.Surrogate)
    assert set(REQUIRED) <= set(IDS)


@jax.jit
def _probe(surrogate, x, huge):
    """Everything one surrogate is checked for, in one compiled call."""
    total = lambda x: jnp.sum(surrogate(x))
    g = jax.grad(total)(x)
    _, jvp = jax.jvp(surrogate, (x,), (jnp.ones_like(x),))
    gv = jax.vmap(jax.grad(lambda xi: surrogate(xi)))(x)
    g_huge = jax.grad(total)(huge)
    # Second derivatives (the rule is itself differentiable) are finite at +-1e4 and 0.
    h_huge = jax.grad(lambda z: jnp.sum(jax.grad(total)(z)))(huge[jnp.array([0, 1, 8, 9, 10])])
    return surrogate(x), g, jvp, gv, surrogate(huge), g_huge, h_huge


HUGE = np.array([1e4, -1e4, 1e30, -1e30, 3e38, -3e38, np.inf, -np.inf, 0.0, -0.0, 1e-30])


@pytest.mark.parametrize("surrogate, closed_form", CASES, ids=IDS)
def test_forward_heaviside_and_gradient_closed_form(surrogate, closed_form):
    x = jnp.asarray(X, dtype=jnp.float32)
    huge = jnp.asarray(HUGE, dtype=jnp.float32)
    y, g, jvp, gv, y_huge, g_huge, h_huge = _probe(surrogate, x, huge)
    # Forward: exactly Heaviside (H(0) = H(-0) = 1), dtype and shape of x.
    assert y.dtype == x.dtype and y.shape == x.shape
    np.testing.assert_array_equal(y, (X >= 0).astype(np.float32))
    np.testing.assert_array_equal(y_huge, (HUGE >= 0).astype(np.float32))
    # Backward: the closed form at 1006 points.
    expected = closed_form(np.asarray(x, dtype=np.float64))
    np.testing.assert_allclose(g, expected, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(jvp, g, rtol=1e-6, atol=1e-7)  # forward mode, same rule
    np.testing.assert_allclose(gv, g, rtol=1e-6, atol=1e-7)  # vmap of grad
    # Stable: +-1e4, +-1e30, +-3e38 and +-inf give finite first derivatives.
    assert np.all(np.isfinite(g_huge)), g_huge
    assert np.all(np.isfinite(h_huge)), h_huge
    assert surrogate(jnp.array([0, -1, 2])).tolist() == [1.0, 0.0, 1.0]  # integer input


def test_float64():
    # Every surrogate in one compiled call: dtype kept, closed form to 1e-10.
    with jax.enable_x64(True):
        x = jnp.asarray(X, dtype=jnp.float64)

        @jax.jit
        def all_grads(x):
            return [(s(x), jax.grad(lambda x: jnp.sum(s(x)))(x)) for s, _ in CASES]

        for (y, g), (_, closed_form), name in zip(all_grads(x), CASES, IDS):
            assert g.dtype == jnp.float64 and y.dtype == jnp.float64, name
            np.testing.assert_allclose(
                g, closed_form(np.asarray(X)), rtol=1e-10, atol=1e-12, err_msg=name
            )


def test_array_parameters_broadcast_per_neuron():
    alpha = jnp.array([1.0, 2.0, 4.0])
    x = jnp.linspace(-2.0, 2.0, 12).reshape(4, 3) + 0.01
    grad = jax.jit(lambda s, x: jax.grad(lambda x: jnp.sum(s(x)))(x))
    for cls in (S.Sigmoid, S.FastSigmoid, S.PiecewiseExp, S.Arctan):
        g = grad(cls(alpha=alpha), x)
        for j in range(3):
            gj = cls(alpha=float(alpha[j])).grad(x[:, j])
            np.testing.assert_allclose(g[:, j], gj, rtol=1e-6)
    # Gradients flow to x only: an array parameter gets a zero (never a NaN) gradient.
    ga = jax.grad(lambda a: jnp.sum(S.Sigmoid(alpha=a)(x)))(alpha)
    np.testing.assert_array_equal(ga, jnp.zeros(3))
    # Per-neuron multi-parameter surrogate under a batch axis.
    g = jax.grad(lambda x: jnp.sum(S.Gaussian(sigma=jnp.array([0.3, 0.5, 0.7]))(x)))(x)
    assert g.shape == x.shape and bool(jnp.all(jnp.isfinite(g)))


def test_surrogate_is_a_pytree_under_jit_and_vmap():
    sur = S.Sigmoid(alpha=jnp.array(2.0))
    f = jax.jit(lambda s, x: jax.grad(lambda x: jnp.sum(s(x)))(x))
    np.testing.assert_allclose(f(sur, jnp.array([0.0])), [0.5])
    alphas = S.Sigmoid(alpha=jnp.array([1.0, 2.0]))
    out = jax.vmap(lambda s, x: jax.grad(lambda x: s(x))(x))(alphas, jnp.zeros(2))
    np.testing.assert_allclose(out, [0.25, 0.5])


def test_custom_surrogate_by_subclassing():
    class Lorentz(S.Surrogate):
        gamma: float = 0.5

        def grad(self, x):
            return self.gamma / (jnp.pi * (x * x + self.gamma**2))

    x = jnp.linspace(-3, 3, 11)
    sur = Lorentz()
    np.testing.assert_array_equal(sur(x), (x >= 0).astype(x.dtype))
    g = jax.grad(lambda x: jnp.sum(sur(x)))(x)
    np.testing.assert_allclose(g, 0.5 / (np.pi * (np.asarray(x) ** 2 + 0.25)), rtol=1e-6)

    with pytest.raises(TypeError):
        S.Surrogate()  # abstract: `grad` must be implemented


def test_kinks_are_finite_and_one_sided_values():
    # At the kinks the derivative takes one of the two one-sided values.
    assert float(jax.grad(S.Boxcar(width=0.5))(0.5)) == 0.0
    assert float(jax.grad(S.PiecewiseLeakyRelu(c=0.1, w=1.0))(1.0)) == 1.0
    assert float(jax.grad(S.LogTailedRelu())(0.0)) == 0.0
    assert float(jax.grad(S.S2NN())(0.0)) == 1.0
    assert math.isclose(float(jax.grad(S.Sigmoid(alpha=4.0))(0.0)), 1.0)


def test_errors():
    with pytest.raises(ValueError, match=r"Sigmoid: `alpha` must be > 0"):
        S.Sigmoid(alpha=0.0)
    with pytest.raises(ValueError, match=r"FastSigmoid: `alpha` must be > 0"):
        S.FastSigmoid(alpha=-1.0)
    with pytest.raises(ValueError, match=r"Gaussian: `sigma` must be > 0"):
        S.Gaussian(sigma=0.0)
    with pytest.raises(ValueError, match=r"Boxcar: `width` must be > 0"):
        S.Boxcar(width=-0.5)
    with pytest.raises(ValueError, match=r"QPseudoSpike: `alpha` must be > 1"):
        S.QPseudoSpike(alpha=1.0)
    with pytest.raises(ValueError, match=r"SquarewaveFourierSeries: `n` must be a positive int"):
        S.SquarewaveFourierSeries(n=0)
