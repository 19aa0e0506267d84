"""Online readout training: RLS (the FORCE rule) and LMS, one update per time step."""

import abc
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
from jaxtyping import Array, PRNGKeyArray

from .._core._context import Context
from ._offline import prepare_targets
from ._readouts import (
    _Tap,
    as_target_list,
    readouts_of,
    replace_readouts,
    tap_readouts,
    tap_state,
    tapped_inputs,
    untap_state,
)


class OnlineMethod(eqx.Module):
    """Base class of the online rules of [`funcdyn.train.OnlineTrainer`][], in optax's
    `(init, update)` style: `init(W, b)` gives the rule's state; `update(state, W, b, x,
    err)` returns `(W, b, state)` after one step, where `x` `(batch, num_in)` is the
    readout's input and `err = x @ W + b - target`, shape `(batch, num_out)`, its error
    before the update. `b` is `None` for a readout without bias."""

    @abc.abstractmethod
    def init(self, W: Array, b: Array | None) -> Any:
        """The rule's initial state."""

    @abc.abstractmethod
    def update(
        self, state: Any, W: Array, b: Array | None, x: Array, err: Array
    ) -> tuple[Array, Array | None, Any]:
        """One update: `(W, b, state)`."""


def _augment(x: Array, b: Array | None) -> Array:
    if b is None:
        return x
    return jnp.concatenate([x, jnp.ones(x.shape[:-1] + (1,), x.dtype)], axis=-1)


def _split(Wa: Array, b: Array | None) -> tuple[Array, Array | None]:
    if b is None:
        return Wa, None
    return Wa[:-1], Wa[-1]


class RLSState(eqx.Module):
    """The state of [`funcdyn.train.RLS`][]: `P`, the running inverse of the
    (regularised, input-weighted) correlation matrix of the readout's inputs (augmented
    by a constant 1 when the readout has a bias)."""

    P: Array


class RLS(OnlineMethod):
    r"""Recursive least squares, the FORCE learning rule (Sussillo & Abbott 2009).

    For a batch of inputs $X$ (rows, augmented by 1 for a bias) with a-priori errors
    $E = X W - Y$:

    $$K = P X^\top (\lambda I + X P X^\top)^{-1}, \quad W \leftarrow W - K E, \quad
      P \leftarrow (P - K X P) / \lambda,$$

    starting from $P = I / \alpha$. With forgetting factor $\lambda = 1$ and $W_0 = 0$,
    after any number of samples $W$ equals the ridge solution with penalty $\alpha$ on
    all weights (bias included): $W = (X^\top X + \alpha I)^{-1} X^\top Y$. A batch is
    one block update, the same as processing its rows one at a time.

    **Arguments:** `alpha` (> 0; $P_0 = I/\alpha$, FORCE's $\alpha$), `forgetting`
    ($\lambda \in (0, 1]$; below 1 old samples are forgotten geometrically).
    """

    alpha: float = eqx.field(static=True, default=1.0)
    forgetting: float = eqx.field(static=True, default=1.0)

    def __check_init__(self):
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float)) or not (
            self.alpha > 0
        ):
            raise ValueError(f"RLS: `alpha` must be a float > 0, got {self.alpha!r}.")
        if not isinstance(self.forgetting, (int, float)) or not 0 < self.forgetting <= 1:
            raise ValueError(
                f"RLS: `forgetting` must be a float in (0, 1], got {self.forgetting!r}."
            )

    def init(self, W: Array, b: Array | None) -> RLSState:
        n = W.shape[0] + (0 if b is None else 1)
        return RLSState(P=jnp.eye(n, dtype=W.dtype) / self.alpha)

    def update(
        self, state: RLSState, W: Array, b: Array | None, x: Array, err: Array
    ) -> tuple[Array, Array | None, RLSState]:
        X = _augment(x, b)
        P = state.P
        PX = P @ X.T
        S = self.forgetting * jnp.eye(X.shape[0], dtype=X.dtype) + X @ PX
        K = jnp.linalg.solve(S, PX.T).T
        Wa = W if b is None else jnp.concatenate([W, b[None, :]], axis=0)
        Wa = Wa - K @ err
        P = (P - K @ PX.T) / self.forgetting
        # Rounding makes P drift from symmetric, which RLS does not survive for long.
        P = 0.5 * (P + P.T)
        W, b = _split(Wa, b)
        return W, b, RLSState(P=P)


class LMS(OnlineMethod):
    r"""The least-mean-squares (Widrow-Hoff) rule: a gradient step on the squared error,
    averaged over the batch,

    $$W \leftarrow W - \eta\, X^\top E / B, \qquad b \leftarrow b - \eta\, \bar E.$$

    Stable for $\eta < 2 / \lambda_\text{max}(\mathbb{E}[x x^\top])$.

    **Arguments:** `learning_rate` $\eta > 0$.
    """

    learning_rate: float = eqx.field(static=True, default=0.01)

    def __check_init__(self):
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
            raise ValueError(f"LMS: `learning_rate` must be a float > 0, got {lr!r}.")

    def init(self, W: Array, b: Array | None) -> None:
        return None

    def update(
        self, state: None, W: Array, b: Array | None, x: Array, err: Array
    ) -> tuple[Array, Array | None, None]:
        scale = self.learning_rate / x.shape[0]
        W = W - scale * (x.T @ err)
        if b is not None:
            b = b - scale * jnp.sum(err, axis=0)
        return W, b, state


@eqx.filter_jit
def _online_fit(model, method, xs, ys, state, key, dt, t0, i0, batch_size, time_major):
    tapped, readouts = tap_readouts(model)
    state = tap_state(tapped, state, batch_size)
    num = len(readouts)
    if not time_major:
        swap = lambda a: jnp.swapaxes(jnp.asarray(a), 0, 1)  # noqa: E731
        xs = jtu.tree_map(swap, xs)
        ys = [swap(y) for y in ys]
    n = jtu.tree_leaves(xs)[0].shape[0]
    tap_shapes = [x.shape for x in tapped_inputs(state, num)]
    ys = [
        prepare_targets(y, (n,) + shape, d, "OnlineTrainer.fit")
        for y, shape, d in zip(ys, tap_shapes, readouts)
    ]
    params = [(d.W, d.b) for d in readouts]
    rule_states = [method.init(d.W, d.b) for d in readouts]
    def with_params(params):
        dense = [
            eqx.tree_at(lambda d: d.W, d, W) if b is None
            else eqx.tree_at(lambda d: (d.W, d.b), d, (W, b))
            for d, (W, b) in zip(readouts, params)
        ]
        return dense

    def body(carry, inputs):
        params, rule_states, s = carry
        x, targets, i = inputs
        dense = with_params(params)
        m = _Tap(dense[0], 0) if isinstance(tapped, _Tap) else replace_readouts(
            model, [_Tap(d, k) for k, d in enumerate(dense)]
        )
        ctx = Context.for_step(i, dt=dt, t0=t0, fit=True, key=key)
        s, out = m(s, x, ctx)
        new_params, new_rule_states = [], []
        for d, (W, b), rule, xr, y in zip(
            dense, params, rule_states, tapped_inputs(s, num), targets
        ):
            xr = xr.reshape(-1, d.num_in)
            pred = xr @ W
            if b is not None:
                pred = pred + jnp.broadcast_to(b, pred.shape)
            err = pred - y.reshape(-1, d.num_out)
            W, b, rule = method.update(rule, W, b, xr, err)
            new_params.append((W, b))
            new_rule_states.append(rule)
        return (new_params, new_rule_states, s), out

    steps = jnp.arange(i0, i0 + n, dtype=jnp.int32)
    (params, _, state), outs = jax.lax.scan(
        body, (params, rule_states, state), (xs, ys, steps)
    )
    dense = with_params(params)
    new_model = dense[0] if isinstance(tapped, _Tap) else replace_readouts(model, dense)
    if not time_major:
        outs = jtu.tree_map(lambda a: jnp.swapaxes(a, 0, 1) if jnp.ndim(a) >= 2 else a, outs)
    return new_model, untap_state(state), outs


class OnlineTrainer(eqx.Module):
    """Trains the readouts of a model online: at every time step the model runs with the
    current readout weights, then each readout is updated from its input and its error
    against the target, all inside one compiled `lax.scan`.

    Readouts are found as in [`funcdyn.train.OfflineTrainer`][] (the `Dense` layers in
    training mode). Because the weights change during the run, a readout whose output
    is fed back into the network (FORCE learning) sees its own, improving, output.

    **Arguments:**

    - `model`: the model.
    - `fit_method`: an [`funcdyn.train.OnlineMethod`][]: [`funcdyn.train.RLS`][]`()`
      (default) or [`funcdyn.train.LMS`][]`(learning_rate)`.

    ```python
    trainer = funcdyn.train.OnlineTrainer(reservoir >> readout, funcdyn.train.RLS(alpha=1.0))
    model = trainer.fit(xs, ys)
    ```
    """

    model: Any
    fit_method: OnlineMethod

    def __init__(self, model: Any, fit_method: OnlineMethod | None = None):
        fit_method = RLS() if fit_method is None else fit_method
        if not isinstance(fit_method, OnlineMethod):
            raise TypeError(
                "OnlineTrainer: `fit_method` must be a funcdyn.train.OnlineMethod such as "
                f"funcdyn.train.RLS() or funcdyn.train.LMS(0.01), got {fit_method!r}."
            )
        tap_readouts(model)
        self.model = model
        self.fit_method = fit_method

    def fit_predict(
        self,
        xs: Any,
        ys: Any,
        *,
        dt: float = 1.0,
        state: Any = None,
        batch_size: int | None = None,
        t0: float = 0.0,
        i0: int = 0,
        key: PRNGKeyArray | None = None,
        time_major: bool = True,
    ) -> tuple[Any, Any, Any]:
        """Trains over the data and returns `(model, final_state, outputs)`: the model
        with the final readout weights, the model's final state, and its outputs at every
        step (computed before that step's update, as FORCE uses them). The arguments are
        those of [`funcdyn.train.OfflineTrainer.fit`][]."""
        if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not dt > 0:
            raise ValueError(f"OnlineTrainer: `dt` must be a positive float, got {dt!r}.")
        readouts = readouts_of(self.model)
        targets = as_target_list(ys, readouts, "OnlineTrainer.fit")
        mode = getattr(self.model, "mode", None)
        if batch_size is None and mode is not None and mode.is_batching:
            leaf = jtu.tree_leaves(xs)[0]
            if jnp.ndim(leaf) < 2:
                raise ValueError(
                    "OnlineTrainer.fit: the model is in a batching mode but `xs` has no "
                    "batch axis; pass (T, batch, num_in)."
                )
            batch_size = int(jnp.shape(leaf)[1 if time_major else 0])
        return _online_fit(
            self.model, self.fit_method, xs, targets, state, key,
            float(dt), t0, i0, batch_size, time_major,
        )

    def fit(self, xs: Any, ys: Any, **kwargs) -> Any:
        """Trains over the data and returns the model with the final readout weights;
        keyword arguments as [`funcdyn.train.OnlineTrainer.fit_predict`][]."""
        model, _, _ = self.fit_predict(xs, ys, **kwargs)
        return model
