"""Phase 2 of the NIR fixtures, run with the interop environment's interpreter
(benchmarks/.envs/nir_interop, made by setup_env.sh): snnTorch and Norse.

1. Tool -> NIR: snnTorch networks (a LIF chain, a CubaLIF chain, a recurrent CubaLIF, a
   small spiking CNN) are exported with snnTorch's own `export_to_nir` and run in snnTorch
   on fixed inputs. Norse 1.1's exporter writes `tau = dt / tau_inv` (seconds squared),
   which its own importer reads back as a different network, so for Norse the graphs are
   written here (Affine -> LIF, a CubaLIF chain, a CNN of IF neurons with sum pooling)
   and run through Norse's `from_nir`: the recorded outputs are Norse's reading of the
   graph.
2. funcdyn -> tool: the graphs of export_funcdyn.py (phase 1) are imported with
   snnTorch's `import_from_nir` / Norse's `from_nir` and run on the inputs funcdyn used.

Everything goes to tests/fixtures/nir/: `<case>.nir` and `<case>.npz` (input, the tool's
spikes and, where the tool exposes it, the membrane potential). Inputs are time-major
`(T, batch, ...)`.

Run: bash benchmarks/nir_interop/run.sh   (both phases)
"""

import os
import pathlib
import sys

import nir
import numpy as np
import torch

OUT = pathlib.Path(
    os.environ.get("NIR_FIXTURES_OUT")
    or pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "nir"
)
T, B = 60, 3


def spikes_input(shape, p, seed):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand((T, B) + shape, generator=g) < p).float()


def save(case, graph, xs, spikes, mem=None, **extra):
    nir.write(OUT / f"{case}.nir", graph)
    data = dict(input=xs.numpy(), spikes=np.asarray(spikes, np.float32), **extra)
    if mem is not None:
        data["mem"] = np.asarray(mem, np.float32)
    np.savez_compressed(OUT / f"{case}.npz", **data)
    print(f"{case}: {int(np.asarray(spikes).sum())} output spikes")


# -- snnTorch ------------------------------------------------------------------------------

def snntorch_cases():
    import snntorch as snn
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(0)

    def run(net, xs, *, record_mem=True):
        from snntorch import utils

        utils.reset(net)
        spk, mem = [], []
        for x in xs:
            out = net(x)
            s, m = (out[0], out[-1]) if isinstance(out, tuple) else (out, None)
            spk.append(s.detach().numpy())
            if m is not None:
                mem.append(m.detach().numpy())
        return np.stack(spk), (np.stack(mem) if mem else None)

    kw = dict(reset_mechanism="zero", init_hidden=True, reset_delay=False)

    def full(shape, v):
        # snnTorch 1.0 exports scalar beta/threshold as 0-d NIR arrays, which nir 1.0.8's
        # type inference refuses: give one value per neuron.
        return torch.full(shape, v)
    # 1. Linear -> Leaky
    net = torch.nn.Sequential(torch.nn.Linear(6, 5), snn.Leaky(beta=full((5,), 0.9),
                                                    threshold=full((5,), 1.0), output=True, **kw))
    with torch.no_grad():
        net[0].weight.mul_(3.0)
    xs = spikes_input((6,), 0.3, 1)
    graph = export_to_nir(net, xs[0], ignore_dims=[0])
    spk, mem = run(net, xs)
    save("snntorch_lif", graph, xs, spk, mem, dt=0.1)

    # 2. Linear -> Synaptic -> Linear -> Synaptic
    net = torch.nn.Sequential(
        torch.nn.Linear(6, 8), snn.Synaptic(alpha=full((8,), 0.8), beta=full((8,), 0.9),
                                            threshold=full((8,), 1.0), **kw),
        torch.nn.Linear(8, 4), snn.Synaptic(alpha=full((4,), 0.7), beta=full((4,), 0.85),
                                            threshold=full((4,), 1.0), output=True, **kw),
    )
    with torch.no_grad():
        net[0].weight.mul_(2.0)
        net[2].weight.mul_(3.0)
    xs = spikes_input((6,), 0.3, 2)
    graph = export_to_nir(net, xs[0], ignore_dims=[0])
    spk, mem = run(net, xs)
    save("snntorch_cubalif", graph, xs, spk, mem, dt=0.1)

    # 3. A recurrent CubaLIF. snnTorch 1.0's export of RSynaptic fails under nirtorch 2.6
    # (its tracer calls the neuron without spikes), so the graph is written here in the
    # layout snnTorch's exporter uses (a subgraph input -> lif <-> w_rec, lif -> output)
    # and snnTorch's importer builds the RSynaptic that produces the recorded outputs.
    rng = np.random.default_rng(3)
    dt = 1e-4
    n = 8
    alpha, beta = np.float32(0.8), np.float32(0.9)
    tau_syn = np.full(n, dt / (1 - alpha), np.float32)
    tau_mem = np.full(n, dt / (1 - beta), np.float32)
    sub = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([n])),
            "lif": nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / dt,
                               v_leak=np.zeros(n, np.float32), v_threshold=np.ones(n, np.float32),
                               v_reset=np.zeros(n, np.float32), w_in=tau_syn / dt),
            "w_rec": nir.Linear(weight=(rng.normal(size=(n, n)) * 0.6).astype(np.float32)),
            "output": nir.Output(output_type=np.array([n])),
        },
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
    )
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([6])),
            "fc": nir.Linear(weight=(rng.normal(size=(n, 6)) * 1.0).astype(np.float32)),
            "rsyn": sub,
            "output": nir.Output(output_type=np.array([n])),
        },
        edges=[("input", "fc"), ("fc", "rsyn"), ("rsyn", "output")],
    )
    from snntorch.import_nir import import_from_nir

    module = import_from_nir(graph)
    xs = spikes_input((6,), 0.3, 3)
    state, out = None, []
    for x in xs:
        y, state = module(x, state) if state is not None else module(x)
        out.append(y.detach().numpy())
    save("snntorch_rsynaptic", graph, xs, np.stack(out), dt=0.1)

    # 4. A spiking CNN: Conv2d -> Leaky -> AvgPool2d -> Flatten -> Linear -> Leaky
    net = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, padding=1),
        snn.Leaky(beta=full((4, 8, 8), 0.9), threshold=full((4, 8, 8), 1.0), **kw),
        torch.nn.AvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 5),
        snn.Leaky(beta=full((5,), 0.9), threshold=full((5,), 1.0), output=True, **kw),
    )
    with torch.no_grad():
        net[0].weight.mul_(4.0)
        net[4].weight.mul_(6.0)
    xs = spikes_input((2, 8, 8), 0.3, 4)
    graph = export_to_nir(net, xs[0], ignore_dims=[0])
    spk, mem = run(net, xs)
    save("snntorch_cnn", graph, xs, spk, mem, dt=0.1)


# -- Norse ---------------------------------------------------------------------------------

def norse_run(graph, xs, dt=0.001, **kw):
    import norse.torch

    module = norse.torch.from_nir(graph, dt=dt, **kw)
    state, out = None, []
    for x in xs:
        y, state = module(x, state)
        out.append(y.detach().numpy())
    return np.stack(out)


def f32(*shape, value=None, rng=None, scale=1.0):
    if value is not None:
        return np.full(shape, value, np.float32)
    return (rng.normal(size=shape) * scale).astype(np.float32)


def norse_cases():
    rng = np.random.default_rng(0)
    # 5. Affine -> LIF
    graph = nir.NIRGraph.from_list(
        nir.Affine(weight=f32(5, 6, rng=rng, scale=0.8), bias=f32(5, value=0.0)),
        nir.LIF(tau=f32(5, value=0.01), r=f32(5, value=1.0), v_leak=f32(5, value=0.0),
                v_threshold=f32(5, value=0.2), v_reset=f32(5, value=0.0)),
    )
    xs = spikes_input((6,), 0.3, 5)
    save("norse_lif", graph, xs, norse_run(graph, xs), dt=1.0)

    # 6. Affine -> CubaLIF -> Affine -> CubaLIF
    def cuba(n, tau_syn, tau_mem, thr):
        return nir.CubaLIF(tau_syn=f32(n, value=tau_syn), tau_mem=f32(n, value=tau_mem),
                           r=f32(n, value=1.0), v_leak=f32(n, value=0.0),
                           v_threshold=f32(n, value=thr), v_reset=f32(n, value=0.0),
                           w_in=f32(n, value=1.0))

    graph = nir.NIRGraph.from_list(
        nir.Affine(weight=f32(8, 6, rng=rng, scale=2.0), bias=f32(8, value=0.0)),
        cuba(8, 0.005, 0.01, 0.1),
        nir.Affine(weight=f32(4, 8, rng=rng, scale=2.0), bias=f32(4, value=0.0)),
        cuba(4, 0.004, 0.008, 0.1),
    )
    xs = spikes_input((6,), 0.3, 6)
    save("norse_cubalif", graph, xs, norse_run(graph, xs), dt=1.0)

    # 7. Conv2d -> IF -> SumPool2d -> Flatten -> Affine -> LIF (Norse's IF adds r*I per step)
    conv = nir.Conv2d(input_shape=(8, 8), weight=f32(4, 2, 3, 3, rng=rng, scale=0.6),
                      stride=1, padding=1, dilation=1, groups=1, bias=f32(4, value=0.0))
    graph = nir.NIRGraph.from_list(
        conv,
        nir.IF(r=f32(4, 8, 8, value=1.0), v_threshold=f32(4, 8, 8, value=1.0),
               v_reset=f32(4, 8, 8, value=0.0)),
        nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                      padding=np.array([0, 0])),
        nir.Flatten(input_type={"input": np.array([4, 4, 4])}, start_dim=0, end_dim=-1),
        nir.Affine(weight=f32(5, 64, rng=rng, scale=0.5), bias=f32(5, value=0.0)),
        nir.LIF(tau=f32(5, value=0.01), r=f32(5, value=1.0), v_leak=f32(5, value=0.0),
                v_threshold=f32(5, value=0.2), v_reset=f32(5, value=0.0)),
    )
    xs = spikes_input((2, 8, 8), 0.3, 7)
    # Norse maps NIR's Flatten(start_dim=0) to torch.nn.Flatten(0), which would flatten a
    # batch axis too: run each example unbatched (NIR's dims are per example).
    spk = np.stack([norse_run(graph, xs[:, b]) for b in range(B)], axis=1)
    save("norse_cnn", graph, xs, spk, dt=1.0)


# -- funcdyn -> tools ----------------------------------------------------------------------

def funcdyn_to_tools():
    for case, tool in [("snntorch_lif", "snntorch"), ("snntorch_cubalif", "snntorch"),
                       ("norse_cubalif", "norse")]:
        path = OUT / f"funcdyn_{case}.nir"
        if not path.exists():
            print(f"{path} missing: run export_funcdyn.py first", file=sys.stderr)
            continue
        graph = nir.read(path)
        data = np.load(OUT / f"funcdyn_{case}.npz")
        xs = torch.from_numpy(data["input"])
        if tool == "snntorch":
            from snntorch.import_nir import import_from_nir

            module = import_from_nir(graph)
            state, out = None, []
            for x in xs:
                y, state = module(x[None], state) if state is not None else module(x[None])
                out.append(y[0].detach().numpy())
            spk = np.stack(out)
        else:
            spk = norse_run(graph, xs[:, None])[:, 0]
        np.savez_compressed(OUT / f"funcdyn_{case}_{tool}.npz", spikes=spk.astype(np.float32))
        same = np.array_equal(spk, data["spikes"])
        print(f"funcdyn_{case} in {tool}: identical spikes: {same} "
              f"({int(spk.sum())} vs {int(data['spikes'].sum())})")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    which = sys.argv[1:] or ["snntorch", "norse", "funcdyn"]
    if "snntorch" in which:
        snntorch_cases()
    if "norse" in which:
        norse_cases()
    if "funcdyn" in which:
        funcdyn_to_tools()
