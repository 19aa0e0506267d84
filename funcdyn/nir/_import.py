"""`from_nir`: a NIR graph to a funcdyn model."""

import os
from typing import Any

import diffrax
import numpy as np

from .. import Sequential, layers, neurons
from ..surrogate import Surrogate
from ._channels_first import ChannelsFirst
from ._delay import Delay
from ._graph_model import NIRNetwork
from ._integrator import Integrator
from ._lazy import require_nir
from ._scale import Scale
from ._spike import StrictHeaviside
from ._sum_pool import SumPool2d
from ._threshold import Threshold
from ._units import time_scale, to_model_time

SUPPORTED = (
    "Input", "Output", "Affine", "Linear", "Scale", "Threshold", "LIF", "CubaLIF", "LI",
    "CubaLI", "IF", "I", "Delay", "Conv1d", "Conv2d", "Flatten", "SumPool2d", "AvgPool2d",
    "NIRGraph",
)
DISCRETISATIONS = ("exact", "euler")


def _arr(node, field: str, where: str) -> np.ndarray:
    value = getattr(node, field)
    if value is None:
        raise ValueError(f"{where}: the parameter `{field}` is missing.")
    a = np.asarray(value)
    if a.dtype == object:
        raise ValueError(f"{where}: the parameter `{field}` is not a numeric array.")
    if np.issubdtype(a.dtype, np.floating) and np.any(np.isnan(a)):
        raise ValueError(f"{where}: the parameter `{field}` contains NaN.")
    return a


def _text(value):
    """A padding string as str, whether it came as str, bytes or a 0-d/1-element array
    of either (as h5py returns it); anything else unchanged."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "SUO" and value.size == 1:
        value = value.reshape(-1)[0]
    if isinstance(value, bytes):
        value = value.decode("utf8")
    return str(value) if isinstance(value, np.str_) else value


def _shape_of(value) -> tuple[int, ...] | None:
    if value is None:
        return None
    a = np.asarray(value).reshape(-1)
    if a.dtype == object or any(v is None for v in a):
        return None
    return tuple(int(v) for v in a)


class _Importer:
    def __init__(self, nir, *, dt, mode, discretisation, spike_fn, scale, per_step_if=False):
        self.nir = nir
        self.per_step_if = per_step_if
        self.dt = dt
        self.mode = mode
        self.discretisation = discretisation
        self.spike_fn = spike_fn
        self.scale = scale

    # -- shapes --------------------------------------------------------------------------

    def neuron_params(self, node):
        n = self.nir
        return {
            n.LIF: ("tau", "r", "v_leak", "v_threshold", "v_reset"),
            n.CubaLIF: ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in"),
            n.LI: ("tau", "r", "v_leak"),
            n.CubaLI: ("tau_syn", "tau_mem", "r", "v_leak", "w_in"),
            n.IF: ("r", "v_threshold", "v_reset"),
            n.I: ("r",),
        }.get(type(node))

    def fixed_shape(self, name, node):
        """The per-example input shape a node's parameters fix, or None."""
        n = self.nir
        where = f"node {name!r} ({type(node).__name__})"
        params = self.neuron_params(node)
        if params is not None:
            shapes = {
                np.shape(_arr(node, p, where)) for p in params if getattr(node, p) is not None
            }
            shapes = {s for s in shapes if int(np.prod(s)) != 1 or len(s) > 1}
            if not shapes:
                return None  # scalar parameters: the population takes its neighbours' shape
            try:
                return tuple(np.broadcast_shapes(*shapes))
            except ValueError as err:
                raise ValueError(f"{where}: its parameters have incompatible shapes "
                                 f"{sorted(shapes)}.") from err
        if isinstance(node, (n.Affine, n.Linear)):
            w = _arr(node, "weight", where)
            if w.ndim != 2:
                raise ValueError(f"{where}: `weight` must be 2-D (out, in), got shape {w.shape}.")
            return (w.shape[1],)
        if isinstance(node, n.Scale):
            return np.shape(_arr(node, "scale", where)) or None
        if isinstance(node, n.Threshold):
            return np.shape(_arr(node, "threshold", where)) or None
        if isinstance(node, n.Delay):
            return np.shape(_arr(node, "delay", where)) or None
        if isinstance(node, n.Input):
            return _shape_of(node.input_type.get("input"))
        return None

    def out_shape(self, name, node, shape):
        n = self.nir
        if isinstance(node, (n.Affine, n.Linear)):
            return (np.shape(node.weight)[0],)
        if isinstance(node, (n.Conv1d, n.Conv2d)):
            return self.conv_layer(name, node, shape)[1]
        if isinstance(node, (n.SumPool2d, n.AvgPool2d)):
            return self.pool_layer(name, node, shape)[1]
        if isinstance(node, n.Flatten):
            return self.flatten(name, node, shape)
        if isinstance(node, n.NIRGraph):
            return self.subgraph_shapes(name, node, shape)
        return shape

    def flatten(self, name, node, shape):
        where = f"node {name!r} (Flatten)"
        nd = len(shape)

        def reading(start, end):
            if not (-nd <= start < nd and -nd <= end < nd) or start % nd > end % nd:
                return None
            s, e = start % nd, end % nd
            return (s, e), shape[:s] + (int(np.prod(shape[s : e + 1])),) + shape[e + 1 :]

        start, end = int(node.start_dim), int(node.end_dim)
        nir_reading = reading(start, end)
        # Some exporters write PyTorch's dims, which count the batch axis (start_dim=1 for
        # a full flatten). When the NIR reading cannot feed the next node but that one
        # can, use it, and say so.
        graph = self.current_graph
        succ = [b for a, b in graph.edges if a == name]
        wants = {self.fixed_shape(b, graph.nodes[b]) for b in succ} - {None}
        torch_reading = reading(start - 1, end - 1 if end > 0 else end) if start > 0 else None
        if (nir_reading is not None and wants and nir_reading[1] not in wants
                and torch_reading is not None and torch_reading[1] in wants):
            import warnings

            warnings.warn(
                f"{where}: start_dim={start}, end_dim={end} on an input of shape {shape} "
                f"gives {nir_reading[1]}, which does not fit the next node; read as "
                "PyTorch's dims (counting a batch axis), it gives "
                f"{torch_reading[1]}, which does: using that.", stacklevel=4)
            nir_reading = torch_reading
        if nir_reading is None:
            raise ValueError(f"{where}: start_dim={start}, end_dim={end} do not fit its "
                             f"input of shape {shape}.")
        self.flatten_dims[(id(graph), name)] = nir_reading[0]
        return nir_reading[1]

    def subgraph_shapes(self, name, node, shape):
        outs = [k for k, v in node.nodes.items() if isinstance(v, self.nir.Output)]
        ins = [k for k, v in node.nodes.items() if isinstance(v, self.nir.Input)]
        if len(ins) != 1 or len(outs) != 1:
            raise ValueError(f"subgraph {name!r}: a nested NIRGraph needs exactly one Input "
                             f"and one Output, it has {len(ins)} and {len(outs)}.")
        shapes = self.infer(node, {ins[0]: shape}, f"subgraph {name!r}: ")
        return shapes[outs[0]]

    def infer(self, graph, given: dict, prefix=""):
        """Each node's output shape, propagated from the inputs; checks every edge."""
        n = self.nir
        outer, self.current_graph = getattr(self, "current_graph", None), graph
        out: dict[str, tuple] = {}
        fixed = {k: self.fixed_shape(k, v) for k, v in graph.nodes.items()}
        for k, v in graph.nodes.items():
            if isinstance(v, n.Input):
                shape = given.get(k, fixed[k])
                if shape is None:
                    raise ValueError(f"{prefix}the Input node {k!r} has no shape.")
                if fixed[k] is not None and tuple(shape) != fixed[k]:
                    raise ValueError(f"{prefix}the Input node {k!r} declares shape {fixed[k]}, "
                                     f"the enclosing graph feeds it {tuple(shape)}.")
                out[k] = tuple(shape)
        preds = {k: [a for a, b in graph.edges if b == k] for k in graph.nodes}
        changed = True
        while changed:
            changed = False
            for k, v in graph.nodes.items():
                if k in out:
                    continue
                known = [out[a] for a in preds[k] if a in out]
                shape = known[0] if known else fixed[k]
                if shape is None:
                    continue
                if fixed[k] is not None and tuple(shape) != fixed[k]:
                    src = [a for a in preds[k] if a in out][0]
                    raise ValueError(
                        f"{prefix}the edge ({src!r}, {k!r}) connects an output of shape "
                        f"{tuple(shape)} to an input of shape {fixed[k]} "
                        f"({type(v).__name__}); the shapes must match."
                    )
                self.in_shapes[(id(graph), k)] = tuple(shape)
                out[k] = tuple(self.out_shape(k, v, tuple(shape)))
                changed = True
        unresolved = sorted(set(graph.nodes) - set(out))
        if unresolved:
            raise ValueError(f"{prefix}cannot determine the shapes of {unresolved}: they are not "
                             "reachable from an Input node with a known shape.")
        for a, b in graph.edges:
            vb = graph.nodes[b]
            target = self.in_shapes.get((id(graph), b))
            if isinstance(vb, n.Output):
                declared = _shape_of(vb.output_type.get("output"))
                # an empty declared shape means "not declared" (older exporters)
                if declared and declared != out[a]:
                    raise ValueError(f"{prefix}the edge ({a!r}, {b!r}) feeds an output of shape "
                                     f"{out[a]} to the Output {b!r} declared {declared}.")
                target = out[b]
            if target is not None and out[a] != target:
                raise ValueError(
                    f"{prefix}the edge ({a!r}, {b!r}) connects an output of shape {out[a]} "
                    f"to an input of shape {target}; fan-in sums need equal shapes."
                )
        self.current_graph = outer
        return out

    # -- modules -------------------------------------------------------------------------

    def solver(self):
        return diffrax.Euler() if self.discretisation == "euler" else None

    def param(self, node, field, shape, where, *, time=False):
        a = _arr(node, field, where).astype(np.float64 if time else np.float32)
        try:
            a = np.broadcast_to(a.reshape(a.shape if a.size != 1 else ()), shape)
        except ValueError as err:
            raise ValueError(f"{where}: `{field}` of shape {np.shape(getattr(node, field))} "
                             f"does not fit the population of shape {shape}.") from err
        a = to_model_time(a, self.scale) if time else a.astype(np.float32)
        return np.ascontiguousarray(a)

    def positive(self, a, field, where):
        if not np.all(a > 0):
            raise ValueError(f"{where}: `{field}` must be > 0 everywhere (a time constant).")
        return a

    def lif(self, node, shape, where, tau_field):
        p = lambda f, **kw: self.param(node, f, shape, where, **kw)  # noqa: E731
        tau = self.positive(p(tau_field, time=True), tau_field, where)
        V_th, V_reset = p("v_threshold"), p("v_reset")
        if not np.all(V_reset < V_th):
            raise ValueError(f"{where}: `v_reset` must be below `v_threshold` for every neuron.")
        return neurons.LIF(
            shape, tau=tau, V_rest=p("v_leak"), V_reset=V_reset, V_th=V_th, R=p("r"),
            reset="zero", spike_fn=self.spike_fn, solver=self.solver(), mode=self.mode,
        )

    def li(self, node, shape, where, tau_field, *, synapse=False):
        p = lambda f, **kw: self.param(node, f, shape, where, **kw)  # noqa: E731
        tau = self.positive(p(tau_field, time=True), tau_field, where)
        if synapse:
            # NIR: tau_syn dI/dt = -I + w_in S, a leaky integrator with V_rest = 0, R = w_in.
            return neurons.LeakyIntegrator(shape, tau=tau, V_rest=np.zeros(shape, np.float32),
                                           R=p("w_in"), solver=self.solver(), mode=self.mode)
        return neurons.LeakyIntegrator(shape, tau=tau, V_rest=p("v_leak"), R=p("r"),
                                       solver=self.solver(), mode=self.mode)

    def conv_layer(self, name, node, shape):
        n = self.nir
        where = f"node {name!r} ({type(node).__name__})"
        nd = 1 if isinstance(node, n.Conv1d) else 2
        w = _arr(node, "weight", where).astype(np.float32)
        if w.ndim != nd + 2:
            raise ValueError(f"{where}: `weight` must have {nd + 2} axes (out, in, *kernel).")
        groups = int(np.asarray(node.groups))
        c_out, c_in_g = w.shape[:2]
        if len(shape) != nd + 1 or shape[0] != c_in_g * groups:
            raise ValueError(f"{where}: expects input of shape ({c_in_g * groups}, "
                             f"{', '.join('s' for _ in range(nd))}) (channels first), "
                             f"got {shape}.")
        kernel = w.shape[2:]

        def tup(v, arg):
            v = np.asarray(v).reshape(-1)
            v = np.repeat(v, nd) if v.size == 1 else v
            if v.size != nd:
                raise ValueError(f"{where}: `{arg}` must be an int or {nd} ints, got {v}.")
            return tuple(int(u) for u in v)

        stride, dilation = tup(node.stride, "stride"), tup(node.dilation, "dilation")
        padding = _text(node.padding)
        if isinstance(padding, str):
            if padding == "valid":
                pads = ((0, 0),) * nd
            elif padding == "same":
                if any(s != 1 for s in stride):
                    raise ValueError(f"{where}: padding='same' needs stride 1 (as in PyTorch).")
                total = [d * (k - 1) for d, k in zip(dilation, kernel)]
                pads = tuple((t // 2, t - t // 2) for t in total)
            else:
                raise ValueError(f"{where}: padding must be 'same', 'valid' or ints, got "
                                 f"{padding!r}.")
        else:
            pads = tuple((p, p) for p in tup(padding, "padding"))
        b = _arr(node, "bias", where).astype(np.float32) if node.bias is not None else None
        if b is not None:
            b = np.broadcast_to(b.reshape(-1) if b.size == c_out else b, (c_out,)).copy()
        W = np.transpose(w, tuple(range(2, nd + 2)) + (1, 0)).copy()
        conv = layers.Conv(nd, shape[0], c_out, kernel, stride=stride, padding=pads,
                           dilation=dilation, groups=groups, W_initializer=W,
                           b_initializer=b, mode=self.mode)
        spatial = conv.out_shape(shape[1:])
        if min(spatial) < 1:
            raise ValueError(f"{where}: its input {shape} is smaller than the kernel {kernel}.")
        return ChannelsFirst(conv), (c_out,) + spatial

    def pool_layer(self, name, node, shape):
        where = f"node {name!r} ({type(node).__name__})"
        if len(shape) != 3:
            raise ValueError(f"{where}: expects input of shape (C, H, W), got {shape}.")
        k = _arr(node, "kernel_size", where)
        s = _arr(node, "stride", where)
        p = _arr(node, "padding", where)
        pool = SumPool2d(k.astype(np.int64), s.astype(np.int64), p.astype(np.int64),
                         mode=self.mode)
        out = pool.out_shape(shape)
        if min(out[1:]) < 1:
            raise ValueError(f"{where}: its input {shape} is smaller than the window.")
        if isinstance(node, self.nir.AvgPool2d):
            avg = layers.AvgPool(pool.kernel_size, stride=pool.stride,
                                 padding=tuple((q, q) for q in pool.padding),
                                 num_spatial_dims=2, mode=self.mode)
            return ChannelsFirst(avg), out
        return pool, out

    def module(self, name, node, shape, graph_shapes=None):
        """The funcdyn module of one NIR node, given its per-example input shape."""
        n = self.nir
        where = f"node {name!r} ({type(node).__name__})"
        if isinstance(node, (n.Affine, n.Linear)):
            w = _arr(node, "weight", where).astype(np.float32)
            b = None
            if isinstance(node, n.Affine) and node.bias is not None:
                b = np.broadcast_to(_arr(node, "bias", where).astype(np.float32),
                                    (w.shape[0],)).copy()
            return layers.Dense(w.shape[1], w.shape[0], W_initializer=w.T.copy(),
                                b_initializer=b, mode=self.mode)
        if isinstance(node, n.Scale):
            return Scale(self.param(node, "scale", shape, where), mode=self.mode)
        if isinstance(node, n.Threshold):
            return Threshold(self.param(node, "threshold", shape, where),
                             spike_fn=self.spike_fn, mode=self.mode)
        if isinstance(node, n.LIF):
            return self.lif(node, shape, where, "tau")
        if isinstance(node, n.CubaLIF):
            return Sequential(self.li(node, shape, where, "tau_syn", synapse=True),
                              self.lif(node, shape, where, "tau_mem"), mode=self.mode)
        if isinstance(node, n.LI):
            return self.li(node, shape, where, "tau")
        if isinstance(node, n.CubaLI):
            return Sequential(self.li(node, shape, where, "tau_syn", synapse=True),
                              self.li(node, shape, where, "tau_mem"), mode=self.mode)
        if isinstance(node, n.IF):
            p = lambda f: self.param(node, f, shape, where)  # noqa: E731
            V_th, V_reset = p("v_threshold"), p("v_reset")
            if not np.all(V_reset < V_th):
                raise ValueError(f"{where}: `v_reset` must be below `v_threshold`.")
            # dv/dt = R I with t in seconds: tau is one second in the model's unit (or one
            # step, for the per-step reading of Norse, snnTorch and Sinabs).
            tau = self.dt if self.per_step_if else self.scale
            return neurons.IF(shape, tau=tau, V_rest=0.0, V_reset=V_reset, V_th=V_th,
                              R=p("r"), reset="zero", spike_fn=self.spike_fn, mode=self.mode)
        if isinstance(node, n.I):
            return Integrator(self.param(node, "r", shape, where),
                              tau=self.dt if self.per_step_if else self.scale,
                              mode=self.mode)
        if isinstance(node, n.Delay):
            d = self.param(node, "delay", shape, where, time=True).astype(np.float64)
            steps = d / self.dt
            rounded = np.round(steps)
            if np.any(d < 0) or not np.allclose(steps, rounded, rtol=0, atol=1e-3):
                raise ValueError(f"{where}: its delays ({d.min()} to {d.max()} model time "
                                 f"units) are not whole, non-negative numbers of steps of "
                                 f"dt={self.dt}; choose a dt that divides them.")
            return Delay(rounded.astype(np.int32), shape, dt=self.dt, mode=self.mode)
        if isinstance(node, (n.Conv1d, n.Conv2d)):
            return self.conv_layer(name, node, shape)[0]
        if isinstance(node, (n.SumPool2d, n.AvgPool2d)):
            return self.pool_layer(name, node, shape)[0]
        if isinstance(node, n.Flatten):
            start, end = self.flatten_dims[(id(self.current_graph), name)]
            return layers.Flatten(start, end, mode=self.mode)
        if isinstance(node, n.NIRGraph):
            return self.graph(node, shape, prefix=f"subgraph {name!r}: ")
        raise AssertionError(type(node))  # unreachable: types were checked

    # -- the graph -----------------------------------------------------------------------

    def check_types(self, graph, prefix=""):
        n = self.nir
        for k, v in graph.nodes.items():
            tname = type(v).__name__
            if tname not in SUPPORTED or not isinstance(v, getattr(n, tname)):
                raise ValueError(
                    f"{prefix}node {k!r} has the type {tname}, which funcdyn.nir cannot "
                    f"import; supported node types: {', '.join(SUPPORTED)}."
                )
            if isinstance(v, n.NIRGraph):
                self.check_types(v, prefix=f"{prefix}subgraph {k!r}: ")
        for e in graph.edges:
            if len(e) != 2 or e[0] not in graph.nodes or e[1] not in graph.nodes:
                raise ValueError(f"{prefix}the edge {tuple(e)!r} names a node that is not in "
                                 f"the graph (nodes: {sorted(graph.nodes)}).")
        ins = [k for k, v in graph.nodes.items() if isinstance(v, n.Input)]
        outs = [k for k, v in graph.nodes.items() if isinstance(v, n.Output)]
        if not ins or not outs:
            raise ValueError(f"{prefix}the graph needs at least one Input and one Output node "
                             f"(it has {len(ins)} Input and {len(outs)} Output).")
        for k in ins:
            if any(b == k for _, b in graph.edges):
                raise ValueError(f"{prefix}the Input node {k!r} has incoming edges.")
        for k in outs:
            if any(a == k for a, _ in graph.edges):
                raise ValueError(f"{prefix}the Output node {k!r} has outgoing edges.")
        for k, v in graph.nodes.items():
            if not isinstance(v, n.Input) and not any(b == k for _, b in graph.edges):
                raise ValueError(f"{prefix}node {k!r} ({type(v).__name__}) has no incoming "
                                 "edge; every node but an Input needs one.")

    def graph(self, graph, in_shape=None, prefix=""):
        n = self.nir
        ins = [k for k, v in graph.nodes.items() if isinstance(v, n.Input)]
        outs = [k for k, v in graph.nodes.items() if isinstance(v, n.Output)]
        given = {} if in_shape is None else {ins[0]: in_shape}
        shapes = self.infer(graph, given, prefix)
        inner = [k for k in graph.nodes if k not in ins and k not in outs]
        modules = {}
        for k in inner:
            self.current_graph = graph  # a nested graph's build moves it
            modules[k] = _named(self.module(k, graph.nodes[k], self.in_shapes[(id(graph), k)]), k)
        chain = _chain(graph, ins, outs)
        if chain is not None:
            parts = [modules[k] for k in chain]
            if not parts:
                parts = [layers.Identity(mode=self.mode)]
            return Sequential(*parts, mode=self.mode)
        order, delayed = _schedule(graph, ins, inner)
        return NIRNetwork(
            modules,
            inputs={k: shapes[k] for k in ins},
            outputs={k: shapes[k] for k in outs},
            edges=[tuple(e) for e in graph.edges],
            delayed=delayed,
            order=order,
            shapes={k: shapes[k] for k in inner},
            mode=self.mode,
        )


def _named(module, name):
    """The module with its static `name` set to the NIR node's name (kept by `to_nir`)."""
    # `name` is a static field: set it on the freshly built (unshared) module directly.
    # The parts of a CubaLIF/CubaLI pair carry it too, since a chain flattens them.
    object.__setattr__(module, "name", name)
    if isinstance(module, Sequential):
        for layer in module.layers:
            object.__setattr__(layer, "name", name)
    return module


def _chain(graph, ins, outs):
    """The inner nodes in order when the graph is one path Input -> ... -> Output."""
    if len(ins) != 1 or len(outs) != 1:
        return None
    succ = {k: [b for a, b in graph.edges if a == k] for k in graph.nodes}
    pred = {k: [a for a, b in graph.edges if b == k] for k in graph.nodes}
    if any(len(v) > 1 for v in succ.values()) or any(len(v) > 1 for v in pred.values()):
        return None
    path, k = [], ins[0]
    while succ[k]:
        k = succ[k][0]
        if k in path:
            return None
        path.append(k)
    if not path or path[-1] != outs[0] or len(path) != len(graph.nodes) - 1:
        return None
    return path[:-1]


def _schedule(graph, ins, inner):
    """A run order of the inner nodes and the edges that must carry last step's value:
    depth-first from the inputs, an edge back to a node still being visited closes a
    cycle and is delayed; the order is the reverse post-order of the remaining DAG."""
    succ = {k: [b for a, b in graph.edges if a == k] for k in graph.nodes}
    state: dict[str, int] = {}
    post: list[str] = []
    delayed = []
    for root in ins:
        stack = [(root, iter(succ[root]))]
        state[root] = 1
        while stack:
            k, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[k] = 2
                post.append(k)
                stack.pop()
            elif state.get(nxt) == 1:
                delayed.append((k, nxt))
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(succ[nxt])))
    unreachable = sorted(set(inner) - set(state))
    if unreachable:
        raise ValueError(f"the nodes {unreachable} are not reachable from any Input node.")
    inner_set = set(inner)
    order = [k for k in reversed(post) if k in inner_set]
    return order, delayed


def _load(graph, nir):
    if isinstance(graph, (str, os.PathLike)):
        path = os.fspath(graph)
        if not os.path.exists(path):
            raise FileNotFoundError(f"from_nir: no such file {path!r}.")
        try:
            graph = nir.read(path)
        except Exception:
            try:
                graph = nir.read(path, type_check=False)
            except Exception as err:
                raise ValueError(f"from_nir: {path!r} is not a readable NIR file "
                                 f"(an HDF5 file written by nir.write): {err}") from err
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"from_nir: `graph` must be a nir.NIRGraph or the path of a .nir "
                        f"file, got {type(graph).__name__}.")
    return graph


def from_nir(graph: Any, *, dt: float, mode=None, discretisation: str = "exact",
             spike_fn: Surrogate | None = None, time_unit: str = "ms",
             per_step_if: bool = False):
    r"""Builds a funcdyn model from a NIR graph.

    **Arguments:**

    - `graph`: a `nir.NIRGraph`, or the path of a `.nir` file (read with `nir.read`).
    - `dt`: the step size the model will run with, in `time_unit` (required, > 0). It
      converts `Delay`s to steps; the neurons read the step from the
      [`funcdyn.Context`][], so run the model with this `dt`.
    - `mode`: the mode of every part (default: the construction-time default). In
      [`funcdyn.training_mode`][] weights, biases and neuron parameters are trainable.
    - `discretisation`: `"exact"` (default) integrates each linear stage exactly for an
      input held over the step (funcdyn's exponential Euler); `"euler"` is the forward
      Euler update ($1 - \Delta t/\tau$ as the decay) of snnTorch, Norse, Spyx and the
      NIR reference simulator. Use the one the graph was trained with.
    - `spike_fn`: the spike function of the imported neurons; default
      [`funcdyn.nir.StrictHeaviside`][] (NIR's `v > v_threshold`, InverseSquare
      surrogate gradient).
    - `time_unit`: `"ms"` (default; NIR's seconds are multiplied by 1000) or `"s"`.
    - `per_step_if`: NIR's `IF` and `I` integrate $\dot v = R I$ in seconds, so a step adds
      $R I \Delta t$ (the default). Norse, snnTorch and Sinabs add $R I$ per step
      instead; `True` reads `IF`/`I` their way (graphs from those tools need it).

    **Returns:** a [`funcdyn.Sequential`][] when the graph is a chain
    `Input -> ... -> Output`, else a [`funcdyn.nir.NIRNetwork`][]. Inputs and every
    array inside keep NIR's layout (channels first). See the NIR guide for the mapping
    of each node.

    Errors (`ValueError` unless said) are raised before anything is built: an unknown
    node type, an edge between mismatched shapes, a graph without `Input` or `Output`, a
    missing or non-positive `dt`, NaN parameters, a missing file (`FileNotFoundError`) or
    a file that is not NIR.

    ```python
    model = funcdyn.nir.from_nir("snntorch_net.nir", dt=0.1, discretisation="euler")
    _, _, spikes = funcdyn.run(model, xs, dt=0.1)
    ```
    """
    nir = require_nir()
    if isinstance(dt, bool) or not isinstance(dt, (int, float, np.floating)):
        raise TypeError(f"from_nir: `dt` must be a positive float (the step in {time_unit}), "
                        f"got {dt!r}.")
    if not np.isfinite(dt) or not dt > 0:
        raise ValueError(f"from_nir: `dt` must be a positive, finite float, got {dt!r}.")
    if discretisation not in DISCRETISATIONS:
        raise ValueError(f"from_nir: `discretisation` must be one of {DISCRETISATIONS}, got "
                         f"{discretisation!r}.")
    scale = time_scale(time_unit)
    if spike_fn is None:
        spike_fn = StrictHeaviside()
    if not isinstance(spike_fn, Surrogate):
        raise TypeError(f"from_nir: `spike_fn` must be a funcdyn.surrogate.Surrogate, got "
                        f"{spike_fn!r}.")
    from .. import get_default_mode

    mode = get_default_mode() if mode is None else mode
    graph = _load(graph, nir)
    imp = _Importer(nir, dt=float(dt), mode=mode, discretisation=discretisation,
                    spike_fn=spike_fn, scale=scale, per_step_if=bool(per_step_if))
    imp.in_shapes = {}
    imp.flatten_dims = {}
    imp.check_types(graph)
    return imp.graph(graph)
