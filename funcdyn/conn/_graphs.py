"""Random graph models: Watts-Strogatz small world, Barabási-Albert scale free."""

import equinox as eqx
import numpy as np

from .._checks import as_python_scalar
from ._connector import check_probability, check_seed, Connector


def _check_same_population(who, num_pre, num_post):
    if num_pre != num_post:
        raise ValueError(
            f"{who} builds a graph on one population: num_pre ({num_pre}) and num_post "
            f"({num_post}) must be equal."
        )


def _check_directed(value, who):
    if not isinstance(value, bool):
        raise TypeError(f"{who}: `directed` must be a bool, got {value!r}.")


def _edges_from_sets(adjacency) -> tuple[np.ndarray, np.ndarray]:
    pre = np.repeat(np.arange(len(adjacency)), [len(a) for a in adjacency])
    post = np.fromiter((j for a in adjacency for j in sorted(a)), dtype=np.int64, count=pre.size)
    return pre, post


class SmallWorld(Connector):
    """A Watts-Strogatz small-world graph on one population (`num_pre == num_post`).

    Neurons sit on a ring, each connected to its `num_neighbor // 2` nearest neighbours
    on either side; then each of these connections is rewired with probability `prob`
    to a uniformly chosen neuron (no self-connections, no duplicates).

    **Arguments:**

    - `num_neighbor`: the ring degree `k` (neighbours on both sides together), `>= 2`
      and `< num_pre`.
    - `prob`: the rewiring probability, in `[0, 1]`.
    - `directed`: rewire each direction separately; when `False` (default) every
      connection exists in both directions.
    - `seed`, `dense`: see [`funcdyn.conn.FixedProb`][].
    """

    num_neighbor: int = eqx.field(static=True, converter=as_python_scalar)
    prob: float = eqx.field(static=True, converter=as_python_scalar)
    directed: bool = eqx.field(default=False, static=True)
    seed: int | None = eqx.field(default=None, static=True, converter=as_python_scalar)

    def __check_init__(self):
        k = self.num_neighbor
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
            raise ValueError(f"SmallWorld: `num_neighbor` must be an int >= 2, got {k!r}.")
        check_probability(self.prob, "prob", "SmallWorld")
        _check_directed(self.directed, "SmallWorld")
        check_seed(self.seed, "SmallWorld")

    def _check_sizes(self, num_pre, num_post):
        _check_same_population("SmallWorld", num_pre, num_post)
        if self.num_neighbor >= num_pre:
            raise ValueError(
                f"SmallWorld: `num_neighbor` ({self.num_neighbor}) must be smaller than the "
                f"population ({num_pre})."
            )

    def _edges(self, num_pre, num_post, rng):
        n = num_pre
        half = self.num_neighbor // 2
        out = [set() for _ in range(n)]
        for i in range(n):
            for d in range(1, half + 1):
                out[i].add((i + d) % n)
                out[(i + d) % n].add(i)
        # Rewire the "forward" connections i -> i + d (and, when undirected, their
        # reverse) as in Watts & Strogatz (1998); `directed` rewires i -> i - d too.
        offsets = list(range(1, half + 1))
        if self.directed:
            offsets += [-d for d in range(1, half + 1)]
        for d in offsets:
            for i in range(n):
                j = (i + d) % n
                if j not in out[i] or rng.random() >= self.prob:
                    continue
                if len(out[i]) >= n - 1:
                    continue
                while True:
                    new = int(rng.integers(n))
                    if new != i and new not in out[i]:
                        break
                out[i].discard(j)
                out[i].add(new)
                if not self.directed:
                    out[j].discard(i)
                    out[new].add(i)
        return _edges_from_sets(out)


class ScaleFreeBA(Connector):
    """A Barabási-Albert scale-free graph on one population (`num_pre == num_post`):
    neurons are added one at a time, each connecting to `m` distinct earlier neurons
    chosen with probability proportional to their degree (preferential attachment),
    starting from `m` unconnected neurons.

    **Arguments:**

    - `m`: connections made by each new neuron, `1 <= m < num_pre`.
    - `directed`: keep only the connections from each new neuron to the earlier ones;
      when `False` (default) every connection exists in both directions.
    - `seed`, `dense`: see [`funcdyn.conn.FixedProb`][].

    The degree distribution has a power-law tail; the event-driven product handles the
    hubs' large fan-outs in several slices.
    """

    m: int = eqx.field(static=True, converter=as_python_scalar)
    directed: bool = eqx.field(default=False, static=True)
    seed: int | None = eqx.field(default=None, static=True, converter=as_python_scalar)

    def __check_init__(self):
        if isinstance(self.m, bool) or not isinstance(self.m, (int, np.integer)) or self.m < 1:
            raise ValueError(f"ScaleFreeBA: `m` must be an int >= 1, got {self.m!r}.")
        _check_directed(self.directed, "ScaleFreeBA")
        check_seed(self.seed, "ScaleFreeBA")

    def _check_sizes(self, num_pre, num_post):
        _check_same_population("ScaleFreeBA", num_pre, num_post)
        if self.m >= num_pre:
            raise ValueError(
                f"ScaleFreeBA: `m` ({self.m}) must be smaller than the population ({num_pre})."
            )

    def _edges(self, num_pre, num_post, rng):
        m = self.m
        sources, targets_all = [], []
        targets = list(range(m))
        repeated: list[int] = []
        for source in range(m, num_pre):
            sources.extend([source] * m)
            targets_all.extend(targets)
            repeated.extend(targets)
            repeated.extend([source] * m)
            chosen: set[int] = set()
            pool = np.asarray(repeated)
            while len(chosen) < m:
                chosen.update(int(t) for t in rng.choice(pool, m - len(chosen)))
            targets = sorted(chosen)
        pre = np.asarray(sources, dtype=np.int64)
        post = np.asarray(targets_all, dtype=np.int64)
        if not self.directed:
            pre, post = np.concatenate([pre, post]), np.concatenate([post, pre])
        return pre, post
