"""funcdyn.summary: one row per array with the trainable flag of funcdyn.trainable, and totals."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import funcdyn as fd


def _rows(text):
    lines = text.splitlines()
    return {ln.split()[0]: ln.split() for ln in lines[3:-1]}, lines[-1]


def test_summary_rows_and_totals(getkey):
    frozen = fd.layers.Dense(3, 5, mode=fd.batching_mode, key=getkey())
    readout = fd.layers.Dense(5, 2, b_initializer=None, mode=fd.training_mode, key=getkey())
    model = frozen >> readout
    rows, total = _rows(fd.summary(model))
    assert fd.summary(model).splitlines()[0] == "Sequential: 3 arrays"
    assert rows[".layers[0].W"] == [".layers[0].W", "(3,", "5)", "float32", "no", "15"]
    assert rows[".layers[0].b"][-2:] == ["no", "5"]
    assert rows[".layers[1].W"][-2:] == ["yes", "10"]
    assert ".layers[1].b" not in rows  # no bias: no array
    # Totals agree with an independent count over the trainable partition.
    params, rest = eqx.partition(model, fd.trainable(model))
    n_train = sum(x.size for x in jax.tree_util.tree_leaves(params))
    n_rest = sum(x.size for x in jax.tree_util.tree_leaves(eqx.filter(rest, eqx.is_array)))
    assert (n_train, n_rest) == (10, 20)
    assert total == "total: 30 values (120 B); trainable: 10 (40 B); non-trainable: 20 (80 B)"


def test_summary_of_plain_pytrees_counts_integer_and_numpy_arrays():
    class Plain(eqx.Module):
        table: np.ndarray
        counts: jax.Array
        w: jax.Array
        rate: float = 0.5

    model = Plain(np.zeros((2, 3), np.float64), jnp.arange(4, dtype=jnp.int32), jnp.ones((10, 10)))
    text = fd.summary(model)
    rows, total = _rows(text)
    # 6 float64 + 4 int32 + 100 float32 = 48 + 16 + 400 bytes. A plain equinox module is in no mode: nothing is trainable.
    assert rows[".table"][-3:] == ["float64", "no", "6"]
    assert rows[".counts"][-3:] == ["int32", "no", "4"]
    assert rows[".w"][-1] == "100"
    assert total.startswith("total: 110 values (464 B); trainable: 0 (0 B)")
    big = fd.summary({"x": jnp.zeros((1000, 1000), jnp.float32)})
    assert "1,000,000" in big and "(3.8 MiB)" in big
