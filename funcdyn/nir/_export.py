"""`to_nir`: a funcdyn model to a NIR graph."""

from collections import Counter
from typing import Any

import diffrax
import equinox as eqx
import numpy as np

from .. import DynamicalSystem, Sequential, layers, neurons, synapses, synouts
from ._channels_first import ChannelsFirst
from ._delay import Delay
from ._graph_model import NIRNetwork
from ._integrator import Integrator
from ._lazy import require_nir
from ._scale import Scale
from ._sum_pool import SumPool2d
from ._threshold import Threshold
from ._units import time_scale, to_seconds


def _np(a, shape=None) -> np.ndarray:
    a = np.asarray(a, dtype=np.float32)
    return np.ascontiguousarray(np.broadcast_to(a, shape) if shape is not None else a)


def _no_equivalent(part, why: str = "") -> ValueError:
    name = type(part).__name__ if not callable(part) or isinstance(part, eqx.Module) else (
        getattr(part, "__name__", repr(part)))
    return ValueError(
        f"to_nir: {name} has no NIR equivalent{': ' + why if why else ''}. NIR covers "
        "Dense, Conv (channels first, via funcdyn.nir.ChannelsFirst), pools, Flatten, LIF, "
        "IF, LeakyIntegrator, RecurrentLIF, Exponential synapses with CUBA output feeding a "
        "LIF or LeakyIntegrator, and the funcdyn.nir primitives."
    )


class _Exporter:
    def __init__(self, nir, dt, scale, per_step_if=False):
        self.nir = nir
        self.per_step_if = per_step_if
        self.dt = dt
        self.scale = scale

    def seconds(self, a, shape):
        return to_seconds(_np(a, shape), self.scale)

    def if_gain(self, tau, shape):
        """NIR's r of an IF/I population per unit of funcdyn's R: `1 s / tau` (or
        `dt / tau` in the per-step reading); exactly 1 for what from_nir builds."""
        unit = self.dt if self.per_step_if else self.scale
        return (unit / np.broadcast_to(np.asarray(tau, np.float64), shape)).astype(np.float32)

    def check_neuron(self, part):
        if getattr(part, "tau_ref", None) is not None:
            raise _no_equivalent(part, "NIR neurons have no refractory period (tau_ref > 0)")
        if getattr(part, "reset", "zero") != "zero":
            raise _no_equivalent(part, "NIR resets to v_reset; reset='subtract' is not in NIR")
        solver = getattr(part, "solver", None)
        if solver is not None and not isinstance(solver, diffrax.Euler):
            raise _no_equivalent(part, f"its solver {type(solver).__name__} is neither the "
                                 "exact update nor forward Euler")

    def lif_fields(self, part):
        s = part.size
        return dict(
            r=_np(part.R, s), v_leak=_np(part.V_rest, s), v_threshold=_np(part.V_th, s),
            v_reset=_np(part.V_reset, s),
        )

    def nodes_of(self, part, shape, nxt=None):
        """`(nodes, out_shape, consumed)`: the NIR nodes of `part` (a list of (hint, node)),
        the per-example output shape, and whether `nxt` (the next layer) was merged in."""
        n = self.nir
        if isinstance(part, Sequential):
            # a nested chain becomes a subgraph unless it is a CubaLIF/CubaLI pair
            second = part.layers[1] if len(part) > 1 else None
            merged = self.nodes_of(part.layers[0], shape, second)
            if len(part) == 2 and merged[2] and len(merged[0]) == 1:
                return merged[0], merged[1], False
            graph, out = self.sequential(part, shape)
            return [("graph", graph)], out, False
        if isinstance(part, NIRNetwork):
            graph = self.network(part)
            return [("graph", graph)], dict(part.outputs)[part.outputs[0][0]], False
        if isinstance(part, (layers.Identity, neurons.InputGroup)):
            return [], shape, False  # pass-throughs: nothing to write
        if isinstance(part, layers.Dense):
            W = _np(part.W).T.copy()
            if part.b is None:
                return [("linear", n.Linear(weight=W))], (part.num_out,), False
            return [("affine", n.Affine(weight=W, bias=_np(part.b)))], (part.num_out,), False
        if isinstance(part, ChannelsFirst):
            return self.channels_first(part, shape)
        if isinstance(part, (layers.Conv, layers.AvgPool, layers.MaxPool)):
            raise _no_equivalent(part, "it is channels last; NIR is channels first: wrap it in "
                                 "funcdyn.nir.ChannelsFirst (and feed channels-first inputs)")
        if isinstance(part, SumPool2d):
            return ([("sumpool2d", n.SumPool2d(kernel_size=np.array(part.kernel_size),
                                                stride=np.array(part.stride),
                                                padding=np.array(part.padding)))],
                    part.out_shape(shape), False)
        if isinstance(part, layers.Flatten):
            nd = len(shape)
            s, e = part.start_dim % nd, part.end_dim % nd
            out = shape[:s] + (int(np.prod(shape[s : e + 1])),) + shape[e + 1 :]
            return ([("flatten", n.Flatten(input_type={"input": np.array(shape)},
                                           start_dim=part.start_dim, end_dim=part.end_dim))],
                    out, False)
        if isinstance(part, Scale):
            return [("scale", n.Scale(scale=_np(part.scale)))], part.shape, False
        if isinstance(part, Threshold):
            return [("threshold", n.Threshold(threshold=_np(part.threshold)))], part.shape, False
        if isinstance(part, Delay):
            if part.dt != self.dt:
                raise ValueError(f"to_nir: a Delay built for dt={part.dt} cannot be exported "
                                 f"with dt={self.dt}.")
            d = to_seconds(np.asarray(part.steps, np.float64) * self.dt, self.scale)
            return [("delay", n.Delay(delay=np.asarray(d)))], part.shape, False
        if isinstance(part, Integrator):
            r = _np(part.R) * self.if_gain(part.tau, part.shape)
            return [("i", n.I(r=r.astype(np.float32)))], part.shape, False
        if isinstance(part, neurons.Recurrent):
            if type(part.neuron) is not neurons.LIF:
                raise _no_equivalent(part, f"NIR has recurrent LIF populations only, not of "
                                     f"{type(part.neuron).__name__}")
            return [("graph", self.recurrent_lif(part))], part.neuron.size, False
        if type(part) is neurons.IF:
            self.check_neuron(part)
            f = self.lif_fields(part)
            r = f["r"] * self.if_gain(part.tau, part.size)
            return ([("if", n.IF(r=r.astype(np.float32), v_threshold=f["v_threshold"],
                                 v_reset=f["v_reset"]))], part.size, False)
        if type(part) is neurons.LIF:
            self.check_neuron(part)
            tau = self.seconds(part.tau, part.size)
            return [("lif", n.LIF(tau=tau, **self.lif_fields(part)))], part.size, False
        if type(part) is neurons.LeakyIntegrator:
            self.check_neuron(part)
            zero_rest = bool(np.all(np.asarray(part.V_rest) == 0))
            if zero_rest and type(nxt) in (neurons.LIF, neurons.LeakyIntegrator) and (
                tuple(nxt.size) == tuple(part.size)
            ):
                node = self.cuba(part.tau, _np(part.R, part.size), nxt, part.size)
                return [node], part.size, True
            return ([("li", n.LI(tau=self.seconds(part.tau, part.size), r=_np(part.R, part.size),
                                 v_leak=_np(part.V_rest, part.size)))], part.size, False)
        if type(part) is synapses.Exponential:
            return self.exponential(part, nxt)
        if isinstance(part, DynamicalSystem):
            raise _no_equivalent(part)
        raise _no_equivalent(part, "only funcdyn DynamicalSystems can be exported")

    def cuba(self, tau_syn, w_in, nxt, size):
        n = self.nir
        self.check_neuron(nxt)
        tau_syn = self.seconds(tau_syn, size)
        if type(nxt) is neurons.LIF:
            return ("cubalif", n.CubaLIF(tau_syn=tau_syn, tau_mem=self.seconds(nxt.tau, size),
                                         w_in=w_in, **self.lif_fields(nxt)))
        return ("cubali", n.CubaLI(tau_syn=tau_syn, tau_mem=self.seconds(nxt.tau, size),
                                   r=_np(nxt.R, size), v_leak=_np(nxt.V_rest, size), w_in=w_in))

    def exponential(self, part, nxt):
        n = self.nir
        if not isinstance(part.output, synouts.CUBA):
            raise _no_equivalent(part, f"its output {type(part.output).__name__} is not CUBA")
        if getattr(part, "delay_steps", 0):
            raise _no_equivalent(part, "synaptic delays are not exported (use funcdyn.nir.Delay)")
        size = (part.num_post,)
        W = _np(part.weights()).T.copy()
        # funcdyn's synapse jumps by W at a spike; NIR's current is driven by the spike held
        # over one step, tau dI/dt = -I + w_in S, which jumps by w_in (1 - e^(-dt/tau)).
        tau = np.asarray(np.broadcast_to(np.asarray(part.tau, np.float64), size))
        w_in = (1.0 / -np.expm1(-self.dt / tau)).astype(np.float32)
        nodes = [("linear", n.Linear(weight=W))]
        if type(nxt) in (neurons.LIF, neurons.LeakyIntegrator) and tuple(nxt.size) == size:
            nodes.append(self.cuba(part.tau, w_in, nxt, size))
            return nodes, size, True
        nodes.append(("li", n.LI(tau=self.seconds(part.tau, size), r=w_in,
                                 v_leak=np.zeros(size, np.float32))))
        return nodes, size, False

    def channels_first(self, part, shape):
        n = self.nir
        inner = part.layer
        if isinstance(inner, layers.Conv):
            if inner.num_spatial_dims not in (1, 2):
                raise _no_equivalent(inner, "NIR has Conv1d and Conv2d only")
            nd = inner.num_spatial_dims
            W = np.transpose(_np(inner.W), (nd + 1, nd) + tuple(range(nd))).copy()
            b = _np(inner.b) if inner.b is not None else np.zeros(inner.out_channels, np.float32)
            pad = inner.padding
            if isinstance(pad, str):
                raise _no_equivalent(inner, "give explicit padding (NIR's 'same' rounds like "
                                     "PyTorch, not like XLA, for strides > 1)")
            if any(lo != hi for lo, hi in pad):
                raise _no_equivalent(inner, f"asymmetric padding {pad} is not in NIR")
            spatial = tuple(shape[1:])
            out = (inner.out_channels,) + inner.out_shape(spatial)
            cls = n.Conv1d if nd == 1 else n.Conv2d
            node = cls(input_shape=spatial[0] if nd == 1 else spatial, weight=W,
                       stride=inner.stride[0] if nd == 1 else inner.stride,
                       padding=pad[0][0] if nd == 1 else tuple(p[0] for p in pad),
                       dilation=inner.dilation[0] if nd == 1 else inner.dilation,
                       groups=inner.groups, bias=b)
            return [("conv", node)], out, False
        if isinstance(inner, layers.AvgPool):
            k = inner.kernel_size
            k = k if isinstance(k, tuple) else (k,) * 2
            s = k if inner.stride is None else (
                inner.stride if isinstance(inner.stride, tuple) else (inner.stride,) * 2)
            pad = inner.padding
            if isinstance(pad, str) and pad == "VALID":
                pad = ((0, 0), (0, 0))
            if isinstance(pad, int):
                pad = ((pad, pad),) * 2
            if isinstance(pad, str) or len(k) != 2 or any(lo != hi for lo, hi in pad):
                raise _no_equivalent(inner, "NIR has AvgPool2d with symmetric int padding only")
            sp = SumPool2d(k, s, tuple(p[0] for p in pad))
            node = n.AvgPool2d(kernel_size=np.array(k), stride=np.array(s),
                               padding=np.array([p[0] for p in pad]))
            return [("avgpool2d", node)], sp.out_shape(shape), False
        raise _no_equivalent(inner)

    def recurrent_lif(self, part):
        n = self.nir
        lif = part.neuron
        self.check_neuron(lif)
        size = lif.size
        nodes = {
            "input": n.Input(input_type=np.array(size)),
            "lif": n.LIF(tau=self.seconds(lif.tau, size), **self.lif_fields(lif)),
            "w_rec": n.Linear(weight=_np(part.W_rec).T.copy()),
            "output": n.Output(output_type=np.array(size)),
        }
        edges = [("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")]
        return n.NIRGraph(nodes=nodes, edges=edges, type_check=False)

    def sequential(self, model, shape):
        n = self.nir
        parts = list(model.layers) if isinstance(model, Sequential) else [model]
        counts: Counter = Counter()
        names, nodes = [], {"input": n.Input(input_type=np.array(shape))}
        k = 0
        while k < len(parts):
            part = parts[k]
            nxt = parts[k + 1] if k + 1 < len(parts) else None
            new, shape, consumed = self.nodes_of(part, tuple(shape), nxt)
            label = getattr(nxt if consumed else part, "name", None) if isinstance(
                part, eqx.Module) else None
            if consumed and getattr(part, "name", None):
                label = part.name
            for hint, node in new:
                if label and len(new) == 1 and label not in nodes:
                    name = label
                else:
                    name = hint if counts[hint] == 0 else f"{hint}_{counts[hint]}"
                    while name in nodes:
                        counts[hint] += 1
                        name = f"{hint}_{counts[hint]}"
                counts[hint] += 1
                nodes[name] = node
                names.append(name)
            k += 2 if consumed else 1
        nodes["output"] = n.Output(output_type=np.array(shape))
        chain = ["input"] + names + ["output"]
        edges = list(zip(chain[:-1], chain[1:]))
        return n.NIRGraph(nodes=nodes, edges=edges, type_check=False), tuple(shape)

    def network(self, model: NIRNetwork):
        n = self.nir
        nodes = {k: n.Input(input_type=np.array(s)) for k, s in model.inputs}
        shapes = dict(model.inputs)
        incoming = {}
        for a, b in model.edges:
            incoming.setdefault(b, a)
        for k in model.order:
            src = incoming[k]
            in_shape = shapes[src] if src in shapes else dict(model.shapes)[src]
            new, out, _ = self.nodes_of(model.parts[k], tuple(in_shape))
            if len(new) != 1:
                graph, out = self.sequential(model.parts[k], tuple(in_shape))
                new = [("graph", graph)]
            nodes[k] = new[0][1]
            shapes[k] = out
        for k, s in model.outputs:
            nodes[k] = n.Output(output_type=np.array(s))
        return n.NIRGraph(nodes=nodes, edges=[tuple(e) for e in model.edges], type_check=False)


def _input_shape(model, input_shape):
    if input_shape is not None:
        return tuple(int(s) for s in input_shape)
    first = model.layers[0] if isinstance(model, Sequential) else model
    if isinstance(first, layers.Dense):
        return (first.num_in,)
    if isinstance(first, synapses.Exponential):
        return (first.num_pre,)
    for attr in ("size", "shape"):
        if isinstance(getattr(first, attr, None), tuple):
            return tuple(getattr(first, attr))
    raise ValueError(
        f"to_nir: cannot tell the input shape of a model starting with "
        f"{type(first).__name__}; pass `input_shape=` (per example, channels first)."
    )


def to_nir(model: Any, *, dt: float, input_shape=None, time_unit: str = "ms",
           per_step_if: bool = False):
    r"""Writes a funcdyn model as a NIR graph.

    **Arguments:**

    - `model`: a [`funcdyn.Sequential`][] chain, a single layer or neuron population, or
      a [`funcdyn.nir.NIRNetwork`][] (what [`funcdyn.nir.from_nir`][] returns).
    - `dt`: the step the model runs with (in `time_unit`, > 0). It converts
      [`funcdyn.nir.Delay`][] steps to seconds and the jump of an
      [`funcdyn.synapses.Exponential`][] synapse to NIR's `w_in`.
    - `input_shape`: the per-example input shape (channels first); needed only when the
      first layer does not fix it (a convolution).
    - `time_unit`: the unit of the model's time constants and `dt`, `"ms"` (default) or
      `"s"`; NIR stores seconds.
    - `per_step_if`: write `IF`/`I` for tools that add `r I` per step (Norse, snnTorch,
      Sinabs) instead of NIR's `r I dt`; see [`funcdyn.nir.from_nir`][].

    **Returns:** a `nir.NIRGraph`, writable with `nir.write(path, graph)`.

    Layers without a NIR equivalent (HH, NMDA, STP, a subtractive reset, a refractory
    period, a channels-last convolution, ...) raise a `ValueError` naming the part.

    ```python
    graph = funcdyn.nir.to_nir(model, dt=1.0)
    nir.write("model.nir", graph)
    ```
    """
    nir = require_nir()
    if isinstance(dt, bool) or not isinstance(dt, (int, float, np.floating)) or not (
        np.isfinite(dt) and dt > 0
    ):
        raise ValueError(f"to_nir: `dt` must be a positive, finite float, got {dt!r}.")
    exporter = _Exporter(nir, float(dt), time_scale(time_unit), bool(per_step_if))
    if isinstance(model, NIRNetwork):
        return exporter.network(model)
    if not isinstance(model, DynamicalSystem):
        raise _no_equivalent(model, "only funcdyn DynamicalSystems can be exported")
    return exporter.sequential(model, _input_shape(model, input_shape))[0]
