"""funcdyn.nir: import and export of NIR graphs, checked against snnTorch and Norse."""

import math
import os
import pathlib
import subprocess
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcdyn
from funcdyn.testing import check_contract

nir = pytest.importorskip("nir")
from funcdyn.nir import from_nir, to_nir  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "nir"
TOOL_CASES = {
    "snntorch_lif": {},
    "snntorch_cubalif": {},
    "snntorch_rsynaptic": {},
    "snntorch_cnn": {},
    "norse_lif": {},
    "norse_cubalif": {},
    "norse_cnn": {"per_step_if": True},
}
TIME_FIELDS = {"tau", "tau_mem", "tau_syn", "delay"}


def f32(*shape, value):
    return np.full(shape, value, np.float32)


def lif_node(n, tau=0.01, thr=1.0, r=1.0):
    return nir.LIF(tau=f32(n, value=tau), r=f32(n, value=r), v_leak=f32(n, value=0.0),
                   v_threshold=f32(n, value=thr), v_reset=f32(n, value=0.0))


def simulate(model, xs, dt, monitors=None):
    _, ys, rec = funcdyn.run(model, jnp.asarray(xs), dt=dt, monitors=monitors)
    return np.asarray(ys), rec


def run_fixture(case, discretisation="euler", directory=FIX):
    d = np.load(directory / f"{case}.npz")
    dt = float(d["dt"])
    model = from_nir(directory / f"{case}.nir", dt=dt, discretisation=discretisation,
                     mode=funcdyn.batching_mode, **TOOL_CASES[case])
    return model, d, simulate(model, d["input"], dt)[0]


# -- other tools' graphs and outputs ------------------------------------------------------

@pytest.mark.parametrize("case", sorted(TOOL_CASES))
def test_tool_graphs_reproduce_tool_spikes(case):
    # snnTorch and Norse integrate with forward Euler: under discretisation="euler" every
    # spike of every neuron at every step is identical.
    _, d, ys = run_fixture(case)
    assert d["spikes"].sum() > 20
    np.testing.assert_array_equal(ys, d["spikes"])


def test_snntorch_membrane_matches():
    model, d, _ = run_fixture("snntorch_lif")
    _, rec = simulate(model, d["input"], 0.1, monitors={"V": lambda s: s[1].V})
    # snnTorch's membrane after its zero reset; beta v + x there against
    # v + dt/tau (r x - v) here: float32 rounding apart (measured max 3.4e-6).
    np.testing.assert_allclose(np.asarray(rec["V"]), d["mem"], rtol=1e-5, atol=1e-5)


def test_exact_discretisation_differs_from_tools_within_bound():
    # At dt/tau = 0.1 the exact update fires a little differently from snnTorch's Euler
    # update: same order of spike count, not the same spikes.
    _, d, euler = run_fixture("snntorch_lif", "euler")
    _, _, exact = run_fixture("snntorch_lif", "exact")
    assert not np.array_equal(exact, euler)
    assert abs(exact.sum() - euler.sum()) <= 0.25 * euler.sum()


@pytest.mark.parametrize("case,tool", [("snntorch_lif", "snntorch"),
                                       ("snntorch_cubalif", "snntorch"),
                                       ("norse_cubalif", "norse")])
def test_funcdyn_exports_reproduced_by_tools(case, tool):
    # The committed graph is what to_nir writes today, and the tool's run of it (recorded
    # by benchmarks/nir_interop/make_fixtures.py) equals funcdyn's own output.
    d = np.load(FIX / f"funcdyn_{case}.npz")
    dt = float(d["dt"])
    graph = nir.read(FIX / f"funcdyn_{case}.nir")
    model = from_nir(graph, dt=dt, discretisation="euler")
    ys, _ = simulate(model, d["input"], dt)
    np.testing.assert_array_equal(ys, d["spikes"])
    tool_spikes = np.load(FIX / f"funcdyn_{case}_{tool}.npz")["spikes"]
    np.testing.assert_array_equal(tool_spikes, d["spikes"])
    assert d["spikes"].sum() > 20


# -- round trips --------------------------------------------------------------------------

def _leaves(graph, prefix=""):
    for k, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            yield from _leaves(node, f"{prefix}{k}/")
            continue
        yield f"{prefix}{k}", node


def _compare_graphs(g, h, exact_time):
    assert sorted(g.edges) == sorted(h.edges)
    hn = dict(_leaves(h))
    for name, node in _leaves(g):
        other = hn[name]
        assert type(other) is type(node), name
        for field, value in node.to_dict().items():
            if not isinstance(value, np.ndarray) or field in ("shape", "input_type"):
                continue
            a, b = np.asarray(value), np.asarray(getattr(other, field))
            a = np.broadcast_to(a, b.shape) if a.size == 1 else a
            if field in TIME_FIELDS and not exact_time:
                np.testing.assert_allclose(b, a, rtol=1.2e-7, atol=0, err_msg=f"{name}.{field}")
            else:
                np.testing.assert_array_equal(b, a, err_msg=f"{name}.{field}")


@pytest.mark.parametrize("case", sorted(TOOL_CASES))
def test_graph_round_trip(case):
    g = nir.read(FIX / f"{case}.nir")
    kw = TOOL_CASES[case]
    # In seconds every array comes back exactly; in ms the time constants pass through
    # float32(s * 1000), which is not injective: within one float32 ulp.
    h = to_nir(from_nir(g, dt=1e-4, time_unit="s", **kw), dt=1e-4, time_unit="s",
               input_shape=_input_shape(g), **kw)
    _compare_graphs(g, h, exact_time=True)
    h = to_nir(from_nir(g, dt=0.1, **kw), dt=0.1, input_shape=_input_shape(g), **kw)
    _compare_graphs(g, h, exact_time=False)


def _input_shape(g):
    (node,) = [v for v in g.nodes.values() if isinstance(v, nir.Input)]
    return tuple(int(s) for s in node.input_type["input"])


def _cnn(key, mode=funcdyn.nonbatching_mode):
    k1, k2 = jax.random.split(key)
    cf = funcdyn.nir.ChannelsFirst
    return funcdyn.Sequential(
        cf(funcdyn.layers.Conv2d(2, 4, 3, padding=1, W_initializer=funcdyn.init.Normal(
            scale=1.5), mode=mode, key=k1)),
        funcdyn.neurons.LIF((4, 6, 6), tau=5.0, V_th=0.5, V_reset=0.0, mode=mode),
        cf(funcdyn.layers.AvgPool2d(2, mode=mode)),
        funcdyn.layers.Flatten(mode=mode),
        funcdyn.layers.Dense(36, 3, W_initializer=funcdyn.init.Normal(scale=2.0), mode=mode,
                             key=k2),
        funcdyn.neurons.LeakyIntegrator(3, tau=8.0, mode=mode),
    )


def _models():
    k = jax.random.split(jax.random.key(0), 6)
    sh = funcdyn.nir.StrictHeaviside()
    dense_lif = funcdyn.Sequential(
        funcdyn.layers.Dense(4, 6, W_initializer=funcdyn.init.Normal(scale=2.0), key=k[0]),
        funcdyn.neurons.LIF(6, tau=8.0, V_th=1.0, V_reset=0.0, R=2.0, spike_fn=sh),
        funcdyn.layers.Dense(6, 3, key=k[1], b_initializer=None),
        funcdyn.neurons.LeakyIntegrator(3, V_rest=0.0, tau=4.0),
        funcdyn.neurons.LIF(3, tau=6.0, V_th=0.02, V_reset=0.0, spike_fn=sh),
    )
    rec = funcdyn.Sequential(
        funcdyn.layers.Dense(4, 5, W_initializer=funcdyn.init.Normal(scale=2.0), key=k[2]),
        funcdyn.neurons.RecurrentLIF(5, W_rec_initializer=funcdyn.init.Normal(scale=0.5),
                                     tau=5.0, V_th=1.0, V_reset=0.0, spike_fn=sh, key=k[3]),
    )
    return {"dense_lif": (dense_lif, (4,)), "recurrent": (rec, (4,)),
            "cnn": (_cnn(k[4]), (2, 6, 6))}


@pytest.mark.parametrize("name", ["dense_lif", "recurrent", "cnn"])
def test_model_round_trip_is_bit_identical(name):
    model, shape = _models()[name]
    xs = jax.random.uniform(jax.random.key(1), (30,) + shape) * 3.0
    graph = to_nir(model, dt=0.5, input_shape=shape)
    back = from_nir(graph, dt=0.5)
    ys, _ = simulate(model, xs, 0.5)
    zs, _ = simulate(back, xs, 0.5)
    assert ys.std() > 0
    np.testing.assert_array_equal(zs, ys)


def test_write_read_file(tmp_path):
    model, shape = _models()["dense_lif"]
    path = tmp_path / "m.nir"
    nir.write(path, to_nir(model, dt=1.0))
    back = from_nir(path, dt=1.0)
    xs = jax.random.uniform(jax.random.key(2), (20, 4)) * 2
    np.testing.assert_array_equal(simulate(back, xs, 1.0)[0], simulate(model, xs, 1.0)[0])


def test_exponential_synapse_exports_as_cubalif():
    syn = funcdyn.synapses.Exponential(4, 3, g_max=funcdyn.init.Normal(scale=2.0), tau=5.0,
                                       key=jax.random.key(3))
    lif = funcdyn.neurons.LIF(3, tau=10.0, V_th=0.5, V_reset=0.0,
                              spike_fn=funcdyn.nir.StrictHeaviside())
    model = syn >> lif
    graph = to_nir(model, dt=1.0)
    types = [type(v).__name__ for v in graph.nodes.values()]
    assert types == ["Input", "Linear", "CubaLIF", "Output"]
    node = graph.nodes["cubalif"]
    np.testing.assert_allclose(node.w_in, 1 / (1 - math.exp(-1.0 / 5.0)), rtol=1e-6)
    xs = (jax.random.uniform(jax.random.key(4), (40, 4)) < 0.4).astype(jnp.float32)
    _, rec_a = simulate(model, xs, 1.0, monitors={"V": lambda s: s[1].V})
    _, rec_b = simulate(from_nir(graph, dt=1.0), xs, 1.0, monitors={"V": lambda s: s[-1].V})
    # Same update up to float32 rounding of w_in (1 - e^(-dt/tau)) = 1.
    np.testing.assert_allclose(rec_b["V"], rec_a["V"], rtol=1e-5, atol=1e-5)


# -- semantics ----------------------------------------------------------------------------

def test_seconds_become_milliseconds():
    g = nir.NIRGraph.from_list(lif_node(3, tau=0.02))
    m = from_nir(g, dt=1.0)
    np.testing.assert_allclose(m.layers[0].tau, 20.0, rtol=1e-7)
    m = from_nir(g, dt=1e-3, time_unit="s")
    np.testing.assert_allclose(m.layers[0].tau, 0.02, rtol=1e-7)
    # an input spike is a unit current held for one step: v = r (1 - e^(-dt/tau))
    state = m.init_state()
    state, _ = m(state, jnp.ones(3), funcdyn.Context(dt=1e-3))
    np.testing.assert_allclose(state[0].V, 1 - math.exp(-1e-3 / 0.02), rtol=1e-6)
    m_ms = from_nir(g, dt=1.0)
    s2, _ = m_ms(m_ms.init_state(), jnp.ones(3), funcdyn.Context(dt=1.0))
    np.testing.assert_allclose(s2[0].V, state[0].V, rtol=1e-6)


def test_lif_converges_to_event_solution():
    # tau dv/dt = -v + r I with a step current: v(t) = rI (1 - e^(-t/tau)), reset to 0 at
    # v = 1, so spikes are periodic with period tau ln(rI / (rI - 1)).
    tau_s, current = 0.01, 1.5
    g = nir.NIRGraph.from_list(lif_node(1, tau=tau_s))
    period = 1e3 * tau_s * math.log(current / (current - 1.0))   # ms
    t_end = 40.0
    errors = {}
    for disc in ("exact", "euler"):
        errors[disc] = []
        for dt in (0.1, 0.05, 0.025, 0.0125):
            m = from_nir(g, dt=dt, discretisation=disc)
            n = int(round(t_end / dt))
            ys, rec = simulate(m, np.full((n, 1), current, np.float32), dt,
                               monitors={"V": lambda s: s[0].V})
            # voltage at t = period / 2 (before the first spike), against the closed form
            k = int(round(0.5 * period / dt))
            v_ref = current * (1 - math.exp(-(k * dt) / (1e3 * tau_s)))
            errors[disc].append((abs(float(rec["V"][k - 1, 0]) - v_ref),
                                 abs(dt * (np.argmax(ys[:, 0]) + 1) - period)))
    v_exact = [e[0] for e in errors["exact"]]
    v_euler = [e[0] for e in errors["euler"]]
    assert max(v_exact) < 2e-6   # exact up to float32 rounding
    orders = [math.log2(a / b) for a, b in zip(v_euler[:-1], v_euler[1:])]
    assert all(0.85 < o < 1.15 for o in orders), orders   # forward Euler: first order
    # spike times: within one step for both (the grid), so first order in dt
    for disc in ("exact", "euler"):
        for (_, t_err), dt in zip(errors[disc], (0.1, 0.05, 0.025, 0.0125)):
            assert t_err <= dt * (1.0 if disc == "exact" else 3.0) + 1e-6


def test_strict_threshold_and_nan():
    sh = funcdyn.nir.StrictHeaviside()
    np.testing.assert_array_equal(sh(jnp.array([-1.0, 0.0, 1e-7])), [0.0, 0.0, 1.0])
    assert np.isnan(sh(jnp.array(np.nan)))
    g = jax.grad(lambda x: sh(x))(0.3)
    np.testing.assert_allclose(g, funcdyn.surrogate.InverseSquare().grad(jnp.array(0.3)))


def test_fan_in_fan_out_and_cycle():
    w1 = np.array([[1.0, 0.5]], np.float32)
    w2 = np.array([[0.25, 2.0]], np.float32)
    g = nir.NIRGraph(
        nodes={
            "in": nir.Input(input_type=np.array([2])),
            "a": nir.Linear(weight=w1), "b": nir.Linear(weight=w2),
            "s": nir.Scale(scale=f32(1, value=3.0)),
            "out": nir.Output(output_type=np.array([1])),
            "out2": nir.Output(output_type=np.array([1])),
        },
        edges=[("in", "a"), ("in", "b"), ("a", "s"), ("b", "s"), ("s", "out"), ("b", "out2")],
    )
    m = from_nir(g, dt=1.0)
    assert isinstance(m, funcdyn.nir.NIRNetwork)
    x = jnp.array([1.0, 2.0])
    _, y = m(m.init_state(), x, funcdyn.Context(dt=1.0))
    np.testing.assert_allclose(y["out"], 3.0 * (w1 @ x + w2 @ x))
    np.testing.assert_allclose(y["out2"], w2 @ x)
    # a cycle: Scale feeding itself back through a Linear is delayed by one step
    g = nir.NIRGraph(
        nodes={"in": nir.Input(input_type=np.array([1])),
               "s": nir.Scale(scale=f32(1, value=1.0)),
               "fb": nir.Linear(weight=np.array([[0.5]], np.float32)),
               "out": nir.Output(output_type=np.array([1]))},
        edges=[("in", "s"), ("s", "fb"), ("fb", "s"), ("s", "out")],
    )
    m = from_nir(g, dt=1.0)
    assert m.delayed == (("fb", "s"),)
    ys, _ = simulate(m, np.ones((4, 1), np.float32), 1.0)
    # y_n = 1 + 0.5 y_{n-1}
    np.testing.assert_allclose(ys[:, 0], [1.0, 1.5, 1.75, 1.875])


def test_delay_threshold_integrator_sumpool():
    g = nir.NIRGraph.from_list(nir.Delay(delay=np.array([0.0, 0.002, 0.003])),
                               nir.Threshold(threshold=f32(3, value=0.5)))
    m = from_nir(g, dt=1.0)
    xs = np.zeros((6, 3), np.float32)
    xs[0] = 1.0
    ys, _ = simulate(m, xs, 1.0)
    np.testing.assert_array_equal(ys[:, 0], [1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(ys[:, 1], [0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(ys[:, 2], [0, 0, 0, 1, 0, 0])
    with pytest.raises(ValueError, match="whole, non-negative numbers of steps"):
        from_nir(g, dt=0.7)
    m = from_nir(nir.NIRGraph.from_list(nir.I(r=f32(2, value=2.0))), dt=0.5)
    ys, _ = simulate(m, np.ones((4, 2), np.float32), 0.5)
    np.testing.assert_allclose(ys[:, 0], 2.0 * 0.5e-3 * np.arange(1, 5), rtol=1e-6)
    pool = funcdyn.nir.SumPool2d(2, 2, 0)
    x = jnp.arange(16.0).reshape(1, 4, 4)
    _, y = pool(None, x, funcdyn.Context())
    np.testing.assert_allclose(y[0], [[10.0, 18.0], [42.0, 50.0]])


def test_conv_if_population_of_any_shape():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(16, 2, 3, 3)).astype(np.float32)
    conv = nir.Conv2d(input_shape=(16, 16), weight=w, stride=1, padding=1, dilation=1,
                      groups=1, bias=np.zeros(16, np.float32))
    neuron = nir.IF(r=f32(16, 16, 16, value=1.0), v_threshold=f32(16, 16, 16, value=1.0),
                    v_reset=f32(16, 16, 16, value=0.0))
    m = from_nir(nir.NIRGraph.from_list(conv, neuron), dt=1.0, per_step_if=True)
    x = jnp.asarray(rng.normal(size=(2, 16, 16)).astype(np.float32))
    state, s = m(m.init_state(), x, funcdyn.Context(dt=1.0))
    # reference: PyTorch-layout cross-correlation with zero padding, by hand
    xp = np.pad(np.asarray(x), ((0, 0), (1, 1), (1, 1)))
    ref = np.zeros((16, 16, 16), np.float32)
    for i in range(3):
        for j in range(3):
            ref += np.einsum("oc,chw->ohw", w[:, :, i, j], xp[:, i : i + 16, j : j + 16])
    np.testing.assert_allclose(np.where(ref > 1.0, 0.0, ref), state[1].V, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(np.asarray(s), (ref > 1.0).astype(np.float32))


def test_scalar_parameters_take_the_neighbour_shape():
    g = nir.NIRGraph(
        nodes={"in": nir.Input(input_type=np.array([3])),
               "lif": nir.LIF(tau=np.array(0.01), r=np.array(1.0), v_leak=np.array(0.0),
                              v_threshold=np.array(1.0), v_reset=np.array(0.0)),
               "out": nir.Output(output_type=np.array([3]))},
        edges=[("in", "lif"), ("lif", "out")], type_check=False,
    )
    m = from_nir(g, dt=1.0)
    assert m.layers[0].size == (3,)


# -- contract and training ----------------------------------------------------------------

def _contract_models():
    b = funcdyn.batching_mode
    rsyn = from_nir(FIX / "snntorch_rsynaptic.nir", dt=0.1, mode=b)
    fan = from_nir(nir.NIRGraph(
        nodes={"in": nir.Input(input_type=np.array([3])),
               "a": nir.Linear(weight=np.eye(3, dtype=np.float32)),
               "l": lif_node(3, thr=0.1),
               "fb": nir.Linear(weight=np.full((3, 3), 0.2, np.float32)),
               "out": nir.Output(output_type=np.array([3]))},
        edges=[("in", "a"), ("in", "l"), ("a", "l"), ("l", "fb"), ("fb", "l"), ("l", "out")]),
        dt=1.0, mode=b)
    return {
        "chain": (from_nir(FIX / "snntorch_cubalif.nir", dt=0.1, mode=b), (6,)),
        "nested_recurrent": (rsyn, (6,)),
        "network": (fan, (3,)),
        "delay": (funcdyn.nir.Delay(np.array([0, 1, 2]), dt=1.0, mode=b), (3,)),
        "scale": (funcdyn.nir.Scale(np.array([1.0, 2.0, 3.0]), mode=b), (3,)),
        "threshold": (funcdyn.nir.Threshold(np.full(3, 0.5), mode=b), (3,)),
        "integrator": (funcdyn.nir.Integrator(np.ones(3), tau=2.0, mode=b), (3,)),
        "sumpool": (funcdyn.nir.SumPool2d(2, mode=b), (2, 4, 4)),
        "channels_first": (_cnn(jax.random.key(5), b), (2, 6, 6)),
    }


_SLOW_CONTRACTS = {"chain", "network", "channels_first", "sumpool", "integrator", "delay"}


@pytest.mark.parametrize("name", [
    pytest.param(k, marks=pytest.mark.slow) if k in _SLOW_CONTRACTS else k
    for k in _contract_models()
])
def test_contract(name):
    # The slow ones compile several programs each (contract: jit, vmap, scan, grad); the
    # nested recurrent import and the stateless primitives stay in the default run.
    model, shape = _contract_models()[name]
    x = jax.random.uniform(jax.random.key(6), (2,) + shape) * 2.0
    grad = name not in ("delay", "sumpool", "threshold")
    check_contract(model, x, dt=1.0 if name != "chain" else 0.1, batch_size=2, grad=grad,
                   steps=4)


def test_training_mode_makes_weights_trainable():
    m = from_nir(FIX / "snntorch_cubalif.nir", dt=0.1, mode=funcdyn.training_mode,
                 discretisation="euler")
    params, static = eqx.partition(m, funcdyn.trainable(m))
    leaves = jax.tree_util.tree_leaves(params)
    assert any(leaf.shape == (6, 8) for leaf in leaves)
    d = np.load(FIX / "snntorch_cubalif.npz")
    xs = jnp.asarray(d["input"][:20])

    def loss(p):
        model = eqx.combine(p, static)
        _, ys, rec = funcdyn.run(model, xs, dt=0.1, monitors=lambda s: s[-1].V)
        return jnp.mean(rec**2)

    g = jax.grad(loss)(params)
    w_grad = g.layers[0].W
    assert np.all(np.isfinite(w_grad)) and np.abs(w_grad).max() > 0


# -- errors -------------------------------------------------------------------------------

class _Unknown(nir.NIRNode):
    def __init__(self):
        self.input_type = {"input": np.array([2])}
        self.output_type = {"output": np.array([2])}
        self.metadata = {}


def test_errors(tmp_path):
    good = nir.NIRGraph.from_list(lif_node(2))
    g = nir.NIRGraph(nodes={"in": nir.Input(input_type=np.array([2])), "odd": _Unknown(),
                            "out": nir.Output(output_type=np.array([2]))},
                     edges=[("in", "odd"), ("odd", "out")], type_check=False)
    with pytest.raises(ValueError, match=r"node 'odd' has the type _Unknown.*supported node "
                                         r"types: Input, Output, Affine"):
        from_nir(g, dt=1.0)
    g = nir.NIRGraph(nodes={"in": nir.Input(input_type=np.array([3])), "l": lif_node(2),
                            "out": nir.Output(output_type=np.array([2]))},
                     edges=[("in", "l"), ("l", "out")], type_check=False)
    with pytest.raises(ValueError, match=r"edge \('in', 'l'\) connects an output of shape "
                                         r"\(3,\) to an input of shape \(2,\)"):
        from_nir(g, dt=1.0)
    g = nir.NIRGraph(nodes={"l": lif_node(2), "out": nir.Output(output_type=np.array([2]))},
                     edges=[("l", "out")], type_check=False)
    with pytest.raises(ValueError, match="at least one Input and one Output"):
        from_nir(g, dt=1.0)
    with pytest.raises(TypeError, match="dt"):
        from_nir(good)  # noqa
    with pytest.raises(TypeError, match="`dt` must be a positive float"):
        from_nir(good, dt=None)
    with pytest.raises(ValueError, match="`dt` must be a positive, finite float"):
        from_nir(good, dt=0.0)
    with pytest.raises(ValueError, match="`dt` must be a positive, finite float"):
        from_nir(good, dt=-1.0)
    bad = nir.NIRGraph.from_list(nir.LIF(tau=np.array([0.01, np.nan], np.float32),
                                         r=f32(2, value=1.0), v_leak=f32(2, value=0.0),
                                         v_threshold=f32(2, value=1.0)))
    with pytest.raises(ValueError, match="`tau` contains NaN"):
        from_nir(bad, dt=1.0)
    with pytest.raises(FileNotFoundError, match="no such file"):
        from_nir(tmp_path / "missing.nir", dt=1.0)
    junk = tmp_path / "junk.nir"
    junk.write_text("not hdf5")
    with pytest.raises(ValueError, match="is not a readable NIR file"):
        from_nir(junk, dt=1.0)
    with pytest.raises(ValueError, match="`discretisation` must be one of"):
        from_nir(good, dt=1.0, discretisation="rk4")
    with pytest.raises(ValueError, match="`time_unit` must be one of"):
        from_nir(good, dt=1.0, time_unit="us")
    with pytest.raises(TypeError, match="must be a nir.NIRGraph"):
        from_nir(42, dt=1.0)
    neg = nir.NIRGraph.from_list(lif_node(2, tau=-0.01))
    with pytest.raises(ValueError, match="`tau` must be > 0"):
        from_nir(neg, dt=1.0)


def test_export_errors():
    with pytest.raises(ValueError, match="HH has no NIR equivalent"):
        to_nir(funcdyn.neurons.HH(3), dt=0.1)
    with pytest.raises(ValueError, match="reset='subtract' is not in NIR"):
        to_nir(funcdyn.neurons.LIF(3, reset="subtract"), dt=0.1)
    with pytest.raises(ValueError, match="refractory"):
        to_nir(funcdyn.neurons.LIF(3, tau_ref=2.0), dt=0.1)
    nmda = funcdyn.synapses.NMDA(3, 2, key=jax.random.key(0))
    with pytest.raises(ValueError, match="NMDA has no NIR equivalent"):
        to_nir(nmda >> funcdyn.neurons.LIF(2), dt=0.1, input_shape=(3,))
    conv = funcdyn.layers.Conv2d(2, 3, 3, key=jax.random.key(0))
    with pytest.raises(ValueError, match="channels last.*ChannelsFirst"):
        to_nir(conv, dt=1.0, input_shape=(2, 5, 5))
    with pytest.raises(ValueError, match="pass `input_shape=`"):
        to_nir(funcdyn.nir.ChannelsFirst(conv), dt=1.0)
    with pytest.raises(ValueError, match="`dt` must be a positive"):
        to_nir(funcdyn.neurons.LIF(3), dt=0.0)
    with pytest.raises(ValueError, match="relu has no NIR equivalent"):
        to_nir(funcdyn.Sequential(funcdyn.layers.Dense(2, 2, key=jax.random.key(0)),
                                  jax.nn.relu), dt=1.0)


def test_primitive_errors():
    with pytest.raises(ValueError, match="`scale` contains NaN"):
        funcdyn.nir.Scale(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="`steps` must be >= 0"):
        funcdyn.nir.Delay(np.array([-1]), dt=1.0)
    with pytest.raises(TypeError, match="`steps` must be ints"):
        funcdyn.nir.Delay(np.array([0.5]), dt=1.0)
    with pytest.raises(ValueError, match="`dt` must be a positive float"):
        funcdyn.nir.Delay(np.array([1]), dt=0.0)
    d = funcdyn.nir.Delay(np.array([1]), dt=1.0)
    with pytest.raises(ValueError, match="stepped with dt=0.5"):
        d(d.init_state(), jnp.ones(1), funcdyn.Context(dt=0.5))
    with pytest.raises(ValueError, match="expects input of shape \\(2\\)"):
        funcdyn.nir.Scale(np.ones(2))(None, jnp.ones(3), funcdyn.Context())
    with pytest.raises(ValueError, match="`kernel_size` must be an int or a pair"):
        funcdyn.nir.SumPool2d(0)
    with pytest.raises(TypeError, match="`surrogate` must be a funcdyn.surrogate.Surrogate"):
        funcdyn.nir.StrictHeaviside(3)
    with pytest.raises(TypeError, match="`layer` must be a funcdyn.DynamicalSystem"):
        funcdyn.nir.ChannelsFirst(jax.nn.relu)
    with pytest.raises(ValueError, match="`tau` must be > 0"):
        funcdyn.nir.Integrator(np.ones(2), tau=0.0)


def test_missing_nir_is_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "nir", None)
    with pytest.raises(ImportError, match=r"pip install funcdyn\[nir\]"):
        from_nir("whatever.nir", dt=1.0)
    with pytest.raises(ImportError, match=r"pip install funcdyn\[nir\]"):
        to_nir(funcdyn.neurons.LIF(2), dt=1.0)


def test_importing_funcdyn_does_not_import_nir():
    code = ("import sys; import funcdyn, funcdyn.nir; "
            "assert 'nir' not in sys.modules, 'nir imported eagerly'; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# -- live comparison (needs benchmarks/.envs/nir_interop) --------------------------------

@pytest.mark.interop
def test_live_interop(tmp_path):
    py = ROOT / "benchmarks" / ".envs" / "nir_interop" / "bin" / "python"
    if not py.exists():
        pytest.skip("run benchmarks/nir_interop/setup_env.sh first")
    env = dict(os.environ, NIR_FIXTURES_OUT=str(tmp_path))
    subprocess.run([sys.executable, "benchmarks/nir_interop/export_funcdyn.py"], cwd=ROOT,
                   env=env, check=True, timeout=600)
    out = subprocess.run([str(py), "benchmarks/nir_interop/make_fixtures.py"], cwd=ROOT,
                         env=env, check=True, timeout=600, capture_output=True, text=True)
    assert out.stdout.count("identical spikes: True") == 3, out.stdout
    for case in TOOL_CASES:
        _, d, ys = run_fixture(case, directory=tmp_path)
        np.testing.assert_array_equal(ys, d["spikes"])


def test_flatten_with_pytorch_dims_is_read_with_a_warning():
    w = np.ones((2, 12), np.float32)
    nodes = [nir.Flatten(input_type={"input": np.array([3, 2, 2])}, start_dim=1, end_dim=-1),
             nir.Linear(weight=w)]
    g = nir.NIRGraph(nodes={"in": nir.Input(input_type=np.array([3, 2, 2])),
                            "flat": nodes[0], "lin": nodes[1],
                            "out": nir.Output(output_type=np.array([2]))},
                     edges=[("in", "flat"), ("flat", "lin"), ("lin", "out")], type_check=False)
    with pytest.warns(UserWarning, match="read as PyTorch's dims"):
        m = from_nir(g, dt=1.0)
    _, y = m(m.init_state(), jnp.ones((3, 2, 2)), funcdyn.Context())
    np.testing.assert_allclose(y, [12.0, 12.0])
    # the NIR reading, when it fits, is used as is (start_dim=0: a full flatten)
    g.nodes["flat"] = nir.Flatten(input_type={"input": np.array([3, 2, 2])}, start_dim=0)
    m = from_nir(g, dt=1.0)
    assert m.layers[0].start_dim == 0


def test_sinabs_style_cnn_with_empty_output_shape():
    # Sinabs-like export: Conv2d without bias, IF, SumPool2d, Flatten, Linear; an Output
    # whose shape was not written.
    rng = np.random.default_rng(1)
    conv = nir.Conv2d(input_shape=None, weight=rng.normal(size=(4, 2, 3, 3)).astype(np.float32),
                      stride=1, padding=1, dilation=1, groups=1, bias=np.zeros(4, np.float32))
    g = nir.NIRGraph(
        nodes={"in": nir.Input(input_type=np.array([2, 6, 6])), "conv": conv,
               "if": nir.IF(r=f32(4, 6, 6, value=1.0), v_threshold=f32(4, 6, 6, value=1.0),
                            v_reset=f32(4, 6, 6, value=0.0)),
               "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                     padding=np.array([0, 0])),
               "flat": nir.Flatten(input_type=None, start_dim=0),
               "lin": nir.Linear(weight=rng.normal(size=(3, 36)).astype(np.float32)),
               "out": nir.Output(output_type=None)},
        edges=[("in", "conv"), ("conv", "if"), ("if", "pool"), ("pool", "flat"),
               ("flat", "lin"), ("lin", "out")], type_check=False)
    m = from_nir(g, dt=1.0, per_step_if=True, mode=funcdyn.batching_mode)
    xs = (jax.random.uniform(jax.random.key(0), (5, 2, 2, 6, 6)) < 0.5).astype(jnp.float32)
    ys, _ = simulate(m, xs, 1.0)
    assert ys.shape == (5, 2, 3) and np.all(np.isfinite(ys))
