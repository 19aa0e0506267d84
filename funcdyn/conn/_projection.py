"""Built connectivities: the operators that carry presynaptic values to postsynaptic neurons."""

import abc

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ._event import csr_event_matvec, csr_matvec


def _as_weight(w, dtype) -> Array:
    return jnp.asarray(w, dtype=dtype)


class Projection(eqx.Module):
    """A connectivity built for given population sizes: `y = x W`, where `W` is the
    weight `w` placed on the connections.

    Built by [`funcdyn.conn.Connector.build`][]; synapses hold one. Its arrays are
    integer or boolean, so they are never trainable; the weights are passed in.

    **Attributes:** `num_pre`, `num_post`, `weight_shape` (the shape of one weight per
    connection; a scalar weight is always accepted), `num_connections`.
    """

    num_pre: int = eqx.field(static=True)
    num_post: int = eqx.field(static=True)

    @property
    @abc.abstractmethod
    def weight_shape(self) -> tuple[int, ...]:
        """The shape of a per-connection weight array."""

    @property
    @abc.abstractmethod
    def num_connections(self) -> int:
        """The number of connections."""

    @abc.abstractmethod
    def apply(self, x: Array, w: Array, *, event: bool = True) -> Array:
        """`y = x W`.

        **Arguments:**

        - `x`: `(batch, num_pre)` presynaptic values.
        - `w`: a scalar, or an array broadcastable to `weight_shape`.
        - `event`: whether `x` is mostly zero (spikes), so that a sparse connectivity
          may visit only the connections of its non-zero entries. The result is the
          same either way.

        **Returns:** `(batch, num_post)`.
        """

    @abc.abstractmethod
    def to_dense(self, w: Array = 1.0) -> Array:
        """The `(num_pre, num_post)` weight matrix (zero where not connected)."""


class AllToAllProjection(Projection):
    """Every presynaptic neuron projects to every postsynaptic one (without the pairs
    `i == j` when `include_self` is `False`). Weights: a scalar or `(num_pre, num_post)`.
    """

    include_self: bool = eqx.field(static=True)

    @property
    def weight_shape(self) -> tuple[int, ...]:
        return (self.num_pre, self.num_post)

    @property
    def num_connections(self) -> int:
        return self.num_pre * self.num_post - (0 if self.include_self else min(self.weight_shape))

    def apply(self, x: Array, w: Array, *, event: bool = True) -> Array:
        w = _as_weight(w, x.dtype)
        out_shape = x.shape[:-1] + (self.num_post,)
        if w.size == 1:
            # A shared weight: every output is the same sum, no matrix needed.
            total = jnp.sum(x, axis=-1, keepdims=True)
            y = jnp.broadcast_to(total, out_shape)
            if not self.include_self:
                y = y - _diagonal_part(x, self.num_post)
            return y * w.reshape(())
        W = jnp.broadcast_to(w, self.weight_shape)
        if not self.include_self:
            W = jnp.where(_eye(self.weight_shape), jnp.zeros((), W.dtype), W)
        return x @ W

    def to_dense(self, w: Array = 1.0) -> Array:
        W = jnp.broadcast_to(jnp.asarray(w, dtype=jnp.result_type(float)), self.weight_shape)
        if not self.include_self:
            W = jnp.where(_eye(self.weight_shape), jnp.zeros((), W.dtype), W)
        return W


def _eye(shape) -> Array:
    return jnp.eye(shape[0], shape[1], dtype=bool)


def _diagonal_part(x: Array, num_post: int) -> Array:
    """`x` placed on the first `min(num_pre, num_post)` outputs (the pairs `i == j`)."""
    num_pre = x.shape[-1]
    n = min(num_pre, num_post)
    part = x[..., :n]
    pad = [(0, 0)] * (x.ndim - 1) + [(0, num_post - n)]
    return jnp.pad(part, pad)


class OneToOneProjection(Projection):
    """Neuron `i` projects to neuron `i` only (`num_pre == num_post`). Weights: a scalar
    or `(num,)`."""

    @property
    def weight_shape(self) -> tuple[int, ...]:
        return (self.num_pre,)

    @property
    def num_connections(self) -> int:
        return self.num_pre

    def apply(self, x: Array, w: Array, *, event: bool = True) -> Array:
        w = _as_weight(w, x.dtype)
        return x * jnp.broadcast_to(w, x.shape)

    def to_dense(self, w: Array = 1.0) -> Array:
        w = jnp.broadcast_to(jnp.asarray(w, dtype=jnp.result_type(float)), self.weight_shape)
        return jnp.diag(w)


class DenseProjection(Projection):
    """A connectivity stored as a `(num_pre, num_post)` boolean mask; `y = x (W * mask)`
    with a dense matrix product. Weights: a scalar or `(num_pre, num_post)`."""

    mask: Array

    def __init__(self, mask):
        mask = np.asarray(mask)
        if mask.ndim != 2:
            raise ValueError(f"DenseProjection: `mask` must be 2-D, got shape {mask.shape}.")
        self.mask = jnp.asarray(mask, dtype=bool)
        self.num_pre, self.num_post = (int(s) for s in mask.shape)

    @property
    def weight_shape(self) -> tuple[int, ...]:
        return (self.num_pre, self.num_post)

    @property
    def num_connections(self) -> int:
        return int(np.count_nonzero(np.asarray(self.mask)))

    def apply(self, x: Array, w: Array, *, event: bool = True) -> Array:
        w = _as_weight(w, x.dtype)
        if w.size == 1:
            return (x @ self.mask.astype(x.dtype)) * w.reshape(())
        W = jnp.where(self.mask, jnp.broadcast_to(w, self.weight_shape), jnp.zeros((), x.dtype))
        return x @ W

    def to_dense(self, w: Array = 1.0) -> Array:
        w = jnp.asarray(w, dtype=jnp.result_type(float))
        return jnp.where(self.mask, jnp.broadcast_to(w, self.weight_shape), jnp.zeros((), w.dtype))


class CSRProjection(Projection):
    """A sparse connectivity in compressed sparse rows by presynaptic neuron.

    The out-edges of neuron `j` are the positions `indptr[j] <= e < indptr[j + 1]`;
    edge `e` goes from `pre[e]` to `indices[e]`, sorted by `(pre, post)`. Weights: a
    scalar or one per edge, `(num_connections,)` in this order.

    With `event=True` (spikes) the product visits only the out-edges of the non-zero
    entries of `x` (see [`funcdyn.conn.csr_event_matvec`][]); with `event=False` it
    visits every edge once. Both are differentiable with respect to `x` and `w`.

    **Arguments:** `pre`, `post` (edge lists, any order; they are sorted here),
    `num_pre`, `num_post`.
    """

    indptr: Array
    indices: Array
    pre: Array
    max_fanout: int = eqx.field(static=True)
    chunk: int = eqx.field(static=True)

    def __init__(self, pre, post, num_pre: int, num_post: int):
        pre = np.asarray(pre, dtype=np.int64).reshape(-1)
        post = np.asarray(post, dtype=np.int64).reshape(-1)
        if pre.shape != post.shape:
            raise ValueError(
                f"CSRProjection: `pre` and `post` must have the same length, got "
                f"{pre.size} and {post.size}."
            )
        _check_indices(pre, num_pre, "pre", "CSRProjection")
        _check_indices(post, num_post, "post", "CSRProjection")
        key = pre * num_post + post
        if key.size and np.any(key[1:] < key[:-1]):  # generators usually emit sorted pairs
            order = np.argsort(key, kind="stable")
            pre, post = pre[order], post[order]
        counts = np.bincount(pre, minlength=num_pre)
        indptr = np.concatenate([[0], np.cumsum(counts)])
        if indptr[-1] >= np.iinfo(np.int32).max:
            raise ValueError("CSRProjection: more than 2**31 connections are not supported.")
        self.indptr = jnp.asarray(indptr, dtype=jnp.int32)
        self.indices = jnp.asarray(post, dtype=jnp.int32)
        self.pre = jnp.asarray(pre, dtype=jnp.int32)
        self.num_pre = int(num_pre)
        self.num_post = int(num_post)
        self.max_fanout = int(counts.max()) if counts.size else 0
        self.chunk = _chunk_size(counts)

    @property
    def weight_shape(self) -> tuple[int, ...]:
        return (self.num_connections,)

    @property
    def num_connections(self) -> int:
        return int(self.indices.shape[0])

    def apply(self, x: Array, w: Array, *, event: bool = True) -> Array:
        w = _as_weight(w, x.dtype)
        w = w.reshape(()) if w.size == 1 else jnp.broadcast_to(w, self.weight_shape)
        if event:
            return csr_event_matvec(
                x, w, self.indptr, self.indices, self.pre, num_post=self.num_post,
                chunk=self.chunk, max_fanout=self.max_fanout,
            )
        return csr_matvec(x, w, self.pre, self.indices, num_post=self.num_post)

    def to_dense(self, w: Array = 1.0) -> Array:
        w = jnp.broadcast_to(jnp.asarray(w, dtype=jnp.result_type(float)), self.weight_shape)
        dense = jnp.zeros((self.num_pre, self.num_post), w.dtype)
        return dense.at[self.pre, self.indices].add(w)


def _chunk_size(counts: np.ndarray) -> int:
    """Edges per slice in the event-driven product: the largest fan-out, unless a few
    hubs would make every neuron pay for theirs (scale-free graphs); then a power of two
    near twice the mean fan-out, and hubs take several slices."""
    if counts.size == 0 or counts.max() == 0:
        return 0
    largest = int(counts.max())
    mean = float(counts.mean())
    if largest <= 4 * mean + 32:
        return largest
    return min(largest, 1 << int(np.ceil(np.log2(2 * mean + 1))))


def _check_indices(idx: np.ndarray, size: int, what: str, who: str) -> None:
    if idx.size and (idx.min() < 0 or idx.max() >= size):
        raise ValueError(
            f"{who}: `{what}` indices must lie in [0, {size}) for a population of {size} "
            f"neurons; got values in [{idx.min()}, {idx.max()}]."
        )
