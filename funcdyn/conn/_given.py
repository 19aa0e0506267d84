"""Connectivities given explicitly: a matrix, or lists of pre- and postsynaptic indices."""

import numpy as np

from ._connector import Connector


class MatConn(Connector):
    """A connectivity given as a `(num_pre, num_post)` matrix: non-zero entries are
    connections.

    **Arguments:**

    - `mat`: a 2-D array-like (booleans or numbers). Its shape must equal the
      populations' sizes (else a `ValueError` at build time).
    - `dense` (keyword-only): dense mask by default; `False` for compressed sparse rows.

    ```python
    conn = funcdyn.conn.MatConn(np.random.default_rng(0).random((10, 20)) < 0.3)
    ```
    """

    mat: np.ndarray

    _natural_dense = True
    _needs_rng = False

    def __init__(self, mat, *, dense: bool | None = None):
        mat = np.asarray(mat)
        if mat.ndim != 2:
            raise ValueError(f"MatConn: `mat` must be a 2-D matrix, got shape {mat.shape}.")
        self.mat = mat != 0
        self.dense = dense

    def _check_sizes(self, num_pre, num_post):
        if self.mat.shape != (num_pre, num_post):
            raise ValueError(
                f"MatConn: `mat` has shape {self.mat.shape} but the populations need "
                f"(num_pre, num_post) = ({num_pre}, {num_post})."
            )

    def _mask(self, num_pre, num_post, rng):
        return self.mat.copy()


class IJConn(Connector):
    """A connectivity given as index lists: connection `k` goes from presynaptic neuron
    `i[k]` to postsynaptic neuron `j[k]`. A repeated pair is connected twice (its
    weights add up) in the sparse representation.

    **Arguments:**

    - `i`, `j`: 1-D integer array-likes of equal length. Indices outside the
      populations are a `ValueError` at build time.
    - `dense` (keyword-only): sparse by default; `True` for a dense mask (no repeated
      pairs then).
    """

    i: np.ndarray
    j: np.ndarray

    _needs_rng = False

    def __init__(self, i, j, *, dense: bool | None = None):
        i = np.asarray(i)
        j = np.asarray(j)
        for name, arr in (("i", i), ("j", j)):
            if arr.ndim != 1 or not (arr.size == 0 or np.issubdtype(arr.dtype, np.integer)):
                raise ValueError(
                    f"IJConn: `{name}` must be a 1-D array of integer indices, got dtype "
                    f"{arr.dtype} and shape {arr.shape}."
                )
        if i.shape != j.shape:
            raise ValueError(
                f"IJConn: `i` and `j` must have the same length, got {i.size} and {j.size}."
            )
        self.i = i.astype(np.int64)
        self.j = j.astype(np.int64)
        self.dense = dense

    def _check_sizes(self, num_pre, num_post):
        checks = (("i", self.i, num_pre, "num_pre"), ("j", self.j, num_post, "num_post"))
        for name, idx, size, arg in checks:
            if idx.size and (idx.min() < 0 or idx.max() >= size):
                raise ValueError(
                    f"IJConn: `{name}` has indices in [{idx.min()}, {idx.max()}], outside "
                    f"the population of {arg}={size} neurons."
                )

    def _edges(self, num_pre, num_post, rng):
        return self.i, self.j
