import equinox as eqx
import funcdyn as fd
import jax
import jax.numpy as jnp
import numpy as np
import pytest


class Leaky(fd.DynamicalSystem):
    """v <- a v + x; y = v. Also records time in its state to check the context."""

    a: float = eqx.field(static=True, default=0.9)

    def init_state(self, batch_size=None, *, key=None):
        self.check_batch_size(batch_size)
        shape = (2,) if batch_size is None else (batch_size, 2)
        return {"v": jnp.zeros(shape), "t": jnp.zeros(()), "i": jnp.zeros((), jnp.int32)}

    def __call__(self, state, x, ctx):
        v = self.a * state["v"] + x
        return {"v": v, "t": ctx.t, "i": ctx.i}, 2 * v


def manual(a, xs, v0):
    v, ys = v0, []
    for x in xs:
        v = a * v + x
        ys.append(2 * v)
    return v, jnp.stack(ys)


def test_run_matches_manual_loop_and_context_values():
    xs = jax.random.normal(jax.random.key(0), (7, 2))
    final, ys, rec = fd.run(Leaky(), xs, dt=0.5, t0=1.0, monitors={"v": lambda s: s["v"]})
    v, ys_ref = manual(0.9, xs, jnp.zeros(2))
    np.testing.assert_allclose(ys, ys_ref, rtol=1e-6)
    np.testing.assert_allclose(final["v"], v, rtol=1e-6)
    np.testing.assert_allclose(rec["v"], ys_ref / 2, rtol=1e-6)
    assert float(final["t"]) == pytest.approx(1.0 + 6 * 0.5)
    assert int(final["i"]) == 6


def test_run_single_monitor_function_and_i0():
    xs = jnp.ones((3, 2))
    final, _, rec = fd.run(Leaky(), xs, dt=1.0, i0=10, monitors=lambda s: s["i"])
    assert jnp.array_equal(rec, jnp.array([10, 11, 12]))
    assert float(final["t"]) == 12.0


def test_run_batching_infers_batch_size_and_batch_major_flag():
    model = Leaky(mode=fd.batching_mode)
    xs = jax.random.normal(jax.random.key(1), (6, 4, 2))  # (T, batch, n)
    final, ys, rec = fd.run(model, xs, dt=1.0, monitors={"v": lambda s: s["v"]})
    assert ys.shape == (6, 4, 2) and final["v"].shape == (4, 2)
    final_b, ys_b, rec_b = fd.run(
        model, jnp.swapaxes(xs, 0, 1), dt=1.0, time_major=False, monitors={"v": lambda s: s["v"]}
    )
    np.testing.assert_allclose(jnp.swapaxes(ys_b, 0, 1), ys, rtol=1e-6)
    np.testing.assert_allclose(jnp.swapaxes(rec_b["v"], 0, 1), rec["v"], rtol=1e-6)


def test_run_with_explicit_state():
    xs = jnp.ones((2, 2))
    state = {"v": jnp.full(2, 10.0), "t": jnp.zeros(()), "i": jnp.zeros((), jnp.int32)}
    final, ys, _ = fd.run(Leaky(), xs, dt=1.0, state=state)
    v, _ = manual(0.9, xs, jnp.full(2, 10.0))
    np.testing.assert_allclose(final["v"], v, rtol=1e-6)


@pytest.mark.parametrize("checkpoint", [True, 1, 3, 4, 20])
def test_checkpointing_gives_same_values_and_gradients(checkpoint):
    model = Leaky()
    xs = jax.random.normal(jax.random.key(2), (10, 2))

    def loss(xs, checkpoint):
        _, ys, _ = fd.run(model, xs, dt=1.0, checkpoint=checkpoint)
        return jnp.sum(jnp.sin(ys))

    v0, g0 = jax.value_and_grad(loss)(xs, None)
    v1, g1 = jax.value_and_grad(loss)(xs, checkpoint)
    np.testing.assert_allclose(v1, v0, rtol=1e-5)
    np.testing.assert_allclose(g1, g0, rtol=1e-5, atol=1e-6)


def test_progress_bar_same_result(capsys):
    xs = jax.random.normal(jax.random.key(3), (250, 2))
    ref = fd.run(Leaky(), xs, dt=1.0)
    out = fd.run(Leaky(), xs, dt=1.0, progress_bar=True)
    np.testing.assert_allclose(out[1], ref[1], rtol=1e-5)
    assert "250/250" in capsys.readouterr().err
    with pytest.raises(ValueError, match="progress_bar=True needs an eager call"):
        jax.jit(lambda x: fd.run(Leaky(), x, dt=1.0, progress_bar=True)[1])(xs)


def test_per_step_keys_distinct():
    drop = fd.layers.Dropout(0.5)
    _, ys, _ = fd.run(drop, jnp.ones((3, 100)), dt=1.0, fit=True, key=jax.random.key(0))
    assert not jnp.array_equal(ys[0], ys[1]) and not jnp.array_equal(ys[1], ys[2])


def test_run_errors():
    model = Leaky()
    with pytest.raises(ValueError, match="`dt` must be a positive Python float"):
        fd.run(model, jnp.ones((3, 2)), dt=0.0)
    with pytest.raises(ValueError, match="`checkpoint` must be None"):
        fd.run(model, jnp.ones((3, 2)), dt=1.0, checkpoint=0)
    with pytest.raises(TypeError, match="`fit` must be a Python bool"):
        fd.run(model, jnp.ones((3, 2)), dt=1.0, fit=1)
    with pytest.raises(ValueError, match="has no time axis"):
        fd.run(model, jnp.ones(()), dt=1.0)
    with pytest.raises(ValueError, match="disagree on the number of steps"):
        fd.run(lambda s, x, c: (s, x), (jnp.ones(3), jnp.ones(4)), dt=1.0, state=None)
    with pytest.raises(ValueError, match="time axis is empty"):
        fd.run(model, jnp.ones((0, 2)), dt=1.0)
    with pytest.raises(ValueError, match="inputs have no batch axis"):
        fd.run(Leaky(mode=fd.batching_mode), jnp.ones((3,)), dt=1.0)
    with pytest.raises(ValueError, match="no arrays"):
        fd.run(model, {}, dt=1.0)


def test_run_under_jit_no_recompile():
    traces = []

    @jax.jit
    def simulate(xs):
        traces.append(1)
        return fd.run(Leaky(), xs, dt=1.0)[1]

    simulate(jnp.ones((5, 2)))
    simulate(jnp.zeros((5, 2)))
    assert len(traces) == 1
