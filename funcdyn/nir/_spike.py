"""The NIR threshold rule: a spike when the potential is strictly above threshold."""

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from ..surrogate import InverseSquare, Surrogate


@jax.custom_jvp
def _strict_spike(surrogate: Surrogate, x: Array) -> Array:
    spike = jnp.where(x > 0, jnp.array(1, x.dtype), jnp.array(0, x.dtype))
    # A NaN distance gives a NaN spike: the failure stays visible downstream.
    return jnp.where(jnp.isnan(x), x, spike)


@_strict_spike.defjvp
def _strict_spike_jvp(primals, tangents):
    surrogate, x = primals
    _, x_dot = tangents
    return _strict_spike(surrogate, x), surrogate.grad(x) * x_dot


class StrictHeaviside(Surrogate):
    r"""The spike function of the neurons built by [`funcdyn.nir.from_nir`][]: NIR's
    threshold rule, with the surrogate gradient of another spike function.

    $$z = \begin{cases} 1 & x > 0 \\ 0 & x \le 0 \end{cases}$$

    funcdyn's own spike functions fire at $x \ge 0$; NIR, snnTorch and Norse fire at
    $x > 0$. The two differ only when the potential lands exactly on the threshold, which
    does happen with integer-valued weights and inputs (an IF neuron receiving `0.5 + 0.5`
    with `v_threshold = 1`), so imported models follow NIR exactly. A NaN distance gives
    a NaN spike.

    **Arguments:**

    - `surrogate`: the spike function whose `grad` is used in the backward pass (default
      [`funcdyn.surrogate.InverseSquare`][]).

    ```python
    spike_fn = funcdyn.nir.StrictHeaviside(funcdyn.surrogate.Sigmoid())
    model = funcdyn.nir.from_nir(graph, dt=1.0, spike_fn=spike_fn)
    ```
    """

    surrogate: Surrogate = InverseSquare()

    def __check_init__(self):
        if not isinstance(self.surrogate, Surrogate):
            raise TypeError(
                "StrictHeaviside: `surrogate` must be a funcdyn.surrogate.Surrogate such as "
                f"funcdyn.surrogate.InverseSquare(), got {self.surrogate!r}."
            )

    def __call__(self, x: ArrayLike) -> Array:
        """**Returns:** 1.0 where `x > 0`, 0.0 where `x <= 0` (NaN where `x` is NaN), with
        the shape and dtype of `x`."""
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(jnp.result_type(float))
        return _strict_spike(self.surrogate, x)

    def grad(self, x: Array) -> Array:
        return self.surrogate.grad(x)
