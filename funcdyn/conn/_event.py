"""Products of a presynaptic vector with a CSR connectivity: event-driven and dense-valued.

The CSR layout is by presynaptic neuron: the out-edges of neuron `j` are the positions
`indptr[j] <= e < indptr[j + 1]` of `indices` (their postsynaptic neurons) and of the
per-edge weights `w`; `pre[e]` is the presynaptic neuron of edge `e`.
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array

# The number of active neurons is rounded up to one of these sizes before compaction, so
# that a step with few spikes pays for a small `top_k`; the last size is the whole
# population.
_FIRST_BUCKET = 16
_BUCKET_GROWTH = 4


def _buckets(num_pre: int) -> tuple[int, ...]:
    sizes = []
    size = _FIRST_BUCKET
    while size < num_pre:
        sizes.append(size)
        size *= _BUCKET_GROWTH
    sizes.append(num_pre)
    return tuple(sizes)


def _scatter_rows(x_row, idx, count, w, indptr, indices, num_post, chunk, max_fanout, dtype):
    """Adds the out-edges of the `count` neurons `idx[:count]` (weighted by `x_row[j]`)
    into a zero vector of size `num_post`: one `dynamic_slice` of `chunk` edges each."""
    nnz = indices.shape[0]
    offsets = jnp.arange(chunk, dtype=indptr.dtype)
    scalar_w = jnp.ndim(w) == 0

    def add_chunk(y, start, begin, end, scale):
        # dynamic_slice clamps its start so the window stays inside the arrays; the mask
        # is computed from the clamped start, so no padding is stored.
        start = jnp.minimum(start, nnz - chunk)
        pos = start + offsets
        valid = (pos >= begin) & (pos < end)
        posts = lax.dynamic_slice(indices, (start,), (chunk,))
        weights = w if scalar_w else lax.dynamic_slice(w, (start,), (chunk,))
        values = jnp.where(valid, weights * scale, jnp.zeros((), dtype))
        # Masked positions hold real (in-range) indices of other rows with value 0.
        return y.at[posts].add(values, mode="promise_in_bounds")

    def body(k, y):
        j = idx[k]
        begin = indptr[j]
        end = indptr[j + 1]
        scale = x_row[j]
        if chunk >= max_fanout:
            return add_chunk(y, begin, begin, end, scale)
        n_chunks = (end - begin + chunk - 1) // chunk
        return lax.fori_loop(
            0, n_chunks, lambda c, y: add_chunk(y, begin + c * chunk, begin, end, scale), y
        )

    return lax.fori_loop(0, count, body, jnp.zeros((num_post,), dtype))


def _event_forward(x, w, indptr, indices, num_post, chunk, max_fanout):
    batch, num_pre = x.shape
    dtype = jnp.result_type(x.dtype, w.dtype)
    if indices.shape[0] == 0:
        return jnp.zeros((batch, num_post), dtype)
    active = x != 0
    counts = jnp.sum(active, axis=1, dtype=jnp.int32)
    buckets = _buckets(num_pre)

    def branch(size):
        def run(x):
            # top_k of the 0/1 activity puts the active neurons first: a compaction that
            # is far cheaper on XLA:CPU than jnp.nonzero (whose cumsum is quadratic).
            _, idx = lax.top_k(active.astype(dtype), size)
            rows = functools.partial(
                _scatter_rows, w=w, indptr=indptr, indices=indices, num_post=num_post,
                chunk=chunk, max_fanout=max_fanout, dtype=dtype,
            )
            if batch == 1:
                return rows(x[0], idx[0], counts[0])[None]
            return jax.vmap(rows)(x, idx, counts)

        return run

    if len(buckets) == 1:
        return branch(buckets[0])(x)
    # The first bucket that holds every row's active neurons (a compare and a sum:
    # jnp.searchsorted would add a loop).
    which = jnp.sum(jnp.max(counts) > jnp.asarray(buckets[:-1], jnp.int32), dtype=jnp.int32)
    return lax.switch(which, [branch(size) for size in buckets], x)


def _edge_cotangents(x, w, gy, pre, indices, num_pre):
    """`(dL/dx, dL/dw)` for `y = x W`: one gather and one segment sum over all edges."""
    gy_edges = gy[:, indices]  # (batch, nnz)
    segment = functools.partial(
        jax.ops.segment_sum, segment_ids=pre, num_segments=num_pre, indices_are_sorted=True
    )
    if jnp.ndim(w) == 0:
        unit = segment(gy_edges.T).T  # dL/dx for unit weights
        return unit * w, jnp.sum(unit * x).astype(w.dtype)
    gx = segment((gy_edges * jnp.broadcast_to(w, gy_edges.shape)).T).T
    gw = jnp.sum(x[:, pre] * gy_edges, axis=0).astype(w.dtype)
    return gx, gw


@functools.partial(jax.custom_vjp, nondiff_argnums=(5, 6, 7))
def _event_matvec(x, w, indptr, indices, pre, num_post, chunk, max_fanout):
    return _event_forward(x, w, indptr, indices, num_post, chunk, max_fanout)


def _event_fwd(x, w, indptr, indices, pre, num_post, chunk, max_fanout):
    y = _event_forward(x, w, indptr, indices, num_post, chunk, max_fanout)
    return y, (x, w, indptr, indices, pre)


def _event_bwd(num_post, chunk, max_fanout, residuals, gy):
    x, w, indptr, indices, pre = residuals
    gx, gw = _edge_cotangents(x, w, gy, pre, indices, x.shape[1])
    return gx.astype(x.dtype), gw, None, None, None


_event_matvec.defvjp(_event_fwd, _event_bwd)


# Jitted so that eager calls reuse one compiled kernel instead of retracing its loops.
@functools.partial(jax.jit, static_argnames=("num_post", "chunk", "max_fanout"))
def csr_event_matvec(
    x: Array,
    w: Array,
    indptr: Array,
    indices: Array,
    pre: Array,
    *,
    num_post: int,
    chunk: int,
    max_fanout: int,
) -> Array:
    """Event-driven `y = x W` for a CSR connectivity: only the out-edges of the neurons
    with `x != 0` are visited.

    Each step compacts the active neurons (a `top_k` of the activity, its size rounded
    up to a bucket), then a `lax.fori_loop` with a dynamic trip count runs over them,
    adding `x[j] * w[e]` into `y[indices[e]]` for each out-edge `e` of `j`, `chunk`
    edges at a time. The work is proportional to the number of active neurons times
    their fan-out, plus one pass over `x`.

    The gradient (a `jax.custom_vjp`) visits every edge once:
    `dL/dx[j] = sum_e w[e] dL/dy[indices[e]]` and `dL/dw[e] = x[pre[e]] dL/dy[indices[e]]`.

    **Arguments:**

    - `x`: `(batch, num_pre)` presynaptic values (spikes, or any floats).
    - `w`: a scalar weight shared by every edge, or one per edge, shape `(nnz,)`.
    - `indptr`, `indices`, `pre`: the CSR arrays (`int32`).
    - `num_post`: the number of postsynaptic neurons.
    - `chunk`: edges added per `dynamic_slice` (at most the number of edges).
    - `max_fanout`: the largest fan-out; when `chunk >= max_fanout` each active neuron
      takes exactly one slice.

    **Returns:** `(batch, num_post)`.
    """
    return _event_matvec(x, w, indptr, indices, pre, num_post, chunk, max_fanout)


def csr_matvec(x: Array, w: Array, pre: Array, indices: Array, *, num_post: int) -> Array:
    """`y = x W` for a CSR connectivity visiting every edge (for dense-valued `x`, such as
    the presynaptic conductances of NMDA or AMPA synapses): a gather and a segment sum.

    **Arguments:** `x` `(batch, num_pre)`; `w` a scalar or `(nnz,)`; `pre`, `indices` the
    edges' pre- and postsynaptic neurons; `num_post`.

    **Returns:** `(batch, num_post)`.
    """
    values = x[:, pre]
    values = values * (w if jnp.ndim(w) == 0 else jnp.broadcast_to(w, values.shape))
    return jax.ops.segment_sum(values.T, indices, num_segments=num_post).T
