"""A custom __init__ that is given `mode=` / `name=` and drops it is refused at construction."""

import jax.numpy as jnp
import pytest

import funcdyn as fd


class _Forgets(fd.DynamicalSystem):
    w: jnp.ndarray

    def __init__(self, n, *, mode=None, name=None):
        self.w = jnp.ones(n)  # mode and name are accepted but never assigned

    def __call__(self, state, x, ctx):
        return state, x * self.w


class _ForgetsViaKwargs(fd.DynamicalSystem):
    w: jnp.ndarray

    def __init__(self, n, **kwargs):
        self.w = jnp.ones(n)

    def __call__(self, state, x, ctx):
        return state, x * self.w


class _Assigns(fd.DynamicalSystem):
    w: jnp.ndarray

    def __init__(self, n, *, mode=None, name=None):
        self.w = jnp.ones(n)
        self.mode = fd.get_default_mode() if mode is None else mode
        self.name = name

    def __call__(self, state, x, ctx):
        return state, x * self.w


class _NoModeArgument(fd.DynamicalSystem):
    w: jnp.ndarray

    def __init__(self, n):
        self.w = jnp.ones(n)

    def __call__(self, state, x, ctx):
        return state, x * self.w


def test_dropped_mode_is_refused():
    with pytest.raises(TypeError, match=r"_Forgets.__init__ was given mode=TrainingMode but "
                                        r"did not assign it: add `self.mode = mode`"):
        _Forgets(3, mode=fd.training_mode)
    with pytest.raises(TypeError, match="was given name='layer' but did not assign it"):
        _Forgets(3, name="layer")
    with pytest.raises(TypeError, match="_ForgetsViaKwargs.__init__ was given mode="):
        _ForgetsViaKwargs(3, mode=fd.batching_mode)


def test_defaults_still_filled_when_nothing_was_given():
    # None means "the default": nothing the user asked for is lost.
    assert _Forgets(3).mode == fd.nonbatching_mode and _Forgets(3).name is None
    with fd.training_environment():
        assert _Forgets(3).mode == fd.training_mode
        assert _NoModeArgument(3).mode == fd.training_mode
    assert _NoModeArgument(3).name is None


def test_assigned_mode_is_kept():
    m = _Assigns(3, mode=fd.training_mode, name="x")
    assert m.mode == fd.training_mode and m.name == "x"
    assert fd.layers.Dense(2, 3, mode=fd.batching_mode, key=None,
                           W_initializer=jnp.ones((2, 3))).mode == fd.batching_mode
