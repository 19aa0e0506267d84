"""Fault injection for the surrogate spike functions: NaN inputs, extreme inputs, bad
parameters."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcdyn.surrogate as S


# Every surrogate, with its parameters and the valid range of each:
# (class, {name: (lower bound, bound excluded?)}).
SPECS = [
    (S.Sigmoid, {"alpha": (0.0, True)}),
    (S.FastSigmoid, {"alpha": (0.0, True)}),
    (S.InverseSquare, {"alpha": (0.0, True)}),
    (S.Arctan, {"alpha": (0.0, True)}),
    (S.PiecewiseQuadratic, {"alpha": (0.0, True)}),
    (S.PiecewiseExp, {"alpha": (0.0, True)}),
    (S.SoftSign, {"alpha": (0.0, True)}),
    (S.ERF, {"alpha": (0.0, True)}),
    (S.Gaussian, {"sigma": (0.0, True), "alpha": (0.0, True)}),
    (
        S.MultiGaussian,
        {"h": (0.0, False), "s": (0.0, True), "sigma": (0.0, True), "scale": (0.0, True)},
    ),
    (S.ReluGrad, {"alpha": (0.0, True), "width": (0.0, True)}),
    (S.Triangle, {"width": (0.0, True)}),
    (S.Boxcar, {"width": (0.0, True)}),
    (S.PiecewiseLeakyRelu, {"c": (0.0, False), "w": (0.0, True)}),
    (S.LogTailedRelu, {"alpha": (0.0, False)}),
    (S.SlayerGrad, {"alpha": (0.0, True)}),
    (S.QPseudoSpike, {"alpha": (1.0, True)}),
    (S.S2NN, {"alpha": (0.0, True), "beta": (0.0, True)}),
    (S.StraightThrough, {"alpha": (0.0, True)}),
    (S.NonzeroSignLog, {"alpha": (0.0, True)}),
    (S.LeakyRelu, {"alpha": (0.0, False), "beta": (0.0, True)}),
    (S.SquarewaveFourierSeries, {"t_period": (0.0, True)}),
]
IDS = [cls.__name__ for cls, _ in SPECS]


def test_specs_cover_every_surrogate():
    public = {
        name
        for name in dir(S)
        if isinstance(getattr(S, name), type)
        and issubclass(getattr(S, name), S.Surrogate)
        and getattr(S, name) is not S.Surrogate
    }
    assert public == set(IDS)


# Default parameters, and (with `steep=True`) a second set far from the defaults (steep /
# narrow kernels make the intermediate values overflow sooner).
def _instances(steep=True):
    out = []
    for cls, spec in SPECS:
        out.append(cls())
        if not steep:
            continue
        steep = {name: (1e3 if name in ("alpha", "s") else 1e-3) for name in spec}
        if cls is S.MultiGaussian:
            steep = {"h": 0.5, "s": 1e3, "sigma": 1e-3, "scale": 2.0}
        if cls is S.SquarewaveFourierSeries:
            steep = {"t_period": 1e-3}
        out.append(cls(**steep))
    return out


def _sweep(dtype):
    """|x| from the smallest subnormal to the largest finite value (log-spaced, plus the
    named extremes and a linear grid near threshold), both signs and zero."""
    fi = np.finfo(dtype)
    with np.errstate(over="ignore"):
        mags = np.concatenate(
            [
                np.geomspace(float(fi.smallest_subnormal), float(fi.max), 600),
                [fi.smallest_subnormal, fi.tiny, 1e-30, 1e30, 1e37, 3e37, 1e38, 3e38, fi.max],
                np.linspace(0.0, 10.0, 201),
            ]
        ).astype(dtype)
    mags = mags[np.isfinite(mags)]
    return np.concatenate([mags, -mags, [dtype(0.0), dtype(-0.0)]]).astype(dtype)


@jax.jit
def _derivatives(surrogates, x):
    """First and second derivatives of every surrogate at every x: reverse over reverse,
    and forward over forward."""
    out = []
    for s in surrogates:
        g = jax.vmap(jax.grad(s))(x)
        gg = jax.vmap(jax.grad(jax.grad(s)))(x)
        ff = jax.vmap(jax.jacfwd(jax.jacfwd(s)))(x)
        out.append((g, gg, ff))
    return out


@pytest.mark.parametrize(
    "dtype, steep",
    [
        (np.float32, False),
        (np.float64, False),
        # The same sweep with steep / narrow parameters: slower (twice the kernels).
        pytest.param(np.float32, True, marks=pytest.mark.slow),
        pytest.param(np.float64, True, marks=pytest.mark.slow),
    ],
)
def test_first_and_second_derivatives_finite_at_every_finite_input(dtype, steep):
    with jax.enable_x64(dtype is np.float64):
        sweep = _sweep(dtype)
        assert np.abs(sweep).max() == np.finfo(dtype).max
        assert np.any(sweep == np.finfo(dtype).smallest_subnormal)
        x = jnp.asarray(sweep)
        surrogates = _instances(steep)
        for s, (g, gg, ff) in zip(surrogates, _derivatives(surrogates, x)):
            for kind, v in (("grad", g), ("grad(grad)", gg), ("jacfwd(jacfwd)", ff)):
                assert v.dtype == dtype
                bad = ~np.isfinite(np.asarray(v))
                assert not bad.any(), (s, kind, sweep[bad][:5])
            # Forward and reverse mode agree (the same rule, evaluated in a different
            # order: near kinks float32 rounding differs by a few ulps of the peak).
            scale = float(np.max(np.abs(ff)))
            np.testing.assert_allclose(gg, ff, rtol=1e-4, atol=1e-2 * scale + 1e-30)


def test_rewritten_kernels_keep_their_values_and_second_derivatives():
    # The overflow-free forms (FastSigmoid, InverseSquare, SoftSign, Arctan, ERF, Gaussian,
    # MultiGaussian) give the closed-form derivative, also in the far tail (no clamping).
    cases = [
        (S.FastSigmoid(alpha=25.0), lambda x: 1 / (25 * abs(x) + 1) ** 2),
        (S.InverseSquare(alpha=100.0), lambda x: 1 / (100 * abs(x) + 1) ** 2),
        (S.SoftSign(alpha=2.0), lambda x: 2 / (2 * (1 + abs(2 * x)) ** 2)),
        (S.Arctan(alpha=2.0), lambda x: 2 / (2 * (1 + (math.pi / 2 * 2 * x) ** 2))),
        (S.ERF(alpha=1.5), lambda x: 1.5 / math.sqrt(math.pi) * math.exp(-((1.5 * x) ** 2))),
        (
            S.Gaussian(sigma=0.7, alpha=0.9),
            lambda x: 0.9 / (math.sqrt(2 * math.pi) * 0.7) * math.exp(-0.5 * (x / 0.7) ** 2),
        ),
    ]
    x = np.array([-3.0, -0.4, 0.3, 0.9, 2.2])
    tail = np.array([1e3, -1e6, 1e12, 1e100])  # heavy tails: exact, not flushed to 0
    h = 1e-5  # central difference: truncation ~1e-10 relative, rounding ~1e-11 (float64)

    @jax.jit
    def probe(s, x, tail):
        g = jax.vmap(jax.grad(s))
        gg = jax.vmap(jax.grad(jax.grad(s)))
        return g(x), gg(x), (g(x + h) - g(x - h)) / (2 * h), g(tail)

    with jax.enable_x64(True):
        for s, closed in cases:
            g, gg, fd, g_tail = probe(s, jnp.asarray(x), jnp.asarray(tail))
            np.testing.assert_allclose(g, [closed(v) for v in x], rtol=1e-12, err_msg=repr(s))
            np.testing.assert_allclose(gg, fd, rtol=1e-6, atol=1e-9, err_msg=repr(s))
            np.testing.assert_allclose(
                g_tail, [closed(v) for v in tail], rtol=1e-12, atol=1e-300, err_msg=repr(s)
            )
        # The far tail of the Arctan kernel in float32 (the 1/z branch).
        g = float(jax.grad(S.Arctan(alpha=2.0))(jnp.float32(1e15)))
        assert math.isclose(g, 1.0 / (math.pi * 1e15) ** 2, rel_tol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_input_gives_nan_spike_and_nan_derivative(dtype):
    with jax.enable_x64(dtype is np.float64):
        x = jnp.asarray([-1.0, np.nan, 0.0, 2.0, -np.inf, np.inf], dtype=dtype)
        expected = np.array([0.0, np.nan, 1.0, 1.0, 0.0, 1.0], dtype=dtype)

        @jax.jit
        def probe(surrogates, x):
            out = []
            for s in surrogates:
                g = jax.grad(lambda x: jnp.sum(s(x)))(x)
                _, t = jax.jvp(s, (x,), (jnp.ones_like(x),))
                out.append((s(x), g, t))
            return out

        for s, (y, g, t) in zip(_instances(), probe(_instances(), x)):
            assert y.dtype == dtype
            np.testing.assert_array_equal(y, expected, err_msg=repr(s))
            # The derivative at NaN is NaN (never a finite value that would hide it); at
            # every other input it is finite.
            for v in (g, t):
                assert np.isnan(v[1]), (s, v)
                assert np.all(np.isfinite(np.delete(np.asarray(v), 1))), (s, v)


def test_nan_propagates_through_a_neuron_step():
    import funcdyn as fd

    lif = fd.neurons.LIF(3, tau=10.0, V_rest=0.0, V_reset=0.0, V_th=1.0)
    state = lif.init_state(None)
    ctx = fd.Context(t=0.0, i=0, dt=1.0)
    _, spike = lif(state, jnp.array([0.0, jnp.nan, 50.0]), ctx)
    assert spike[0] == 0.0 and spike[2] == 1.0
    assert jnp.isnan(spike[1])


def _bad_values(low, excluded):
    below = low - 1.0
    vals = [below, -1e9, math.nan, math.inf, -math.inf, np.float32(math.nan)]
    if excluded:
        vals.append(low)
    return vals


@pytest.mark.parametrize("cls, spec", SPECS, ids=IDS)
def test_bad_parameters_raise_naming_surrogate_argument_and_range(cls, spec):
    for name, (low, excluded) in spec.items():
        rng = f"{'>' if excluded else '>='} {low:g}"
        for bad in _bad_values(low, excluded):
            with pytest.raises(ValueError, match=rf"^{cls.__name__}: `{name}` must be {rng}"):
                cls(**{name: bad})
        # A bad element of an array parameter (one per neuron) is found and located.
        arr = np.full(4, low + 1.0)
        arr[2] = math.nan
        with pytest.raises(
            ValueError, match=rf"{cls.__name__}: every element of `{name}` must be {rng}.*\(2,\)"
        ):
            cls(**{name: arr})
        with pytest.raises(ValueError, match=rf"{cls.__name__}: every element of `{name}`"):
            cls(**{name: jnp.asarray([low + 1.0, low - 1.0])})
        for wrong in (True, "2.0", None, [1.0]):
            with pytest.raises(TypeError, match=rf"{cls.__name__}: `{name}` must be a real"):
                cls(**{name: wrong})


@pytest.mark.parametrize("cls, spec", SPECS, ids=IDS)
def test_numpy_scalars_accepted_and_equal_to_python_floats(cls, spec):
    x = jnp.linspace(-2.0, 2.0, 9, dtype=jnp.float32) + 0.01
    for name, (low, _) in spec.items():
        value = low + 0.75
        for np_value in (np.float32(value), np.float64(value), np.asarray(value), np.int64(3)):
            s_np = cls(**{name: np_value})
            s_py = cls(**{name: float(np_value)})
            stored = getattr(s_np, name)
            assert type(stored) is float and stored == float(np_value)
            # A numpy float64 parameter does not promote a float32 input (strict promotion).
            g = jax.grad(lambda x: jnp.sum(s_np(x)))(x)
            assert g.dtype == jnp.float32
            np.testing.assert_array_equal(g, jax.grad(lambda x: jnp.sum(s_py(x)))(x))


def test_squarewave_n_validation():
    assert S.SquarewaveFourierSeries(n=np.int32(3)).n == 3
    assert type(S.SquarewaveFourierSeries(n=np.int64(3)).n) is int
    with pytest.raises(TypeError, match=r"SquarewaveFourierSeries: `n` must be a positive int"):
        S.SquarewaveFourierSeries(n=2.0)
    with pytest.raises(TypeError, match=r"SquarewaveFourierSeries: `n` must be a positive int"):
        S.SquarewaveFourierSeries(n=True)
    with pytest.raises(ValueError, match=r"SquarewaveFourierSeries: `n` must be a positive int"):
        S.SquarewaveFourierSeries(n=-1)


def test_traced_parameters_are_not_checked_at_construction():
    # Building a surrogate inside jit with a traced parameter is allowed (the value is not
    # known there); the gradient is the same as with the concrete value.
    f = jax.jit(lambda a, x: jax.grad(lambda x: S.Sigmoid(alpha=a)(x))(x))
    assert math.isclose(float(f(jnp.float32(2.0), jnp.float32(0.0))), 0.5, rel_tol=1e-6)
