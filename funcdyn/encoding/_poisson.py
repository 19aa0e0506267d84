"""Rate coding: Poisson (Bernoulli per step) spike trains."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from .._core._context import Context
from .._core._modes import Mode, resolve_mode
from .._core._system import DynamicalSystem
from ._checks import check_range, normalize


class PoissonEncoder(DynamicalSystem):
    r"""Rate coding: each input value is the probability of a spike in each step,

    $$p = \mathrm{clip}\Big(\frac{x - x_\min}{x_\max - x_\min}, 0, 1\Big), \qquad
    s \sim \mathrm{Bernoulli}(p),$$

    independently per element and per step (a Poisson process of rate `p / dt` in the
    limit of small `p`). Stateless; the random numbers come from `ctx.key`, which is
    required ([`funcdyn.run`][] gives every step its own key from `key=`).

    The gradient is the straight-through estimate `ds/dx = dp/dx`, so that input
    parameters in front of the encoder can be trained.

    **Arguments:**

    - `min_val`, `max_val`: the input range mapped to probabilities 0 and 1; `None`
      (default) when the inputs are probabilities already.
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][].

    **Shapes:** any; the spikes (0.0/1.0 floats) have the shape of `x`. A NaN input
    gives a NaN output (never a silent "no spike").

    ```python
    encoder = funcdyn.encoding.PoissonEncoder(min_val=0.0, max_val=255.0)
    xs = jnp.broadcast_to(image, (100,) + image.shape)            # 100 steps
    _, spikes, _ = funcdyn.run(encoder, xs, dt=1.0, key=jax.random.key(0))
    ```
    """

    min_val: float | None = eqx.field(static=True)
    max_val: float | None = eqx.field(static=True)

    def __init__(
        self,
        min_val: float | None = None,
        max_val: float | None = None,
        *,
        mode: Mode | None = None,
        name: str | None = None,
    ):
        check_range(min_val, max_val, "PoissonEncoder")
        self.min_val = None if min_val is None else float(min_val)
        self.max_val = None if max_val is None else float(max_val)
        self.mode = resolve_mode(mode)
        self.name = name

    def init_state(self, batch_size: int | None = None, *, key=None) -> None:
        """No state: returns `None`."""
        self.check_batch_size(batch_size)
        return None

    def __call__(self, state: None, x: Array, ctx: Context) -> tuple[None, Array]:
        key = ctx.require_key("PoissonEncoder")
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(jnp.result_type(float))
        p = jnp.clip(normalize(x, self.min_val, self.max_val), 0.0, 1.0)
        spikes = (jax.random.uniform(key, x.shape, x.dtype) < p).astype(x.dtype)
        # A NaN input is a NaN output, never "no spike" (the comparison is False for NaN).
        spikes = jnp.where(jnp.isnan(p), p, spikes)
        return state, p + jax.lax.stop_gradient(spikes - p)
