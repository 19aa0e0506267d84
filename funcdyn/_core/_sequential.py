"""Chaining steps: `a >> b`."""

from typing import Any

import equinox as eqx
import jax

from ._context import Context
from ._modes import batching_mode, Mode, resolve_mode
from ..typing import Layer
from ._system import DynamicalSystem, _split_or_none



def _infer_mode(layers: tuple) -> Mode:
    modes = {layer.mode for layer in layers if isinstance(layer, DynamicalSystem)}
    if not modes:
        return resolve_mode(None)
    if len(modes) == 1:
        return modes.pop()
    if len({m.is_batching for m in modes}) > 1:
        names = ", ".join(sorted({type(m).__name__ for m in modes}))
        raise ValueError(
            f"Sequential: the layers mix batching and non-batching modes ({names}); build "
            "them in one kind of mode, or pass `mode=` explicitly."
        )
    return batching_mode


class Sequential(DynamicalSystem):
    """Runs layers one after another within one time step: the output of each feeds the
    next. Build it with `Sequential(a, b, c)` or `a >> b >> c`.

    **Arguments:**

    - `*layers`: [`funcdyn.DynamicalSystem`][]s, plain `equinox.Module`s or functions (an
      activation such as `jax.nn.relu`). Nested `Sequential`s are flattened.
    - `mode`, `name`: as for every [`funcdyn.DynamicalSystem`][]. When `mode` is `None`
      it is inferred from the layers: their common mode, [`funcdyn.batching_mode`][] when
      batching layers mix batching and training modes, or the construction-time default
      when no layer is a `DynamicalSystem`. Layers that disagree on the batch axis are an
      error.

    The state is the tuple of the layers' states (`None` for plain functions and modules).
    Layer `k` gets the context `ctx.child(k)`, so random layers draw distinct numbers.

    Plain `equinox.Module`s follow the Equinox convention of acting on one example; in a
    batching mode the `Sequential` applies them with `jax.vmap` over the batch axis. Plain
    functions are applied as they are (they should be elementwise or batch-aware).

    Indexing gives a layer, slicing gives a `Sequential`; `len()` is the number of layers.

    ```python
    net = Dense(100, 50, key=k1) >> jax.nn.relu >> Dense(50, 10, key=k2)
    state = net.init_state()
    state, y = net(state, x, funcdyn.Context(dt=1.0))
    ```
    """

    layers: tuple[Layer, ...]

    def __init__(self, *layers: Layer, mode: Mode | None = None, name: str | None = None):
        flat = []
        for k, layer in enumerate(layers):
            if isinstance(layer, Sequential):
                flat.extend(layer.layers)
            elif callable(layer):
                flat.append(layer)
            else:
                raise TypeError(
                    f"Sequential: layer {k} ({layer!r}) is not callable; pass funcdyn "
                    "models, equinox modules or functions."
                )
        if not flat:
            raise ValueError("Sequential needs at least one layer.")
        self.layers = tuple(flat)
        self.mode = resolve_mode(mode) if mode is not None else _infer_mode(self.layers)
        self.name = name

    def init_state(self, batch_size: int | None = None, *, key=None) -> tuple:
        """The tuple of the layers' initial states (`None` for functions and plain
        modules)."""
        self.check_batch_size(batch_size)
        keys = _split_or_none(key, len(self.layers))
        return tuple(
            layer.init_state(batch_size, key=k) if isinstance(layer, DynamicalSystem) else None
            for layer, k in zip(self.layers, keys)
        )

    def __call__(self, state: tuple, x: Any, ctx: Context) -> tuple[tuple, Any]:
        if not isinstance(state, tuple) or len(state) != len(self.layers):
            raise ValueError(
                f"Sequential of {len(self.layers)} layers needs a tuple of "
                f"{len(self.layers)} states (from init_state), got {type(state).__name__}."
            )
        new_state = []
        for k, (layer, s) in enumerate(zip(self.layers, state)):
            if isinstance(layer, DynamicalSystem):
                s, x = layer(s, x, ctx.child(k))
            elif isinstance(layer, eqx.Module) and self.mode.is_batching:
                x = jax.vmap(layer)(x)
            else:
                x = layer(x)
            new_state.append(s)
        return tuple(new_state), x

    def __getitem__(self, index: int | slice) -> "Layer | Sequential":
        if isinstance(index, slice):
            return Sequential(*self.layers[index], mode=self.mode, name=self.name)
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)
