"""Latency (time-to-first-spike) coding."""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from .._core._context import Context
from .._core._modes import Mode, resolve_mode
from .._core._system import DynamicalSystem
from .._checks import check_finite, check_positive, check_range
from ._checks import check_range as check_value_range, normalize

_METHODS = ("linear", "log")


class LatencyEncoder(DynamicalSystem):
    r"""Latency coding: each input emits one spike, earlier for larger values.

    With the input normalised to $v \in [0, 1]$ and $t_0$ = `first_spike_time`:

    - `"linear"`: $t^* = t_0 + \tau (1 - v)$, for $v \ge$ `threshold`;
    - `"log"`: $t^* = t_0 + \tau \ln\frac{v}{v - \theta}$, for $v > \theta$ =
      `threshold` (the charging time of an RC circuit driven by $v$ to threshold
      $\theta$);

    and no spike at all below the threshold. The step at time `ctx.t` emits the spikes
    with $|t^* - t| < \Delta t / 2$ (so $t^*$ is rounded to the step grid). Stateless;
    reads `ctx.t`. The output is piecewise constant in `x`: its gradient is zero.

    **Arguments:**

    - `tau`: the time scale (ms, > 0), default `1.0`: with `"linear"` the spike times
      span `[t_0, t_0 + tau]`.
    - `method`: `"linear"` (default) or `"log"`.
    - `threshold`: inputs below it never spike (in `[0, 1)`), default `0.01`.
    - `min_val`, `max_val`: the input range mapped to `[0, 1]` (`None`: already there;
      values are clipped to `[0, 1]`).
    - `first_spike_time`: `t_0` (ms), default `0.0`.
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][].

    ```python
    encoder = funcdyn.encoding.LatencyEncoder(tau=20.0)
    xs = jnp.broadcast_to(pixels, (30,) + pixels.shape)
    _, spikes, _ = funcdyn.run(encoder, xs, dt=1.0)   # one spike per pixel, bright first
    ```
    """

    tau: float = eqx.field(static=True)
    method: str = eqx.field(static=True)
    threshold: float = eqx.field(static=True)
    min_val: float | None = eqx.field(static=True)
    max_val: float | None = eqx.field(static=True)
    first_spike_time: float = eqx.field(static=True)

    def __init__(
        self,
        tau: float = 1.0,
        method: str = "linear",
        threshold: float = 0.01,
        min_val: float | None = None,
        max_val: float | None = None,
        first_spike_time: float = 0.0,
        *,
        mode: Mode | None = None,
        name: str | None = None,
    ):
        tau = check_positive(tau, "tau", "LatencyEncoder")
        if method not in _METHODS:
            raise ValueError(
                f"LatencyEncoder: `method` must be one of {_METHODS}, got {method!r}."
            )
        threshold = check_range(
            threshold, "threshold", "LatencyEncoder", low=0.0, high=1.0, high_open=True
        )
        if method == "log" and threshold <= 0:
            raise ValueError("LatencyEncoder: the 'log' method needs a threshold > 0.")
        check_value_range(min_val, max_val, "LatencyEncoder")
        first_spike_time = check_finite(first_spike_time, "first_spike_time", "LatencyEncoder")
        self.tau = float(tau)
        self.method = method
        self.threshold = float(threshold)
        self.min_val = None if min_val is None else float(min_val)
        self.max_val = None if max_val is None else float(max_val)
        self.first_spike_time = float(first_spike_time)
        self.mode = resolve_mode(mode)
        self.name = name

    def init_state(self, batch_size: int | None = None, *, key=None) -> None:
        """No state: returns `None`."""
        self.check_batch_size(batch_size)
        return None

    def spike_time(self, x: Array) -> Array:
        """The spike time of each input (`inf` for inputs that never spike)."""
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(jnp.result_type(float))
        v = jnp.clip(normalize(x, self.min_val, self.max_val), 0.0, 1.0)
        if self.method == "linear":
            fires = v >= self.threshold
            t = self.tau * (1.0 - v)
        else:
            fires = v > self.threshold
            safe = jnp.where(fires, v, jnp.ones_like(v))
            t = self.tau * jnp.log(safe / (safe - self.threshold))
        t = jnp.where(fires, self.first_spike_time + t, jnp.full_like(v, jnp.inf))
        # A NaN input has a NaN spike time (not "never fires").
        return jnp.where(jnp.isnan(v), v, t)

    def __call__(self, state: None, x: Array, ctx: Context) -> tuple[None, Array]:
        t_spike = self.spike_time(x)
        half = 0.5 * ctx.dt
        t = ctx.t.astype(t_spike.dtype)
        fire = ((t_spike >= t - half) & (t_spike < t + half)).astype(t_spike.dtype)
        return state, jnp.where(jnp.isnan(t_spike), t_spike, fire)
