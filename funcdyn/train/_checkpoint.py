"""Saving and loading a training run: model, optimizer state, counters, key and history."""

import io
import json
import os
import re
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jaxtyping import PRNGKeyArray

from ._history import History

_MAGIC = b"FUNCDYN-CHECKPOINT\n"
_VERSION = 1


class Checkpoint(NamedTuple):
    """A loaded training run (see [`funcdyn.train.load_checkpoint`][])."""

    model: Any
    opt_state: Any
    step: int
    epoch: int
    key: PRNGKeyArray | None
    history: History


def _leaf_spec(tree: Any) -> list[list[Any]]:
    """`[path, shape, dtype]` for every array leaf and `[path, repr]` for other leaves."""
    spec = []
    for path, leaf in jtu.tree_flatten_with_path(tree)[0]:
        name = jtu.keystr(path)
        if eqx.is_array(leaf):
            spec.append([name, list(np.shape(leaf)), str(np.asarray(leaf).dtype)])
        else:
            spec.append([name, type(leaf).__name__])
    return spec


def _key_parts(key: PRNGKeyArray | None) -> tuple[Any, str | None]:
    if key is None:
        return None, None
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return jax.random.key_data(key), str(jax.random.key_impl(key))
    return jnp.asarray(key), "raw"


def save_checkpoint(
    path: str | os.PathLike,
    *,
    model: Any,
    opt_state: Any,
    step: int,
    epoch: int,
    key: PRNGKeyArray | None = None,
    history: History | None = None,
) -> None:
    """Writes a training run to `path`.

    The file holds a JSON header (counters, history, key type, and the tree structure,
    leaf shapes and dtypes used to check a later load), then the arrays of `model`,
    `opt_state` and `key` written by `equinox.tree_serialise_leaves`. It is written to a
    temporary file and renamed, so an interrupted save leaves the old file intact.

    **Arguments:**

    - `path`: the file to write.
    - `model`, `opt_state`: the model and its optimizer state.
    - `step`, `epoch`: the optimizer steps and whole epochs done so far.
    - `key`: the run's root PRNG key (typed or raw), or `None`.
    - `history`: the [`funcdyn.train.History`][] so far.
    """
    key_data, key_impl = _key_parts(key)
    header = {
        "version": _VERSION,
        "step": int(step),
        "epoch": int(epoch),
        "key_impl": key_impl,
        "key_shape": None if key_data is None else list(key_data.shape),
        "history": (history or History()).to_dict(),
        "model_treedef": _structure(model),
        "model_leaves": _leaf_spec(model),
        "opt_state_treedef": _structure(opt_state),
        "opt_state_leaves": _leaf_spec(opt_state),
    }
    header_bytes = json.dumps(header).encode()
    body = io.BytesIO()
    eqx.tree_serialise_leaves(body, (model, opt_state, key_data))
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(_MAGIC)
        f.write(len(header_bytes).to_bytes(8, "little"))
        f.write(header_bytes)
        f.write(body.getvalue())
    os.replace(tmp, path)


def _structure(tree: Any) -> str:
    # Memory addresses in the reprs of static functions differ between processes.
    return re.sub(r" at 0x[0-9a-fA-F]+", "", str(jtu.tree_structure(tree)))


def _compare(what: str, saved_treedef: str, saved: list, like: Any, path: str) -> None:
    current = _leaf_spec(like)
    saved_names = [s[0] for s in saved]
    current_names = [c[0] for c in current]
    if saved_names != current_names:
        only_saved = [n for n in saved_names if n not in current_names][:5]
        only_current = [n for n in current_names if n not in saved_names][:5]
        raise ValueError(
            f"load_checkpoint: the {what} saved in {path!r} has a different structure from "
            f"the {what} given ({len(saved)} vs {len(current)} leaves; only in the file: "
            f"{only_saved}; only in the given {what}: {only_current}). Build the {what} "
            "with the same classes and hyperparameters as the saved run."
        )
    for s, c in zip(saved, current):
        if s != c and (len(s) == 2 or len(c) == 2):
            saved_kind = s[1] if len(s) == 2 else "an array"
            given_kind = c[1] if len(c) == 2 else "an array"
            raise ValueError(
                f"load_checkpoint: {what} leaf {s[0]} is saved as {saved_kind} but the given "
                f"{what} has {given_kind}; build the {what} with the same classes and "
                "hyperparameters as the saved run."
            )
        if s != c:
            raise ValueError(
                f"load_checkpoint: {what} leaf {s[0]} is saved with (shape, dtype) "
                f"{tuple(s[1:])} but the given {what} has {tuple(c[1:])}; build the {what} "
                "with the same sizes as the saved run."
            )
    if saved_treedef != _structure(like):
        raise ValueError(
            f"load_checkpoint: the {what} saved in {path!r} has the same arrays but "
            f"different module types or static fields (hyperparameters) from the {what} "
            f"given.\n saved: {saved_treedef}\n given: {_structure(like)}"
        )


def load_checkpoint(path: str | os.PathLike, *, model: Any, opt_state: Any) -> Checkpoint:
    """Reads a training run written by [`funcdyn.train.save_checkpoint`][].

    **Arguments:**

    - `path`: the file.
    - `model`, `opt_state`: templates with the structure, shapes and dtypes of the saved
      ones (e.g. a freshly constructed model and `init(model)`); their values are
      replaced. A different structure, shape or dtype raises a `ValueError` naming the
      first mismatching leaf.

    **Returns:** a [`funcdyn.train.Checkpoint`][] `(model, opt_state, step, epoch, key,
    history)`; the arrays are bit-identical to the saved ones.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        magic = f.read(len(_MAGIC))
        if magic != _MAGIC:
            raise ValueError(f"load_checkpoint: {path!r} is not a funcdyn checkpoint.")
        size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(size).decode())
        if header.get("version") != _VERSION:
            raise ValueError(
                f"load_checkpoint: {path!r} has format version {header.get('version')}; "
                f"this funcdyn reads version {_VERSION}."
            )
        _compare("model", header["model_treedef"], header["model_leaves"], model, path)
        _compare(
            "opt_state", header["opt_state_treedef"], header["opt_state_leaves"], opt_state, path
        )
        key_impl = header["key_impl"]
        key_like = None
        if key_impl is not None:
            key_like = jnp.zeros(header["key_shape"], jnp.uint32)
        model, opt_state, key_data = eqx.tree_deserialise_leaves(f, (model, opt_state, key_like))
    if key_impl is None:
        key = None
    elif key_impl == "raw":
        key = key_data
    else:
        key = jax.random.wrap_key_data(key_data, impl=key_impl)
    return Checkpoint(
        model=model,
        opt_state=opt_state,
        step=header["step"],
        epoch=header["epoch"],
        key=key,
        history=History.from_dict(header["history"]),
    )
