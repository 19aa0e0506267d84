"""Random connectivities: fixed probability, fixed in-/out-degree, fixed total number,
distance-dependent (Gaussian) probability."""

import math

import equinox as eqx
import numpy as np

from .._checks import as_python_scalar, is_real
from ._connector import check_probability, check_seed, Connector

# Pairs examined per block when sampling Bernoulli connections, to bound memory.
_BLOCK_PAIRS = 1 << 24


def _check_include_self(value, who):
    if not isinstance(value, bool):
        raise TypeError(f"{who}: `include_self` must be a bool, got {value!r}.")


def _bernoulli_pairs(num_pre, num_post, prob, rng):
    """All `(pre, post)` pairs kept independently with probability `prob`, in row-major
    order, drawn by geometric skips: time and memory proportional to the number kept."""
    if prob <= 0.0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if prob >= 1.0:
        pre, post = np.divmod(np.arange(num_pre * num_post, dtype=np.int64), num_post)
        return pre, post
    rows_per_block = max(1, _BLOCK_PAIRS // num_post)
    pres, posts = [], []
    for row0 in range(0, num_pre, rows_per_block):
        rows = min(rows_per_block, num_pre - row0)
        total = rows * num_post
        found = []
        position = -1
        while True:
            expected = (total - position) * prob
            draw = int(expected + 6 * math.sqrt(expected + 1) + 16)
            flat = position + np.cumsum(rng.geometric(prob, size=draw).astype(np.int64))
            inside = flat[flat < total]
            found.append(inside)
            if inside.size < flat.size:
                break
            position = int(flat[-1])
        flat = np.concatenate(found)
        pre, post = np.divmod(flat, num_post)
        pres.append(pre + row0)
        posts.append(post)
    return np.concatenate(pres), np.concatenate(posts)


def _resolve_num(num, total: int, arg: str, who: str) -> int:
    """An int count, or a float fraction of `total`."""
    if isinstance(num, bool):
        raise TypeError(f"{who}: `{arg}` must be an int or a float fraction, got {num!r}.")
    if isinstance(num, (int, np.integer)):
        if num < 0:
            raise ValueError(f"{who}: `{arg}` must be >= 0, got {num}.")
        return int(num)
    if isinstance(num, (float, np.floating)):
        if not 0.0 <= num <= 1.0:  # NaN fails too
            raise ValueError(
                f"{who}: a float `{arg}` is a fraction of the population and must lie in "
                f"[0, 1], got {num}."
            )
        return int(round(num * total))
    raise TypeError(f"{who}: `{arg}` must be an int or a float fraction, got {num!r}.")


def _as_shape(shape):
    # numpy ints in a static tuple would be hashed as arrays: store Python ints.
    if isinstance(shape, tuple):
        return tuple(as_python_scalar(v) for v in shape)
    return shape


def _choose(rng, n_available: int, k: int, exclude: int | None) -> np.ndarray:
    """`k` distinct indices in `[0, n_available)` without `exclude`."""
    if exclude is None or exclude >= n_available:
        return rng.choice(n_available, k, replace=False)
    picked = rng.choice(n_available - 1, k, replace=False)
    return picked + (picked >= exclude)


class FixedProb(Connector):
    """Each pair `(i, j)` is connected independently with probability `prob`
    (Erdős-Rényi). Sampled in time proportional to the number of connections.

    **Arguments:**

    - `prob`: the connection probability, in `[0, 1]`.
    - `include_self`: keep the pairs `i == j`. Default `True`.
    - `seed`: an int for a reproducible draw; `None` draws from the synapse's `key`.
    - `dense` (keyword-only): see [`funcdyn.conn.Connector`][]; sparse by default.

    ```python
    conn = funcdyn.conn.FixedProb(0.02, seed=0)
    ```
    """

    prob: float = eqx.field(static=True, converter=as_python_scalar)
    include_self: bool = eqx.field(default=True, static=True)
    seed: int | None = eqx.field(default=None, static=True, converter=as_python_scalar)

    def __check_init__(self):
        check_probability(self.prob, "prob", "FixedProb")
        _check_include_self(self.include_self, "FixedProb")
        check_seed(self.seed, "FixedProb")

    def _edges(self, num_pre, num_post, rng):
        pre, post = _bernoulli_pairs(num_pre, num_post, float(self.prob), rng)
        if not self.include_self:
            keep = pre != post
            pre, post = pre[keep], post[keep]
        return pre, post


class FixedPreNum(Connector):
    """Each postsynaptic neuron receives exactly `num` connections from distinct
    presynaptic neurons, chosen uniformly.

    **Arguments:**

    - `num`: an int, or a float fraction of the presynaptic population.
    - `include_self`: allow the pair `i == j`. Default `True`.
    - `seed`, `dense`: see [`funcdyn.conn.FixedProb`][].

    Raises a `ValueError` at build time when `num` exceeds the presynaptic neurons
    available.
    """

    num: int | float = eqx.field(static=True, converter=as_python_scalar)
    include_self: bool = eqx.field(default=True, static=True)
    seed: int | None = eqx.field(default=None, static=True, converter=as_python_scalar)

    def __check_init__(self):
        _resolve_num(self.num, 1, "num", "FixedPreNum")
        _check_include_self(self.include_self, "FixedPreNum")
        check_seed(self.seed, "FixedPreNum")

    def _check_sizes(self, num_pre, num_post):
        k = _resolve_num(self.num, num_pre, "num", "FixedPreNum")
        # Without self-connections, postsynaptic neuron 0 cannot take presynaptic 0.
        available = num_pre - (0 if self.include_self else 1)
        if k > available:
            raise ValueError(
                f"FixedPreNum: each postsynaptic neuron needs num={k} distinct presynaptic "
                f"neurons but only {available} are available (num_pre={num_pre}, "
                f"include_self={self.include_self}); lower `num`."
            )

    def _edges(self, num_pre, num_post, rng):
        k = _resolve_num(self.num, num_pre, "num", "FixedPreNum")
        pres = [
            _choose(rng, num_pre, k, None if self.include_self else j) for j in range(num_post)
        ]
        pre = np.concatenate(pres) if pres else np.zeros(0, np.int64)
        post = np.repeat(np.arange(num_post), k)
        return pre, post


class FixedPostNum(Connector):
    """Each presynaptic neuron makes exactly `num` connections onto distinct
    postsynaptic neurons, chosen uniformly (a fixed fan-out).

    **Arguments:**

    - `num`: an int, or a float fraction of the postsynaptic population.
    - `include_self`: allow the pair `i == j`. Default `True`.
    - `seed`, `dense`: see [`funcdyn.conn.FixedProb`][].
    """

    num: int | float = eqx.field(static=True, converter=as_python_scalar)
    include_self: bool = eqx.field(default=True, static=True)
    seed: int | None = eqx.field(default=None, static=True, converter=as_python_scalar)

    def __check_init__(self):
        _resolve_num(self.num, 1, "num", "FixedPostNum")
        _check_include_self(self.include_self, "FixedPostNum")
        check_seed(self.seed, "FixedPostNum")

    def _check_sizes(self, num_pre, num_post):
        k = _resolve_num(self.num, num_post, "num", "FixedPostNum")
        available = num_post - (0 if self.include_self else 1)
        if k > available:
            raise ValueError(
                f"FixedPostNum: each presynaptic neuron needs num={k} distinct "
                f"postsynaptic neurons but only {available} are available "
                f"(num_post={num_post}, include_self={self.include_self}); lower `num`."
            )

    def _edges(self, num_pre, num_post, rng):
        k = _resolve_num(self.num, num_post, "num", "FixedPostNum")
        posts = [
            _choose(rng, num_post, k, None if self.include_self else i) for i in range(num_pre)
        ]
        post = np.concatenate(posts) if posts else np.zeros(0, np.int64)
        pre = np.repeat(np.arange(num_pre), k)
        return pre, post


class FixedTotalNum(Connector):
    """Exactly `num` connections placed uniformly among all `num_pre * num_post` pairs.

    **Arguments:**

    - `num`: an int, or a float fraction of all pairs.
    - `allow_multi_conn`: draw with replacement, so that a pair may be connected more
      than once (its weights add up; sparse representation only). Default `False`.
    - `seed`, `dense`: see [`funcdyn.conn.FixedProb`][].
    """

    num: int | float = eqx.field(static=True, converter=as_python_scalar)
    allow_multi_conn: bool = eqx.field(default=False, static=True)
    seed: int | None = eqx.field(default=None, static=True, converter=as_python_scalar)

    def __check_init__(self):
        _resolve_num(self.num, 1, "num", "FixedTotalNum")
        if not isinstance(self.allow_multi_conn, bool):
            raise TypeError(
                f"FixedTotalNum: `allow_multi_conn` must be a bool, got {self.allow_multi_conn!r}."
            )
        check_seed(self.seed, "FixedTotalNum")

    def _check_sizes(self, num_pre, num_post):
        k = _resolve_num(self.num, num_pre * num_post, "num", "FixedTotalNum")
        if not self.allow_multi_conn and k > num_pre * num_post:
            raise ValueError(
                f"FixedTotalNum: num={k} connections do not fit in {num_pre} x {num_post} "
                f"= {num_pre * num_post} pairs; lower `num` or set allow_multi_conn=True."
            )

    def _edges(self, num_pre, num_post, rng):
        total = num_pre * num_post
        k = _resolve_num(self.num, total, "num", "FixedTotalNum")
        flat = rng.choice(total, k, replace=self.allow_multi_conn)
        return np.divmod(np.asarray(flat, dtype=np.int64), num_post)


class GaussianProb(Connector):
    """Distance-dependent connectivity: neurons sit on a grid and `(i, j)` is connected
    with probability `exp(-d(i, j)^2 / (2 sigma^2))`, `d` the Euclidean grid distance.

    Both populations lie on the same grid, so `num_pre == num_post == prod(shape)`
    (else a `ValueError`). Building examines every pair (`O(N^2)` time, in blocks).

    **Arguments:**

    - `sigma`: the width, in grid units (> 0).
    - `shape`: the grid, e.g. `(32, 32)`; default a line of `num_pre` neurons.
    - `periodic_boundary`: measure distances on a torus.
    - `include_self`: keep the pairs `i == j` (which have probability 1). Default `False`.
    - `seed`, `dense`: see [`funcdyn.conn.FixedProb`][].
    """

    sigma: float = eqx.field(static=True, converter=as_python_scalar)
    shape: tuple[int, ...] | None = eqx.field(default=None, static=True, converter=_as_shape)
    periodic_boundary: bool = eqx.field(default=False, static=True)
    include_self: bool = eqx.field(default=False, static=True)
    seed: int | None = eqx.field(default=None, static=True, converter=as_python_scalar)

    def __check_init__(self):
        sigma = self.sigma
        if not is_real(sigma):
            raise TypeError(
                f"GaussianProb: `sigma` must be a positive float, got {sigma!r} of type "
                f"{type(sigma).__name__}."
            )
        if not 0.0 < sigma < math.inf:  # NaN fails too
            raise ValueError(f"GaussianProb: `sigma` must be a positive float, got {sigma!r}.")
        if self.shape is not None and (
            not isinstance(self.shape, tuple)
            or not self.shape
            or not all(
                isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1
                for s in self.shape
            )
        ):
            raise ValueError(
                f"GaussianProb: `shape` must be a tuple of positive ints, got {self.shape!r}."
            )
        if not isinstance(self.periodic_boundary, bool):
            raise TypeError(
                f"GaussianProb: `periodic_boundary` must be a bool, got "
                f"{self.periodic_boundary!r}."
            )
        _check_include_self(self.include_self, "GaussianProb")
        check_seed(self.seed, "GaussianProb")

    def _grid(self, num):
        return self.shape if self.shape is not None else (num,)

    def _check_sizes(self, num_pre, num_post):
        if num_pre != num_post:
            raise ValueError(
                f"GaussianProb places both populations on one grid: num_pre ({num_pre}) "
                f"and num_post ({num_post}) must be equal."
            )
        grid = self._grid(num_pre)
        if math.prod(grid) != num_pre:
            raise ValueError(
                f"GaussianProb: `shape` {grid} holds {math.prod(grid)} neurons, but the "
                f"populations have {num_pre}."
            )

    def _edges(self, num_pre, num_post, rng):
        grid = self._grid(num_pre)
        coords = np.stack(np.unravel_index(np.arange(num_pre), grid), axis=1).astype(float)
        extent = np.asarray(grid, dtype=float)
        rows_per_block = max(1, _BLOCK_PAIRS // num_post)
        pres, posts = [], []
        for row0 in range(0, num_pre, rows_per_block):
            rows = np.arange(row0, min(num_pre, row0 + rows_per_block))
            diff = np.abs(coords[rows, None, :] - coords[None, :, :])
            if self.periodic_boundary:
                diff = np.minimum(diff, extent - diff)
            prob = np.exp(-np.sum(diff**2, axis=-1) / (2.0 * self.sigma**2))
            keep = rng.random(prob.shape) < prob
            if not self.include_self:
                keep[np.arange(rows.size), rows] = False
            r, c = np.nonzero(keep)
            pres.append(rows[r])
            posts.append(c)
        return np.concatenate(pres), np.concatenate(posts)
