"""Dropout."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from .._checks import is_real
from .._core._context import Context
from .._core._modes import Mode, resolve_mode
from .._core._system import DynamicalSystem


class Dropout(DynamicalSystem):
    """Randomly zeroes inputs with probability `p` during training, scaling the kept ones
    by `1 / (1 - p)` so the expected output equals the input. Stateless.

    **Arguments:**

    - `p`: the probability of *dropping* a unit, in `[0, 1)`. This is the Equinox and
      PyTorch convention. BrainPy's `bp.dnn.Dropout(prob)` instead *keeps* a unit with
      probability `prob`: BrainPy's `Dropout(0.8)` is funcdyn's `Dropout(0.2)`.
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][].

    Active only when `ctx.fit` is `True`; it then needs `ctx.key` (a clear error
    otherwise). Masks differ between layers (containers fold distinct keys) and between
    time steps ([`funcdyn.run`][] folds in the step), and are reproducible from the root
    key. When `ctx.fit` is `False` it is the identity.
    """

    p: float = eqx.field(static=True, default=0.5)

    def __init__(self, p: float = 0.5, *, mode: Mode | None = None, name: str | None = None):
        if not is_real(p):
            raise TypeError(
                f"Dropout: `p` is the drop probability, a float in [0, 1); got {p!r} of type "
                f"{type(p).__name__}."
            )
        if not 0.0 <= p < 1.0:  # NaN fails too
            raise ValueError(
                f"Dropout: `p` is the drop probability and must be in [0, 1), got {p!r}. "
                "(BrainPy's keep-probability `prob` corresponds to p = 1 - prob.)"
            )
        self.p = float(p)
        self.mode = resolve_mode(mode)
        self.name = name

    def init_state(self, batch_size: int | None = None, *, key=None) -> None:
        """Dropout has no state: returns `None`."""
        self.check_batch_size(batch_size)
        return None

    def __call__(self, state: None, x: Array, ctx: Context) -> tuple[None, Array]:
        if not ctx.fit or self.p == 0.0:
            return state, x
        key = ctx.require_key(f"Dropout(p={self.p})")
        keep = jax.random.bernoulli(key, 1.0 - self.p, jnp.shape(x))
        return state, jnp.where(keep, x / (1.0 - self.p), jnp.zeros_like(x))
