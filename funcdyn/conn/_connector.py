"""The base class of connectivity specifications."""

from typing import ClassVar

import equinox as eqx
import jax
import numpy as np
from jaxtyping import PRNGKeyArray

from .._checks import is_real
from ._projection import CSRProjection, DenseProjection, Projection


def check_size(value, arg: str, who: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{who}: `{arg}` must be a positive int, got {value!r}.")
    return int(value)


def check_seed(seed, who: str) -> None:
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
    ):
        raise ValueError(f"{who}: `seed` must be None or a non-negative int, got {seed!r}.")


def check_probability(prob, arg: str, who: str) -> None:
    if not is_real(prob):
        raise TypeError(
            f"{who}: `{arg}` must be a probability in [0, 1] (a float), got {prob!r} of type "
            f"{type(prob).__name__}."
        )
    if not 0.0 <= prob <= 1.0:  # NaN fails too
        raise ValueError(f"{who}: `{arg}` must be a probability in [0, 1], got {prob!r}.")


class Connector(eqx.Module):
    """Base class of connectivity specifications: *which* presynaptic neurons connect to
    which postsynaptic ones. A connector holds no sizes; a synapse builds it for its
    populations with [`funcdyn.conn.Connector.build`][] (NumPy, at construction, never
    traced).

    **Representation:** `build` returns a [`funcdyn.conn.Projection`][]: a dense
    boolean mask ([`funcdyn.conn.DenseProjection`][], a dense matrix product each step)
    or compressed sparse rows ([`funcdyn.conn.CSRProjection`][], an event-driven product
    whose work is the number of spikes times their fan-out). Each connector has a
    default (dense for [`funcdyn.conn.All2All`][] and [`funcdyn.conn.MatConn`][], sparse
    for the others); the keyword-only `dense=True/False` overrides it.

    **Randomness:** random connectors take a `seed`; without one they draw from the key
    given to `build` (the synapse's `key`); with neither, `build` raises an error.

    **Subclassing:** implement `_edges(num_pre, num_post, rng)` returning the `(pre,
    post)` index arrays (or `_mask` returning a boolean matrix, and set
    `_natural_dense = True`), and set `_needs_rng = False` when nothing random is drawn.
    """

    dense: bool | None = eqx.field(default=None, static=True, kw_only=True)

    _natural_dense: ClassVar[bool] = False
    _needs_rng: ClassVar[bool] = True

    def __check_init__(self):
        if self.dense is not None and not isinstance(self.dense, bool):
            raise TypeError(
                f"{type(self).__name__}: `dense` must be None, True or False, got {self.dense!r}."
            )

    # -- to implement ----------------------------------------------------------------

    def _edges(self, num_pre: int, num_post: int, rng) -> tuple[np.ndarray, np.ndarray]:
        mask = self._mask(num_pre, num_post, rng)
        pre, post = np.nonzero(mask)
        return pre, post

    def _mask(self, num_pre: int, num_post: int, rng) -> np.ndarray:
        pre, post = self._edges(num_pre, num_post, rng)
        mask = np.zeros((num_pre, num_post), dtype=bool)
        mask[pre, post] = True
        if np.count_nonzero(mask) != len(pre):
            raise ValueError(
                f"{type(self).__name__}: the connectivity has repeated (pre, post) pairs, "
                "which a dense mask cannot hold; use dense=False."
            )
        return mask

    def _check_sizes(self, num_pre: int, num_post: int) -> None:
        """Raises a `ValueError` when the connectivity cannot fit these sizes."""

    # -- public ------------------------------------------------------------------------

    @property
    def is_dense(self) -> bool:
        """Whether `build` gives a dense mask (else compressed sparse rows)."""
        return self._natural_dense if self.dense is None else self.dense

    def _rng(self, key: PRNGKeyArray | None) -> np.random.Generator | None:
        if not self._needs_rng:
            return None
        seed = getattr(self, "seed", None)
        if seed is not None:
            return np.random.default_rng(seed)
        if key is None:
            raise ValueError(
                f"{type(self).__name__} is random: give it `seed=...`, or pass "
                "`key=jax.random.key(...)` to the synapse (or to build)."
            )
        return np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel())

    def _sizes(self, num_pre, num_post) -> tuple[int, int]:
        who = type(self).__name__
        num_pre = check_size(num_pre, "num_pre", who)
        num_post = check_size(num_post, "num_post", who)
        self._check_sizes(num_pre, num_post)
        return num_pre, num_post

    def ij(self, num_pre: int, num_post: int, *, key: PRNGKeyArray | None = None):
        """The connections as two `int32` NumPy arrays `(pre, post)`, sorted by
        `(pre, post)`."""
        num_pre, num_post = self._sizes(num_pre, num_post)
        pre, post = self._edges(num_pre, num_post, self._rng(key))
        pre = np.asarray(pre, dtype=np.int64)
        post = np.asarray(post, dtype=np.int64)
        order = np.lexsort((post, pre))
        return pre[order].astype(np.int32), post[order].astype(np.int32)

    def mask(self, num_pre: int, num_post: int, *, key: PRNGKeyArray | None = None):
        """The connections as a `(num_pre, num_post)` boolean NumPy matrix."""
        num_pre, num_post = self._sizes(num_pre, num_post)
        return np.asarray(self._mask(num_pre, num_post, self._rng(key)), dtype=bool)

    def build(
        self, num_pre: int, num_post: int, *, key: PRNGKeyArray | None = None
    ) -> Projection:
        """The connectivity between populations of `num_pre` and `num_post` neurons, as
        a [`funcdyn.conn.Projection`][] (dense or sparse, see the class docstring).

        Raises a `ValueError` when the connectivity does not fit the sizes, naming the
        argument to fix.
        """
        num_pre, num_post = self._sizes(num_pre, num_post)
        rng = self._rng(key)
        if self.is_dense:
            return DenseProjection(self._mask(num_pre, num_post, rng))
        pre, post = self._edges(num_pre, num_post, rng)
        return CSRProjection(pre, post, num_pre, num_post)

