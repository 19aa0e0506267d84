"""The per-step shared values: time, step index, step size, training phase and key."""

import zlib

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, PRNGKeyArray


def _child_index(name: int | str) -> int:
    if isinstance(name, bool) or not isinstance(name, (int, str)):
        raise TypeError(f"A child of a Context is named by an int or a str, got {name!r}.")
    if isinstance(name, str):
        # crc32 is stable across processes (unlike hash()), so keys are reproducible.
        return zlib.crc32(name.encode()) & 0x7FFFFFFF
    return name


class Context(eqx.Module):
    """The values shared by every part of a model during one time step.

    It replaces BrainPy's global `bp.share`: it is passed explicitly as the third argument
    of every step, `new_state, y = model(state, x, ctx)`.

    **Arguments:**

    - `t`: the current time (traced scalar).
    - `i`: the current step index (traced integer scalar).
    - `dt`: the step size (static Python float, > 0).
    - `fit`: whether this is a training phase (static bool). Dropout and batch norm read it.
    - `key`: a `jax.random` key, or `None` when nothing random happens in this step.

    Containers give each child a distinct, reproducible key with
    [`funcdyn.Context.child`][]; [`funcdyn.run`][] gives each step its own key.

    ```python
    ctx = funcdyn.Context(t=0.0, i=0, dt=0.1, fit=True, key=jax.random.key(0))
    new_state, y = model(state, x, ctx)
    ```
    """

    t: Array
    i: Array
    dt: float = eqx.field(static=True)
    fit: bool = eqx.field(static=True)
    key: PRNGKeyArray | None

    def __init__(
        self,
        t: ArrayLike = 0.0,
        i: ArrayLike = 0,
        dt: float = 1.0,
        fit: bool = False,
        key: PRNGKeyArray | None = None,
    ):
        if isinstance(dt, bool) or not isinstance(dt, (int, float)):
            raise TypeError(f"Context.dt is static: pass a Python float, got {dt!r}.")
        dt = float(dt)
        if not dt > 0:
            raise ValueError(f"Context.dt must be a positive float, got {dt}.")
        if not isinstance(fit, bool):
            raise TypeError(f"Context.fit must be a Python bool, got {fit!r}.")
        if key is not None and not (
            isinstance(key, jax.Array)
            and (jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
                 or (key.dtype == jnp.uint32 and key.shape[-1:] == (2,)))
        ):
            raise TypeError(
                f"Context.key must be None or a jax.random key (jax.random.key(0)), got "
                f"{key!r}."
            )
        self.t = jnp.asarray(t, dtype=jnp.result_type(float))
        self.i = jnp.asarray(i, dtype=jnp.int32)
        self.dt = dt
        self.fit = fit
        self.key = key

    @classmethod
    def for_step(
        cls,
        i: ArrayLike,
        *,
        dt: float,
        t0: ArrayLike = 0.0,
        fit: bool = False,
        key: PRNGKeyArray | None = None,
    ) -> "Context":
        """The context of step `i` of a time loop that starts at `t0`: `t = t0 + i dt` and
        the key `fold_in(key, i)` (`None` without a root key). Every loop in funcdyn
        ([`funcdyn.run`][], the trainers, the forecasts, the contract checks) derives its
        per-step context here, so the same root key gives the same numbers everywhere."""
        i = jnp.asarray(i, jnp.int32)
        step_key = None if key is None else jax.random.fold_in(key, i)
        t = jnp.asarray(t0, jnp.result_type(float)) + i.astype(jnp.result_type(float)) * dt
        return cls(t=t, i=i, dt=dt, fit=fit, key=step_key)

    def child(self, name: int | str) -> "Context":
        """The context of a child part: the same `t`, `i`, `dt`, `fit`, and a key folded
        with `name` (an int position or a str attribute name), so that siblings draw
        independent random numbers and every draw is reproducible from the root key."""
        index = _child_index(name)
        if self.key is None:
            return self
        return eqx.tree_at(
            lambda c: c.key, self, jax.random.fold_in(self.key, index)
        )

    def require_key(self, who: str) -> PRNGKeyArray:
        """The key, or a clear error naming `who` when the context has none."""
        if self.key is None:
            raise ValueError(
                f"{who} draws random numbers in this step (fit=True) but the Context has "
                "key=None. Pass `key=jax.random.key(...)` to funcdyn.run / fit, or build "
                "the Context with a key."
            )
        return self.key

    def replace(self, **changes) -> "Context":
        """A copy with some of `t`, `i`, `dt`, `fit`, `key` changed."""
        values = dict(t=self.t, i=self.i, dt=self.dt, fit=self.fit, key=self.key)
        unknown = set(changes) - set(values)
        if unknown:
            raise TypeError(f"Context.replace got unknown fields {sorted(unknown)}.")
        values.update(changes)
        return Context(**values)
