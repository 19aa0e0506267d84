"""Contract checks that every funcdyn model passes; public so users can check theirs.

```python
from funcdyn.testing import check_contract
check_contract(model, x, dt=0.1)   # raises AssertionError naming the failed property
```
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np

from ._core._context import Context
from ._core._trainable import trainable

__all__ = [
    "check_contract",
    "check_jit",
    "check_vmap",
    "check_scan",
    "check_grad",
    "check_no_recompile",
    "check_immutable",
    "perturbed_inputs",
]


def _assert_close(a, b, what: str, rtol: float, atol: float) -> None:
    la, ta = jtu.tree_flatten(a)
    lb, tb = jtu.tree_flatten(b)
    assert ta == tb, f"{what}: tree structures differ: {ta} vs {tb}"
    for x, y in zip(la, lb):
        if eqx.is_array(x) or eqx.is_array(y):
            x = np.asarray(x)
            y = np.asarray(y)
            assert x.shape == y.shape, f"{what}: shapes differ {x.shape} vs {y.shape}"
            if jnp.issubdtype(x.dtype, jnp.inexact):
                np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=what)
            elif jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
                continue
            else:
                np.testing.assert_array_equal(x, y, err_msg=what)


def _ctx(dt: float, fit: bool, key, i: int = 0) -> Context:
    return Context.for_step(i, dt=dt, fit=fit, key=key)


# One compiled step shared by the checks: compiling is most of their cost, and a model's
# step compiles once for all of them. (Only `check_jit` and `check_immutable` run eagerly:
# eager = jit is their property; the others compare two compiled computations.)
_jit_step = eqx.filter_jit(lambda m, s, x, c: m(s, x, c))
# The step vmapped over states and inputs (model and context shared), and scanned over
# stacked inputs and contexts.
_jit_vmap_step = eqx.filter_jit(
    eqx.filter_vmap(lambda m, s, x, c: m(s, x, c), in_axes=(None, 0, 0, None))
)
_jit_scan_step = eqx.filter_jit(
    lambda m, s, inputs: jax.lax.scan(lambda s, inp: m(s, *inp), s, inputs)
)


def perturbed_inputs(x: Any, n: int, *, key=None, scale: float = 0.1) -> Any:
    """`n` copies of the input pytree `x`, stacked on a new leading axis, each with a
    different small perturbation of its floating-point arrays (integer arrays,
    booleans and keys are repeated unchanged); `key` seeds the perturbations."""
    key = jax.random.key(1234) if key is None else key
    # NumPy draws, seeded by the key: jax.random would compile a random-bit kernel for
    # every new input shape (about a second each on a CPU, most of the contract checks'
    # time).
    data = np.asarray(jax.random.key_data(key)).ravel()
    rng = np.random.default_rng([int(v) for v in data])
    leaves, treedef = jtu.tree_flatten(x)
    out = []
    for leaf in leaves:
        leaf = jnp.asarray(leaf)
        if jnp.issubdtype(leaf.dtype, jnp.inexact):
            stacked = np.stack([np.asarray(leaf)] * n)
            mag = np.maximum(np.abs(stacked), 1.0)
            noise = rng.standard_normal(stacked.shape)
            out.append(jnp.asarray((stacked + scale * mag * noise).astype(leaf.dtype)))
        else:
            out.append(jnp.stack([leaf] * n))
    return jtu.tree_unflatten(treedef, out)


def _initial_state(model, state, batch_size):
    return model.init_state(batch_size) if state is None else state


def check_jit(model, x, *, dt=1.0, state=None, batch_size=None, fit=False, key=None,
              rtol=1e-5, atol=1e-6) -> None:
    """Eager step equals the jitted step."""
    state = _initial_state(model, state, batch_size)
    ctx = _ctx(dt, fit, key)
    eager = model(state, x, ctx)
    jitted = _jit_step(model, state, x, ctx)
    _assert_close(eager, jitted, f"{type(model).__name__}: eager != jit", rtol, atol)


def check_vmap(model, x, *, dt=1.0, state=None, batch_size=None, fit=False, key=None,
               n=3, steps=2, rtol=1e-5, atol=1e-6) -> None:
    """`jax.vmap` of the step over `n` (state, input) pairs equals a Python loop.

    The states come from running `steps` steps on `n` different perturbations of `x`,
    so that the vmapped states differ from each other."""
    state = _initial_state(model, state, batch_size)
    xs = perturbed_inputs(x, n)
    states = []
    for b in range(n):
        s = state
        xb = jtu.tree_map(lambda a: a[b], xs)
        for i in range(steps):
            s, _ = _jit_step(model, s, xb, _ctx(dt, fit, key, i))
        states.append(s)
    states_b = jtu.tree_map(lambda *a: jnp.stack(a), *states)
    ctx = _ctx(dt, fit, key, steps)
    vmapped = _jit_vmap_step(model, states_b, xs, ctx)
    looped = [
        _jit_step(model, states[b], jtu.tree_map(lambda a: a[b], xs), ctx) for b in range(n)
    ]
    looped = jtu.tree_map(lambda *a: jnp.stack(a), *looped)
    _assert_close(vmapped, looped, f"{type(model).__name__}: vmap != loop", rtol, atol)


def check_scan(model, x, *, dt=1.0, state=None, batch_size=None, fit=False, key=None,
               steps=5, rtol=1e-5, atol=1e-6) -> None:
    """`lax.scan` over `steps` perturbed inputs equals an unrolled Python loop."""
    state = _initial_state(model, state, batch_size)
    xs = perturbed_inputs(x, steps)
    ctxs = [_ctx(dt, fit, key, i) for i in range(steps)]
    stacked_ctx = jtu.tree_map(lambda *a: jnp.stack(a), *ctxs)
    scanned = _jit_scan_step(model, state, (xs, stacked_ctx))
    s = state
    ys = []
    for i in range(steps):
        s, y = _jit_step(model, s, jtu.tree_map(lambda a: a[i], xs), ctxs[i])
        ys.append(y)
    unrolled = (s, jtu.tree_map(lambda *a: jnp.stack(a), *ys))
    _assert_close(scanned, unrolled, f"{type(model).__name__}: scan != unrolled", rtol, atol)


def _float_sum(tree) -> jax.Array:
    total = jnp.zeros(())
    for leaf in jtu.tree_leaves(tree):
        if eqx.is_inexact_array(leaf):
            total = total + jnp.sum(leaf.astype(total.dtype) ** 2)
    return total


def check_grad(model, x, *, dt=1.0, state=None, batch_size=None, fit=False, key=None,
               steps=5, wrt: Any = None) -> None:
    """Gradients of a scanned loss (sum of squares of outputs and final state) are
    finite, and non-zero with respect to the parameters (the `wrt` filter, default the
    trainable arrays, else every floating-point array) and, where there are none, with
    respect to the inputs."""
    state = _initial_state(model, state, batch_size)
    xs = perturbed_inputs(x, steps)
    ctxs = jtu.tree_map(lambda *a: jnp.stack(a), *[_ctx(dt, fit, key, i) for i in range(steps)])
    if wrt is None:
        spec = trainable(model)
        if not any(jtu.tree_leaves(spec)):
            spec = eqx.is_inexact_array
    else:
        spec = wrt
    params, static = eqx.partition(model, spec)

    def loss(params, xs):
        m = eqx.combine(params, static)
        final, ys = jax.lax.scan(lambda s, inp: m(s, *inp), state, (xs, ctxs))
        return _float_sum(ys) + _float_sum(final)

    xs_float = jtu.tree_map(
        lambda a: a if jnp.issubdtype(a.dtype, jnp.inexact) else None, xs
    )
    g_params, g_xs = eqx.filter_jit(eqx.filter_grad(
        lambda pair: loss(pair[0], eqx.combine(pair[1], xs))
    ))((params, xs_float))
    name = type(model).__name__
    g_leaves = [g for g in jtu.tree_leaves(g_params) if eqx.is_array(g)]
    x_leaves = [g for g in jtu.tree_leaves(g_xs) if eqx.is_array(g)]
    for g in g_leaves + x_leaves:
        assert bool(jnp.all(jnp.isfinite(g))), f"{name}: non-finite gradient"
    target = g_leaves if g_leaves else x_leaves
    assert target, f"{name}: nothing to differentiate (no float parameters or inputs)"
    assert any(bool(jnp.any(g != 0)) for g in target), f"{name}: all gradients are zero"


def check_no_recompile(model, x, *, dt=1.0, state=None, batch_size=None, fit=False,
                       key=None) -> None:
    """A jitted step traces once: further calls with new inputs of the same shapes, and
    with the state returned by the previous call, do not recompile."""
    state = _initial_state(model, state, batch_size)
    traces = []

    @eqx.filter_jit
    def step(m, s, x, c):
        traces.append(None)
        return m(s, x, c)

    xs = perturbed_inputs(x, 3)
    # The state is chained through the calls, so a state whose dtype, weak type, shape or
    # Python-ness differs between init_state and the step's output is caught too.
    for i in range(3):
        state, y = step(model, state, jtu.tree_map(lambda a: a[i], xs), _ctx(dt, fit, key, i))
        jax.block_until_ready(y)
    assert len(traces) == 1, (
        f"{type(model).__name__}: retraced on a second call ({len(traces)} traces); check "
        "that init_state returns arrays of the same dtypes and shapes as the step returns"
    )


def check_immutable(model, x, *, dt=1.0, state=None, batch_size=None, fit=False,
                    key=None) -> None:
    """Calling the step changes neither the model nor the input state."""
    state = _initial_state(model, state, batch_size)
    copy = lambda t: jtu.tree_map(lambda a: np.array(a) if eqx.is_array(a) else a, t)  # noqa: E731
    model_before, state_before = copy(model), copy(state)
    treedef_before = jtu.tree_structure(model)
    model(state, x, _ctx(dt, fit, key))
    assert jtu.tree_structure(model) == treedef_before, "the model's structure changed"
    _assert_close(copy(model), model_before, "the model changed", 0.0, 0.0)
    _assert_close(copy(state), state_before, "the input state changed", 0.0, 0.0)


def check_contract(model, x, *, dt=1.0, state=None, batch_size=None, fit=False, key=None,
                   steps=5, rtol=1e-5, atol=1e-6, grad=True) -> None:
    """Runs every contract check on `model` with the single-step input `x`.

    **Arguments:**

    - `model`: the model under test.
    - `x`: one step's input, shaped for the model's mode.
    - `dt`, `fit`, `key`: the context values (a key is needed when `fit` draws numbers).
    - `state`, `batch_size`: the initial state, or the batch size to build it with.
    - `steps`: the length of the scanned sequences.
    - `rtol`, `atol`: tolerances of the value comparisons.
    - `grad`: whether to check gradients (off for models with nothing to differentiate).

    Raises `AssertionError` naming the failed property.
    """
    kw = dict(dt=dt, state=state, batch_size=batch_size, fit=fit, key=key)
    check_immutable(model, x, **kw)
    check_jit(model, x, rtol=rtol, atol=atol, **kw)
    check_vmap(model, x, rtol=rtol, atol=atol, **kw)
    check_scan(model, x, steps=steps, rtol=rtol, atol=atol, **kw)
    check_no_recompile(model, x, **kw)
    if grad:
        check_grad(model, x, steps=steps, **kw)
