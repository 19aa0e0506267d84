"""Deterministic connectivities: all-to-all and one-to-one."""

import equinox as eqx
import numpy as np

from ._connector import Connector
from ._projection import AllToAllProjection, CSRProjection, DenseProjection, OneToOneProjection


class All2All(Connector):
    """Every presynaptic neuron connects to every postsynaptic neuron.

    **Arguments:**

    - `include_self`: keep the pairs `i == j` (a neuron onto itself when the pre- and
      postsynaptic populations are the same). Default `True`.
    - `dense` (keyword-only): `None` or `True` gives a dense weight matrix (the default:
      `y = x @ W`, or `sum(x) * w` for a shared scalar weight); `False` gives compressed
      sparse rows.

    ```python
    syn = funcdyn.synapses.Exponential(100, 50, conn=funcdyn.conn.All2All(), key=key)
    ```
    """

    include_self: bool = eqx.field(default=True, static=True)

    _natural_dense = True
    _needs_rng = False

    def __check_init__(self):
        if not isinstance(self.include_self, bool):
            raise TypeError(f"All2All: `include_self` must be a bool, got {self.include_self!r}.")

    def _mask(self, num_pre, num_post, rng):
        mask = np.ones((num_pre, num_post), dtype=bool)
        if not self.include_self:
            np.fill_diagonal(mask, False)
        return mask

    def build(self, num_pre, num_post, *, key=None):
        num_pre, num_post = self._sizes(num_pre, num_post)
        if self.dense is None:
            return AllToAllProjection(num_pre, num_post, self.include_self)
        return super().build(num_pre, num_post, key=key)


class One2One(Connector):
    """Neuron `i` of the presynaptic population connects to neuron `i` of the
    postsynaptic one; both populations have the same size (else a `ValueError`).

    **Arguments:** `dense` (keyword-only): `None` (default) gives an elementwise product
    `y = x * w`; `True` a dense diagonal mask; `False` compressed sparse rows.
    """

    _needs_rng = False

    def _check_sizes(self, num_pre, num_post):
        if num_pre != num_post:
            raise ValueError(
                f"One2One connects neuron i to neuron i: num_pre ({num_pre}) and num_post "
                f"({num_post}) must be equal."
            )

    def _edges(self, num_pre, num_post, rng):
        idx = np.arange(num_pre)
        return idx, idx

    def build(self, num_pre, num_post, *, key=None):
        num_pre, num_post = self._sizes(num_pre, num_post)
        if self.dense is None:
            return OneToOneProjection(num_pre, num_post)
        if self.dense:
            return DenseProjection(np.eye(num_pre, dtype=bool))
        idx = np.arange(num_pre)
        return CSRProjection(idx, idx, num_pre, num_post)
