"""A network of named parts wired by a NIR graph's edges: fan-in, fan-out and cycles."""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from .. import Context, DynamicalSystem


class NIRNetwork(DynamicalSystem):
    r"""A network of named parts connected by edges, as [`funcdyn.nir.from_nir`][] builds
    it for graphs that are not chains.

    **Step semantics.** Within one step the parts run in `order`. The input of a part is
    the sum of the outputs of its predecessors (fan-in sums; one output may feed several
    parts). An edge listed in `delayed` carries the value its source produced in the
    *previous* step (zero in the first step): these are the edges that close a cycle,
    e.g. the recurrent `Affine` feeding a `CubaLIF` back. This one-step delay is the
    discrete-time reading of NIR's instantaneous feedback, the same one snnTorch (`RLeaky`,
    `RSynaptic`) and Norse apply.

    **State:** a dict `{"parts": {name: state}, "previous": {name: output}}` holding each
    part's state and the last output of every source of a delayed edge.

    **Arguments:**

    - `parts`: a dict of named [`funcdyn.DynamicalSystem`][]s.
    - `inputs`, `outputs`: the names of the graph's inputs and outputs, with their
      per-example shapes: `{name: shape}`. With one input, `x` is an array; with several,
      a dict keyed by input name. Likewise for the output `y`.
    - `edges`: `(source, target)` pairs among inputs, parts and outputs.
    - `delayed`: the edges (a subset of `edges`) that carry last step's value.
    - `order`: the order the parts run in (each part after the undelayed sources of its
      inputs).
    - `shapes`: the per-example output shape of every part (for the zero initial value
      of delayed edges).
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][].

    ```python
    model = funcdyn.nir.from_nir(recurrent_graph, dt=1.0)    # a NIRNetwork
    _, _, spikes = funcdyn.run(model, xs, dt=1.0)
    ```
    """

    parts: dict[str, DynamicalSystem]
    inputs: tuple[tuple[str, tuple[int, ...]], ...] = eqx.field(static=True)
    outputs: tuple[tuple[str, tuple[int, ...]], ...] = eqx.field(static=True)
    edges: tuple[tuple[str, str], ...] = eqx.field(static=True)
    delayed: tuple[tuple[str, str], ...] = eqx.field(static=True)
    order: tuple[str, ...] = eqx.field(static=True)
    shapes: tuple[tuple[str, tuple[int, ...]], ...] = eqx.field(static=True)

    def __init__(self, parts, *, inputs, outputs, edges, delayed=(), order=None, shapes,
                 mode=None, name=None):
        if not isinstance(parts, dict) or not all(
            isinstance(k, str) and isinstance(v, DynamicalSystem) for k, v in parts.items()
        ):
            raise TypeError("NIRNetwork: `parts` must be a dict of named DynamicalSystems.")
        self.parts = dict(parts)
        self.inputs = tuple((str(k), tuple(int(s) for s in v)) for k, v in dict(inputs).items())
        self.outputs = tuple(
            (str(k), tuple(int(s) for s in v)) for k, v in dict(outputs).items()
        )
        if not self.inputs or not self.outputs:
            raise ValueError("NIRNetwork needs at least one input and one output.")
        names = set(self.parts) | {k for k, _ in self.inputs} | {k for k, _ in self.outputs}
        if len(names) != len(self.parts) + len(self.inputs) + len(self.outputs):
            raise ValueError("NIRNetwork: part, input and output names must be distinct.")
        self.edges = tuple((str(a), str(b)) for a, b in edges)
        for a, b in self.edges:
            if a not in names or b not in names:
                raise ValueError(f"NIRNetwork: the edge ({a!r}, {b!r}) names an unknown node.")
        self.delayed = tuple((str(a), str(b)) for a, b in delayed)
        if not set(self.delayed) <= set(self.edges):
            raise ValueError("NIRNetwork: every delayed edge must be one of `edges`.")
        self.order = tuple(self.parts) if order is None else tuple(order)
        if sorted(self.order) != sorted(self.parts):
            raise ValueError("NIRNetwork: `order` must list every part exactly once.")
        position = {k: i for i, k in enumerate(self.order)}
        for a, b in self.edges:
            if (a, b) not in self.delayed and a in position and b in position:
                if position[a] >= position[b]:
                    raise ValueError(
                        f"NIRNetwork: the edge ({a!r}, {b!r}) runs against `order`; list it "
                        "in `delayed` or reorder the parts."
                    )
        self.shapes = tuple((str(k), tuple(int(s) for s in v)) for k, v in dict(shapes).items())
        missing = set(self.parts) - {k for k, _ in self.shapes}
        if missing:
            raise ValueError(f"NIRNetwork: `shapes` lacks the parts {sorted(missing)}.")
        self.mode = mode if mode is not None else _common_mode(self.parts)
        self.name = name

    def init_state(self, batch_size=None, *, key=None) -> dict[str, Any]:
        """Every part's initial state, and zeros for the sources of delayed edges."""
        self.check_batch_size(batch_size)
        keys = [None] * len(self.order)
        if key is not None:
            keys = list(jax.random.split(key, max(len(self.order), 1)))
        parts = {
            k: self.parts[k].init_state(batch_size, key=kk) for k, kk in zip(self.order, keys)
        }
        lead = (batch_size,) if self.mode.is_batching else ()
        shapes = dict(self.shapes) | dict(self.inputs)
        previous = {a: jnp.zeros(lead + shapes[a]) for a in sorted({a for a, _ in self.delayed})}
        return {"parts": parts, "previous": previous}

    def _incoming(self, target: str, values: dict, previous: dict):
        total = None
        for a, b in self.edges:
            if b != target:
                continue
            v = previous[a] if (a, b) in self.delayed else values[a]
            total = v if total is None else total + v.astype(total.dtype)
        return total

    def __call__(self, state, x, ctx: Context):
        if not isinstance(state, dict) or set(state) != {"parts", "previous"}:
            raise ValueError("NIRNetwork: pass the state from init_state (a dict with "
                             "'parts' and 'previous').")
        names = [k for k, _ in self.inputs]
        if len(names) == 1:
            values = {names[0]: jnp.asarray(x)}
        else:
            if not isinstance(x, dict) or set(x) != set(names):
                raise ValueError(f"NIRNetwork has the inputs {names}: pass x as a dict with "
                                 "exactly these keys.")
            values = {k: jnp.asarray(x[k]) for k in names}
        previous = state["previous"]
        new_parts = {}
        for k in self.order:
            inp = self._incoming(k, values, previous)
            new_parts[k], values[k] = self.parts[k](state["parts"][k], inp, ctx.child(k))
        out = {k: self._incoming(k, values, previous) for k, _ in self.outputs}
        new_previous = {a: values[a].astype(previous[a].dtype) for a in previous}
        y = out[self.outputs[0][0]] if len(self.outputs) == 1 else out
        return {"parts": new_parts, "previous": new_previous}, y


def _common_mode(parts):
    from .. import get_default_mode

    modes = {p.mode for p in parts.values()}
    if len(modes) == 1:
        return modes.pop()
    if len({m.is_batching for m in modes}) > 1:
        raise ValueError("NIRNetwork: the parts mix batching and non-batching modes.")
    from .. import batching_mode

    return batching_mode if modes else get_default_mode()
