"""A `jax.jit` keyed on the pytree structure of the arguments, for millisecond calls.

`eqx.filter_jit` partitions its arguments into arrays and the rest on every call and
wraps both; for a call that runs for a few milliseconds (a 10,000-step NG-RC forecast
takes about 2 ms) that costs about a tenth of the run. When every non-array leaf is
hashable, a plain `jax.jit` with the structure and those leaves as one static argument
does the same with C++ dispatch; otherwise `eqx.filter_jit` runs (which raises the
same error for an unhashable non-array leaf as before).
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.tree_util as jtu


def split_leaves(leaves: list) -> tuple[list, tuple]:
    """`(arrays, others)`: the array leaves, and `(index, leaf)` for every other leaf."""
    arrays, others = [], []
    for i, leaf in enumerate(leaves):
        if eqx.is_array(leaf):
            arrays.append(leaf)
        else:
            others.append((i, leaf))
    return arrays, tuple(others)


def merge_leaves(arrays, others) -> list:
    """The inverse of `split_leaves`."""
    leaves = list(arrays)
    for i, leaf in others:
        leaves.insert(i, leaf)
    return leaves


def _signature(arrays) -> tuple:
    return tuple((a.shape, a.dtype, getattr(a, "weak_type", False)) for a in arrays)


def structure_jit(fn: Callable) -> Callable:
    """`fn` compiled like `eqx.filter_jit(fn)` (arrays traced, everything else static),
    dispatched through a plain `jax.jit` when the non-array leaves are hashable. `fn`
    takes positional arguments only."""
    general = eqx.filter_jit(fn)
    # The output's structure and non-array leaves, found when tracing, by input key.
    outputs: dict = {}

    def inner(static, arrays):
        in_def, others = static
        out = fn(*jtu.tree_unflatten(in_def, merge_leaves(arrays, others)))
        out_arrays, out_others = split_leaves(jtu.tree_leaves(out))
        outputs[(static, _signature(arrays))] = (jtu.tree_structure(out), out_others)
        return out_arrays

    jitted = jax.jit(inner, static_argnums=0)

    def call(*args):
        leaves, in_def = jtu.tree_flatten(args)
        arrays, others = split_leaves(leaves)
        static = (in_def, others)
        try:
            hash(static)
        except TypeError:
            return general(*args)
        out_arrays = jitted(static, arrays)
        out_def, out_others = outputs[(static, _signature(arrays))]
        return jtu.tree_unflatten(out_def, merge_leaves(out_arrays, out_others))

    call.jitted = jitted
    call.general = general
    return call
