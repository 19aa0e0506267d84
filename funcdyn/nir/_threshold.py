"""NIR's `Threshold`: a stateless spike (Heaviside) of the distance to threshold."""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from .. import Context, DynamicalSystem
from ..surrogate import Surrogate
from ._checks import check_example_shape, float_array, mode_or_default
from ._spike import StrictHeaviside


class Threshold(DynamicalSystem):
    r"""A stateless threshold, NIR's `Threshold` node:

    $$z = \begin{cases} 1 & x > \theta \\ 0 & \text{else} \end{cases}$$

    evaluated as `spike_fn(x - threshold)`, so it has a surrogate gradient.

    **Arguments:**

    - `threshold`: $\theta$, an array of the per-example shape of `x`. An array leaf:
      trainable in [`funcdyn.training_mode`][].
    - `spike_fn`: a [`funcdyn.surrogate.Surrogate`][]; default
      [`funcdyn.nir.StrictHeaviside`][] (NIR's strict `>`).
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][].

    ```python
    thr = funcdyn.nir.Threshold(jnp.ones(4))
    _, z = thr(None, jnp.array([0.5, 1.0, 1.5, 2.0]), funcdyn.Context(dt=1.0))  # 0 0 1 1
    ```
    """

    threshold: Array
    spike_fn: Surrogate
    shape: tuple[int, ...] = eqx.field(static=True)

    def __init__(self, threshold, spike_fn: Surrogate | None = None, *, mode=None, name=None):
        self.threshold = float_array(threshold, "threshold", "Threshold")
        self.shape = tuple(self.threshold.shape)
        if spike_fn is None:
            spike_fn = StrictHeaviside()
        if not isinstance(spike_fn, Surrogate):
            raise TypeError(
                "Threshold: `spike_fn` must be a funcdyn.surrogate.Surrogate, got "
                f"{spike_fn!r}."
            )
        self.spike_fn = spike_fn
        self.mode = mode_or_default(mode)
        self.name = name

    def init_state(self, batch_size=None, *, key=None) -> None:
        """Stateless: `None`."""
        self.check_batch_size(batch_size)
        return None

    def __call__(self, state: None, x, ctx: Context) -> tuple[None, Array]:
        x = check_example_shape(self, x, self.shape)
        return state, self.spike_fn(x - jnp.broadcast_to(self.threshold, x.shape).astype(x.dtype))
