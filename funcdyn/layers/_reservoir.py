"""The reservoir of an echo state network."""

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from .._checks import is_real
from .._core._context import Context
from .._core._modes import Mode, resolve_mode
from .._core._system import DynamicalSystem
from ..init import Normal, Uniform, default_float_dtype, parameter
from ..typing import ParamSpec
from ._checks import check_features, check_positive_int


class ReservoirState(eqx.Module):
    """The state of [`funcdyn.layers.Reservoir`][]: the rates `r`, shape `(num_out,)`
    or `(batch, num_out)`."""

    r: Array


def _check_fraction(value, arg: str, *, low_open: bool = True) -> float:
    interval = "(0, 1]" if low_open else "[0, 1]"
    if not is_real(value):
        # A ValueError (not TypeError) for a bool or a string, as before.
        raise ValueError(
            f"Reservoir: `{arg}` must be a float in {interval}, got {value!r} of type "
            f"{type(value).__name__}."
        )
    value = float(value)
    if not (0.0 < value <= 1.0 if low_open else 0.0 <= value <= 1.0):  # NaN fails too
        raise ValueError(f"Reservoir: `{arg}` must be a float in {interval}, got {value!r}.")
    return value


def _check_nonnegative(value, arg: str) -> float:
    if not is_real(value):
        raise ValueError(
            f"Reservoir: `{arg}` must be a float >= 0, got {value!r} of type "
            f"{type(value).__name__}."
        )
    value = float(value)
    if not 0.0 <= value < math.inf:  # NaN and inf fail
        raise ValueError(f"Reservoir: `{arg}` must be a float >= 0 (finite), got {value!r}.")
    return value


def _spectral_radius(W: np.ndarray) -> float:
    n = W.shape[0]
    if n > 512:
        import scipy.sparse
        import scipy.sparse.linalg

        try:
            eig = scipy.sparse.linalg.eigs(
                scipy.sparse.csr_matrix(W), k=1, which="LM", return_eigenvectors=False
            )
            return float(np.abs(eig).max())
        except scipy.sparse.linalg.ArpackNoConvergence:
            pass
    return float(np.abs(np.linalg.eigvals(W)).max())


def _concrete(array: Array, arg: str) -> np.ndarray:
    try:
        return np.asarray(array)
    except jax.errors.TracerArrayConversionError as err:
        raise ValueError(
            f"Reservoir: `{arg}` is built from concrete values (connectivity masks, "
            "spectral radius); construct the Reservoir outside jit."
        ) from err


@eqx.filter_jit
def _draw(Win_init, Wrec_init, b_init, key, num_in, num_out, in_connectivity, rec_connectivity):
    # One compiled draw: op-by-op it would compile each random primitive separately.
    keys = jax.random.split(key, 5) if key is not None else [None] * 5
    Win = parameter(Win_init, (num_in, num_out), name="Win_initializer", key=keys[0])
    Wrec = parameter(Wrec_init, (num_out, num_out), name="Wrec_initializer", key=keys[1])
    b = parameter(b_init, (num_out,), name="b_initializer", key=keys[4], allow_none=True)
    if in_connectivity < 1.0:
        keep = jax.random.bernoulli(keys[2], in_connectivity, Win.shape)
        Win = jnp.where(keep, Win, jnp.zeros_like(Win))
    if rec_connectivity < 1.0:
        keep = jax.random.bernoulli(keys[3], rec_connectivity, Wrec.shape)
        Wrec = jnp.where(keep, Wrec, jnp.zeros_like(Wrec))
    return Win, Wrec, b


class Reservoir(DynamicalSystem):
    r"""The reservoir of an echo state network: a leaky, randomly connected rate network.

    $$\tilde r = f\big(x W_\text{in} + r W_\text{rec} + b\big), \qquad
      r \leftarrow (1 - a)\, r + a\, \tilde r,$$

    with leaky rate $a$, activation $f$ (default `tanh`), input weights $W_\text{in}$
    (shape `(num_in, num_out)`) and recurrent weights $W_\text{rec}$ (shape
    `(num_out, num_out)`). At construction each weight keeps a random fraction of its
    entries (`in_connectivity`, `rec_connectivity`), $W_\text{in}$ is multiplied by
    `input_scaling`, and $W_\text{rec}$ is rescaled to the given `spectral_radius`.

    With `noise_in` or `noise_rec` > 0, Gaussian noise of that standard deviation is added
    to the input and to the pre-activation at every step; it is drawn from `ctx.key`
    (an error when the context has no key).

    **Arguments:**

    - `num_in`, `num_out`: input size and number of reservoir units.
    - `leaky_rate`: $a \in (0, 1]$: a float or a per-unit array (an array parameter).
    - `spectral_radius`: the spectral radius $W_\text{rec}$ is rescaled to, or `None`
      to keep the initialiser's scale.
    - `input_scaling`: a factor on $W_\text{in}$.
    - `Win_initializer`, `Wrec_initializer`: initialisers (default uniform on
      `[-1, 1)` and standard normal) or arrays of the full shapes; the connectivity
      masks are applied to them.
    - `b_initializer`: the bias, shape `(num_out,)`, or `None` (default) for none.
    - `in_connectivity`, `rec_connectivity`: the fraction of non-zero weights, in (0, 1].
    - `comp_type`: `"dense"` stores $W_\text{rec}$ as a matrix; `"sparse"` stores its
      non-zero values and their `(row, col)` indices and multiplies by gather and
      segment sum (cheaper for large, sparse reservoirs).
    - `activation`: an elementwise function.
    - `noise_in`, `noise_rec`: noise standard deviations (>= 0).
    - `mode`, `name`: see [`funcdyn.DynamicalSystem`][]. The weights are trainable in
      [`funcdyn.training_mode`][] (for BPTT); the offline and online readout trainers of
      `funcdyn.train` train only `Dense` readouts.
    - `key`: a PRNG key for the weights and masks.

    **Shapes:** `x` is `(num_in,)` or `(batch, num_in)`, `y = r` is `(num_out,)` or
    `(batch, num_out)`; the state is a [`funcdyn.layers.ReservoirState`][]. Many
    sequences run at once in a batching mode as one matrix product per step.

    ```python
    esn = funcdyn.layers.Reservoir(1, 500, leaky_rate=0.3, spectral_radius=1.25,
                                   mode=funcdyn.batching_mode, key=key)
    readout = funcdyn.layers.Dense(500, 1, mode=funcdyn.training_mode, key=key2)
    model = esn >> readout
    ```
    """

    Win: Array
    Wrec: Array
    Wrec_indices: Array | None
    b: Array | None
    leaky_rate: Array
    num_in: int = eqx.field(static=True)
    num_out: int = eqx.field(static=True)
    spectral_radius: float | None = eqx.field(static=True)
    input_scaling: float = eqx.field(static=True)
    in_connectivity: float = eqx.field(static=True)
    rec_connectivity: float = eqx.field(static=True)
    comp_type: str = eqx.field(static=True)
    activation: Callable[[Array], Array] = eqx.field(static=True)
    noise_in: float = eqx.field(static=True)
    noise_rec: float = eqx.field(static=True)

    def __init__(
        self,
        num_in: int,
        num_out: int,
        leaky_rate: float | Array = 0.3,
        spectral_radius: float | None = None,
        input_scaling: float = 1.0,
        Win_initializer: ParamSpec = Uniform(-1.0, 1.0),
        Wrec_initializer: ParamSpec = Normal(),
        b_initializer: ParamSpec = None,
        in_connectivity: float = 0.1,
        rec_connectivity: float = 0.1,
        comp_type: str = "dense",
        activation: Callable[[Array], Array] = jnp.tanh,
        noise_in: float = 0.0,
        noise_rec: float = 0.0,
        *,
        mode: Mode | None = None,
        name: str | None = None,
        key: PRNGKeyArray | None = None,
    ):
        cls = type(self).__name__
        check_positive_int(num_in, "num_in", cls)
        check_positive_int(num_out, "num_out", cls)
        self.in_connectivity = _check_fraction(in_connectivity, "in_connectivity")
        self.rec_connectivity = _check_fraction(rec_connectivity, "rec_connectivity")
        self.input_scaling = _check_nonnegative(input_scaling, "input_scaling")
        self.noise_in = _check_nonnegative(noise_in, "noise_in")
        self.noise_rec = _check_nonnegative(noise_rec, "noise_rec")
        if spectral_radius is not None:
            spectral_radius = _check_nonnegative(spectral_radius, "spectral_radius")
        if comp_type not in ("dense", "sparse"):
            raise ValueError(
                f"Reservoir: `comp_type` must be 'dense' or 'sparse', got {comp_type!r}."
            )
        if not callable(activation):
            raise TypeError(f"Reservoir: `activation` must be callable, got {activation!r}.")
        self.num_in = int(num_in)
        self.num_out = int(num_out)
        self.spectral_radius = spectral_radius
        self.comp_type = comp_type
        self.activation = activation

        needs_key = (
            in_connectivity < 1.0
            or rec_connectivity < 1.0
            or any(
                callable(v) and not isinstance(v, (jax.Array, np.ndarray))
                for v in (Win_initializer, Wrec_initializer, b_initializer)
            )
        )
        if key is None and needs_key:
            raise ValueError(
                "Reservoir draws random weights and connectivity masks: pass "
                "`key=jax.random.key(...)`."
            )
        Win, Wrec, b = _draw(
            Win_initializer, Wrec_initializer, b_initializer, key, int(num_in),
            int(num_out), self.in_connectivity, self.rec_connectivity,
        )
        Win = _concrete(Win, "Win_initializer")
        Wrec = _concrete(Wrec, "Wrec_initializer")
        Win = Win * self.input_scaling
        if spectral_radius is not None:
            radius = _spectral_radius(Wrec.astype(np.float64))
            if radius == 0.0:
                raise ValueError(
                    "Reservoir: the recurrent weights have spectral radius 0 (too sparse "
                    "or all zero), so they cannot be rescaled; raise `rec_connectivity`."
                )
            Wrec = Wrec * (spectral_radius / radius)
        dtype = default_float_dtype()
        self.Win = jnp.asarray(Win, dtype)
        if comp_type == "dense":
            self.Wrec = jnp.asarray(Wrec, dtype)
            self.Wrec_indices = None
        else:
            # Sorted by target column so that the segment sum sees sorted segment ids.
            cols, rows = np.nonzero(Wrec.T)
            self.Wrec = jnp.asarray(Wrec[rows, cols], dtype)
            self.Wrec_indices = jnp.asarray(np.stack([rows, cols], axis=1), jnp.int32)
        self.b = None if b is None else jnp.asarray(b, dtype)
        self.leaky_rate = parameter(
            leaky_rate, (num_out,), name="leaky_rate", broadcast=True
        )
        rate = np.asarray(self.leaky_rate)
        if not np.all((rate > 0.0) & (rate <= 1.0)):
            raise ValueError(f"Reservoir: `leaky_rate` must lie in (0, 1], got {leaky_rate!r}.")
        self.mode = resolve_mode(mode)
        self.name = name

    def init_state(self, batch_size: int | None = None, *, key=None) -> ReservoirState:
        """Zero rates, shape `(num_out,)` or `(batch_size, num_out)`."""
        self.check_batch_size(batch_size)
        shape = (self.num_out,) if batch_size is None else (batch_size, self.num_out)
        return ReservoirState(r=jnp.zeros(shape, self.Win.dtype))

    def _recurrent(self, r: Array) -> Array:
        if self.Wrec_indices is None:
            return r @ self.Wrec
        rows = self.Wrec_indices[:, 0]
        cols = self.Wrec_indices[:, 1]
        contrib = r[..., rows] * jnp.broadcast_to(self.Wrec, r.shape[:-1] + self.Wrec.shape)
        summed = jax.ops.segment_sum(
            jnp.moveaxis(contrib, -1, 0), cols, num_segments=self.num_out,
            indices_are_sorted=True,
        )
        return jnp.moveaxis(summed, 0, -1)

    def __call__(
        self, state: ReservoirState, x: Array, ctx: Context
    ) -> tuple[ReservoirState, Array]:
        x = check_features(self, x, self.num_in).astype(self.Win.dtype)
        r = state.r
        if r.shape[-1] != self.num_out:
            raise ValueError(
                f"Reservoir: the state has {r.shape[-1]} units, expected {self.num_out}."
            )
        if self.noise_in > 0.0 or self.noise_rec > 0.0:
            k_in, k_rec = jax.random.split(ctx.require_key("Reservoir (noise)"))
            if self.noise_in > 0.0:
                x = x + self.noise_in * jax.random.normal(k_in, x.shape, x.dtype)
        pre = x @ self.Win + self._recurrent(r)
        if self.b is not None:
            pre = pre + jnp.broadcast_to(self.b, pre.shape)
        if self.noise_rec > 0.0:
            pre = pre + self.noise_rec * jax.random.normal(k_rec, pre.shape, pre.dtype)
        a = jnp.broadcast_to(self.leaky_rate, r.shape)
        r = (1.0 - a) * r + a * self.activation(pre)
        return ReservoirState(r=r), r
