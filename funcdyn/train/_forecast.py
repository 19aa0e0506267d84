"""Closed-loop (autonomous) forecasting: the output is fed back as the next input."""

from collections.abc import Callable
from typing import Any


import jax
import jax.numpy as jnp
import jax.tree_util as jtu
from jaxtyping import PRNGKeyArray

from .._core._context import Context
from ._fast_jit import structure_jit


def _output_as_input(y: Any, x: Any) -> Any:
    return y


def _check_feedback(x_next: Any, x: Any) -> None:
    same = jtu.tree_structure(x_next) == jtu.tree_structure(x) and all(
        jnp.shape(a) == jnp.shape(b) for a, b in zip(jtu.tree_leaves(x_next), jtu.tree_leaves(x))
    )
    if not same:
        shapes = lambda t: jtu.tree_map(jnp.shape, t)  # noqa: E731
        raise ValueError(
            f"forecast: the fed-back input has shapes {shapes(x_next)}, but the input has "
            f"{shapes(x)}; pass `feedback=` mapping (output, input) to the next input, "
            "e.g. `lambda y, x: x + y` for a model that predicts increments."
        )


@structure_jit
def _forecast(model, state, x0, key, num_steps, dt, feedback, t0, i0):
    def body(carry, i):
        s, x = carry
        ctx = Context.for_step(i, dt=dt, t0=t0, fit=False, key=key)
        s, y = model(s, x, ctx)
        x_next = feedback(y, x)
        _check_feedback(x_next, x)
        x_next = jtu.tree_map(lambda a, b: jnp.asarray(a).astype(jnp.asarray(b).dtype), x_next, x)
        return (s, x_next), x_next

    steps = jnp.arange(i0, i0 + num_steps, dtype=jnp.int32)
    (state, _), trajectory = jax.lax.scan(body, (state, x0), steps)
    return state, trajectory


def forecast(
    model: Any,
    state: Any,
    x0: Any,
    num_steps: int,
    *,
    dt: float = 1.0,
    feedback: Callable[[Any, Any], Any] = _output_as_input,
    t0: float = 0.0,
    i0: int = 0,
    key: PRNGKeyArray | None = None,
) -> tuple[Any, Any]:
    r"""Runs `model` autonomously for `num_steps` steps in one compiled `lax.scan`, feeding
    each step's output back as the next input:

    $$(s_{k+1}, y_k) = \text{model}(s_k, x_k), \qquad x_{k+1} = \text{feedback}(y_k, x_k).$$

    **Arguments:**

    - `model`: a trained model (e.g. an NVAR or reservoir with a fitted readout).
    - `state`: the model's state after the inputs observed so far (e.g. from a
      [`funcdyn.run`][] over them).
    - `x0`: the first input of the closed loop: the value that *follows* the inputs
      `state` has seen (typically the last observation, with `state` from a run over the
      observations before it), shaped as one step's input.
    - `num_steps`: the number of steps.
    - `dt`, `t0`, `i0`, `key`: the [`funcdyn.Context`][] values, as in [`funcdyn.run`][]
      (steps run with `fit=False`).
    - `feedback`: maps `(y, x)` to the next input; default `y` itself. For a readout
      trained on increments $x(t+1) - x(t)$ (NG-RC) use `lambda y, x: x + y`.

    **Returns:** `(final_state, trajectory)`: `trajectory[k]` is $x_{k+1}$, the input
    produced by step `k` (the forecast of the next value), stacked on a leading axis of
    length `num_steps`.

    ```python
    state, _, _ = funcdyn.run(model, observed[:-1], dt=0.025)
    _, predicted = funcdyn.train.forecast(model, state, observed[-1], 1000, dt=0.025,
                                          feedback=lambda y, x: x + y)
    # predicted[k] forecasts observation k + 1 after observed[-1]
    ```
    """
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"forecast: `num_steps` must be an int >= 1, got {num_steps!r}.")
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not dt > 0:
        raise ValueError(f"forecast: `dt` must be a positive Python float, got {dt!r}.")
    if not callable(feedback):
        raise TypeError(f"forecast: `feedback` must be callable, got {feedback!r}.")
    # (`jnp.asarray` of what is already an array costs tens of microseconds.)
    x0 = jtu.tree_map(lambda a: a if isinstance(a, jax.Array) else jnp.asarray(a), x0)
    return _forecast(model, state, x0, key, num_steps, float(dt), feedback, t0, i0)
