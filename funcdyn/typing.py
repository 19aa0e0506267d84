"""The type aliases of funcdyn's public signatures, in one place.

```python
from funcdyn.typing import ParamSpec

def make_weights(W_initializer: ParamSpec = funcdyn.init.XavierNormal()): ...
```
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import numpy as np
from jaxtyping import PRNGKeyArray

from ._core._system import DynamicalSystem
from .init._base import Initializer

__all__ = ["Layer", "LossFn", "Monitors", "ParamSpec"]

ParamSpec = jax.Array | np.ndarray | Initializer | Callable[..., Any] | float | None
"""A parameter argument, resolved by [`funcdyn.init.parameter`][]: an array (used as
given), an initialiser or a callable `(key, shape, dtype) -> array`, a number (filled),
or `None`."""

Monitors = Callable[[Any], Any] | dict[str, Callable[[Any], Any]] | None
"""What [`funcdyn.run`][] records after every step: a function of the state, a dict of
them, or `None` for no records."""

LossFn = Callable[[Any, Any, PRNGKeyArray | None], Any]
"""A training loss for [`funcdyn.train.make_step`][]: `loss_fn(model, batch, key) ->
loss` (a scalar), or `-> (loss, aux)`."""

Layer = DynamicalSystem | eqx.Module | Callable[..., Any]
"""What [`funcdyn.Sequential`][] chains: a [`funcdyn.DynamicalSystem`][], a stateless
Equinox module, or a function of the input."""
