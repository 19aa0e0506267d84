"""A table of every array of a model: path, shape, dtype, trainable or not, size."""

from typing import Any

import equinox as eqx
import jax
import jax.tree_util as jtu
import numpy as np

from ._core._trainable import trainable


def _is_array(x: Any) -> bool:
    return isinstance(x, (jax.Array, np.ndarray))


def _size_and_bytes(x: Any) -> tuple[int, int]:
    size = int(np.prod(x.shape, dtype=np.int64))
    try:
        itemsize = np.dtype(x.dtype).itemsize
    except TypeError:  # a typed PRNG key: its dtype is not a NumPy dtype
        itemsize = getattr(x.dtype, "itemsize", 0) or 0
    return size, size * int(itemsize)


def _human(num_bytes: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if num_bytes < 1024 or unit == "GiB":
            return f"{num_bytes:.0f} {unit}" if unit == "B" else f"{num_bytes:.1f} {unit}"
        num_bytes /= 1024
    return ""  # unreachable


def summary(model: Any) -> str:
    """A table of every array of `model`, the way Keras' `model.summary()`, torchinfo and
    Flax's `tabulate` show a model: one row per array with its pytree path, shape, dtype,
    whether [`funcdyn.trainable`][] selects it, and its number of values; then the totals
    (values and bytes, trainable and not).

    **Arguments:**

    - `model`: any pytree: a funcdyn model, an `equinox.Module`, a state.

    **Returns:** the table as a `str` (print it). Static fields (sizes, modes, solvers) are
    not arrays and are not listed; the model's repr shows them.

    ```python
    model = funcdyn.layers.Dense(3, 16, mode=funcdyn.training_mode, key=key)
    print(funcdyn.summary(model))
    # Dense: 2 arrays
    # path  shape    dtype    trainable  values
    # ----  -------  -------  ---------  ------
    # .W    (3, 16)  float32  yes            48
    # .b    (16,)    float32  yes            16
    # total: 64 values (256 B); trainable: 64 (256 B); non-trainable: 0 (0 B)
    ```
    """
    spec = trainable(model)
    params, _ = eqx.partition(model, spec)
    selected = {jtu.keystr(p) for p, _ in jtu.tree_flatten_with_path(params)[0]}
    rows = []
    totals = {True: [0, 0], False: [0, 0]}
    for path, leaf in jtu.tree_flatten_with_path(model, is_leaf=_is_array)[0]:
        if not _is_array(leaf):
            continue
        name = jtu.keystr(path) or "(root)"
        is_trainable = name in selected
        size, nbytes = _size_and_bytes(leaf)
        totals[is_trainable][0] += size
        totals[is_trainable][1] += nbytes
        rows.append((name, str(tuple(leaf.shape)), str(leaf.dtype),
                     "yes" if is_trainable else "no", f"{size:,}"))
    header = ("path", "shape", "dtype", "trainable", "values")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(row):
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths[:-1])]
        return "  ".join([*cells, row[-1].rjust(widths[-1])]).rstrip()

    out = [f"{type(model).__name__}: {len(rows)} arrays", line(header),
           "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in rows)
    (tv, tb), (nv, nb) = totals[True], totals[False]
    out.append(
        f"total: {tv + nv:,} values ({_human(tb + nb)}); trainable: {tv:,} ({_human(tb)}); "
        f"non-trainable: {nv:,} ({_human(nb)})"
    )
    return "\n".join(out)
