"""Saving and loading a training run: model, optimizer state, counters, key and history."""

import hashlib
import json
import os
import re
import tempfile
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jaxtyping import PRNGKeyArray

from .._checks import check_bool
from ._history import History

_MAGIC = b"FUNCDYN-CHECKPOINT\n"
_VERSION = 2  # 1: no checksum (funcdyn before the integrity check)
_LEN_BYTES = 8
_DIGEST_BYTES = 32  # SHA-256
# A header is counters, a history and one line per leaf: far below this even for
# million-step runs. An absurd length (a corrupt length field) is refused before reading.
_MAX_HEADER_BYTES = 1 << 30


class Checkpoint(NamedTuple):
    """A loaded training run (see [`funcdyn.train.load_checkpoint`][])."""

    model: Any
    opt_state: Any
    step: int
    epoch: int
    key: PRNGKeyArray | None
    history: History
    # What the run was trained on (batch size, sample count, sample shapes...), recorded
    # by `fit` so that `fit(resume=...)` can refuse other data; `None` when not recorded.
    data: dict | None = None


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


class CheckpointError(ValueError):
    """A checkpoint file that cannot be loaded: corrupt (checksum mismatch, bad header),
    truncated, of another format or version, or saved from a different model structure.
    A `ValueError`, so `except ValueError` also catches it."""


class _HashingWriter:
    """Writes to a file and hashes every byte written."""

    def __init__(self, f, digest):
        self._f = f
        self._digest = digest

    def write(self, data) -> int:
        data = memoryview(data).cast("B")
        self._digest.update(data)
        return self._f.write(data)


def _first_nonfinite(tree: Any) -> str | None:
    """The path of the first floating leaf of `tree` holding a NaN or an infinity."""
    for path, leaf in jtu.tree_flatten_with_path(tree)[0]:
        if eqx.is_array(leaf) and jnp.issubdtype(leaf.dtype, jnp.inexact):
            values = np.asarray(leaf)
            if not np.isfinite(values).all():
                bad = int(np.size(values) - np.isfinite(values).sum())
                return f"{jtu.keystr(path)} ({bad} of {np.size(values)} values)"
    return None


def _serialise(f, tree) -> None:
    """`eqx.tree_serialise_leaves`, raising the original error (e.g. an `OSError` for a
    full disk) rather than equinox's wrapper, with the leaf's path as a note."""
    try:
        eqx.tree_serialise_leaves(f, tree)
    except Exception as err:
        root = err
        while type(root).__name__ == "TreePathError" and root.__cause__ is not None:
            root = root.__cause__
        if root is err:
            raise
        where = jtu.keystr(tuple(getattr(err, "path", ())))
        root.add_note(f"save_checkpoint: while writing leaf {where} of (model, opt_state, key).")
        raise root from None


def _fsync_folder(folder: str) -> None:
    # Makes the rename itself durable. Folders cannot be opened on some platforms
    # (Windows): there the rename is as durable as the OS makes it.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(
    path: str | os.PathLike,
    *,
    model: Any,
    opt_state: Any,
    step: int,
    epoch: int,
    key: PRNGKeyArray | None = None,
    history: History | None = None,
    data: dict | None = None,
    allow_nonfinite: bool = False,
) -> None:
    """Writes a training run to `path`, atomically.

    **File format (version 2):** the magic line `FUNCDYN-CHECKPOINT`, the header length
    (8 bytes, little endian), a JSON header (format version, counters, history, key type,
    and the tree structure, leaf shapes and dtypes used to check a later load), the arrays
    of `model`, `opt_state` and `key` written by `equinox.tree_serialise_leaves`, and a
    SHA-256 digest of everything before it. [`funcdyn.train.load_checkpoint`][] verifies
    the digest before reading anything, so a flipped bit, a truncation or appended bytes
    are detected.

    **Atomicity:** the file is written to a temporary file in the same folder
    (`.<name>.<random>.tmp`), flushed and `fsync`ed, renamed over `path` with `os.replace`,
    and the folder is `fsync`ed. At every moment `path` holds either the previous
    checkpoint or the new one, complete: a save that fails (a full disk, a leaf that
    cannot be serialised) raises, removes its temporary file and leaves the previous
    checkpoint untouched. A process killed mid-save cannot clean up: it leaves its
    temporary file, never a partial `path`.

    **Arguments:**

    - `path`: the file to write.
    - `model`, `opt_state`: the model and its optimizer state.
    - `step`, `epoch`: the optimizer steps and whole epochs done so far.
    - `key`: the run's root PRNG key (typed or raw), or `None`.
    - `history`: the [`funcdyn.train.History`][] so far.
    - `data`: a JSON-serialisable description of the training data; `fit` records the
      batch size, sample count, batching options and sample shapes here, and refuses to
      resume on data that differ.
    - `allow_nonfinite`: by default a `model` with a NaN or infinite value in a floating
      array is refused with a [`funcdyn.train.CheckpointError`][] naming the first such
      leaf (so a checkpoint never replaces a good model with a diverged one); `True`
      saves it anyway (e.g. to debug the divergence). The optimizer state is not checked
      (some optax states hold an infinity by design, e.g. a best loss so far).
    """
    allow_nonfinite = check_bool(allow_nonfinite, "allow_nonfinite", "save_checkpoint")
    path = os.fspath(path)
    if data is not None and not isinstance(data, dict):
        raise TypeError(f"save_checkpoint: `data` must be a dict or None, got {data!r}.")
    if not allow_nonfinite:
        bad = _first_nonfinite(model)
        if bad is not None:
            raise CheckpointError(
                f"save_checkpoint: the model has non-finite values at {bad}; refusing to "
                f"write {path!r} (the previous checkpoint there is kept). Pass "
                "`allow_nonfinite=True` to save it anyway."
            )
    key_data, key_impl = _key_parts(key)
    header = {
        "version": _VERSION,
        "step": int(step),
        "epoch": int(epoch),
        "key_impl": key_impl,
        "key_shape": None if key_data is None else list(key_data.shape),
        "history": (history or History()).to_dict(),
        "data": data,
        "model_treedef": _structure(model),
        "model_leaves": _leaf_spec(model),
        "opt_state_treedef": _structure(opt_state),
        "opt_state_leaves": _leaf_spec(opt_state),
    }
    header_bytes = json.dumps(header).encode()
    folder, name = os.path.split(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            digest = hashlib.sha256()
            out = _HashingWriter(f, digest)
            out.write(_MAGIC)
            out.write(len(header_bytes).to_bytes(_LEN_BYTES, "little"))
            out.write(header_bytes)
            _serialise(out, (model, opt_state, key_data))
            f.write(digest.digest())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        # Any failure (a full disk, a leaf that cannot be serialised, KeyboardInterrupt)
        # removes the temporary file; `path` was not touched.
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(folder)


def _structure(tree: Any) -> str:
    # Memory addresses in the reprs of static functions differ between processes.
    return re.sub(r" at 0x[0-9a-fA-F]+", "", str(jtu.tree_structure(tree)))


def _compare(what: str, saved_treedef: str, saved: list, like: Any, path: str) -> None:
    current = _leaf_spec(like)
    saved_names = [s[0] for s in saved]
    current_names = [c[0] for c in current]
    if saved_names != current_names:
        i = next(
            (i for i, (a, b) in enumerate(zip(saved_names, current_names)) if a != b),
            min(len(saved_names), len(current_names)),
        )
        in_file = saved_names[i] if i < len(saved_names) else "(no more leaves)"
        given = current_names[i] if i < len(current_names) else "(no more leaves)"
        raise CheckpointError(
            f"load_checkpoint: the {what} saved in {path!r} has a different structure from "
            f"the {what} given ({len(saved)} vs {len(current)} leaves); the first mismatched "
            f"leaf (index {i}) is {in_file} in the file and {given} in the given {what}. "
            f"Build the {what} with the same classes and hyperparameters as the saved run."
        )
    for s, c in zip(saved, current):
        if s != c and (len(s) == 2 or len(c) == 2):
            saved_kind = s[1] if len(s) == 2 else "an array"
            given_kind = c[1] if len(c) == 2 else "an array"
            raise CheckpointError(
                f"load_checkpoint: {what} leaf {s[0]} is saved as {saved_kind} but the given "
                f"{what} has {given_kind}; build the {what} with the same classes and "
                "hyperparameters as the saved run."
            )
        if s != c:
            raise CheckpointError(
                f"load_checkpoint: {what} leaf {s[0]} is saved with (shape, dtype) "
                f"{tuple(s[1:])} but the given {what} has {tuple(c[1:])}; build the {what} "
                "with the same sizes as the saved run."
            )
    if saved_treedef != _structure(like):
        raise CheckpointError(
            f"load_checkpoint: the {what} saved in {path!r} has the same arrays but "
            f"different module types or static fields (hyperparameters) from the {what} "
            f"given.\n saved: {saved_treedef}\n given: {_structure(like)}"
        )


def _corrupt(path: str, why: str) -> CheckpointError:
    return CheckpointError(
        f"load_checkpoint: {path!r} is corrupt or truncated ({why}); it cannot be loaded. "
        "Use another checkpoint (an earlier one, or re-run the training)."
    )


def _verify(f, path: str) -> tuple[dict, int]:
    """Checks the magic, the header length and the SHA-256 digest of an open checkpoint;
    returns the parsed header and the offset of the payload. Reads the file once, in
    chunks (never more than its size)."""
    size = os.fstat(f.fileno()).st_size
    prefix = f.read(len(_MAGIC))
    if prefix != _MAGIC:
        if _MAGIC.startswith(prefix) and len(prefix) < len(_MAGIC):
            raise _corrupt(path, f"the file is {size} bytes, shorter than its magic line")
        raise CheckpointError(
            f"load_checkpoint: {path!r} is not a funcdyn checkpoint, or its first bytes are "
            f"corrupt (it does not start with {_MAGIC!r}); write checkpoints with "
            "funcdyn.train.save_checkpoint."
        )
    length_bytes = f.read(_LEN_BYTES)
    if len(length_bytes) < _LEN_BYTES:
        raise _corrupt(path, f"the file ends after {size} bytes, inside the header length")
    header_len = int.from_bytes(length_bytes, "little")
    payload_start = len(_MAGIC) + _LEN_BYTES + header_len
    if header_len > _MAX_HEADER_BYTES or payload_start + _DIGEST_BYTES > size:
        raise _corrupt(
            path,
            f"the header length field says {header_len} bytes, but the file has {size} bytes",
        )
    header_bytes = f.read(header_len)
    try:
        header = json.loads(header_bytes.decode())
        if not isinstance(header, dict):
            raise ValueError("not an object")
    except (UnicodeDecodeError, ValueError):
        header = None
    digest = hashlib.sha256()
    digest.update(prefix)
    digest.update(length_bytes)
    digest.update(header_bytes)
    remaining = size - payload_start - _DIGEST_BYTES
    while remaining > 0:
        chunk = f.read(min(remaining, 1 << 22))
        if not chunk:
            raise _corrupt(path, "the file shrank while it was read")
        digest.update(chunk)
        remaining -= len(chunk)
    stored = f.read(_DIGEST_BYTES)
    if stored != digest.digest():
        version = header.get("version") if header is not None else None
        if version is not None and version != _VERSION:
            # A version-1 file has no digest, so it fails here too: say both.
            raise CheckpointError(
                f"load_checkpoint: {path!r} is corrupt or truncated, or was written in "
                f"format version {version!r}: this funcdyn reads version {_VERSION} (with a "
                "checksum). Load it with the funcdyn that wrote it and save it again."
            )
        raise _corrupt(path, "SHA-256 checksum mismatch")
    if header is None:
        raise _corrupt(path, "the header is not valid JSON")
    if header.get("version") != _VERSION:
        raise CheckpointError(
            f"load_checkpoint: {path!r} has format version {header.get('version')!r}; this "
            f"funcdyn reads version {_VERSION}. Use the funcdyn that wrote it."
        )
    return header, payload_start


def load_checkpoint(path: str | os.PathLike, *, model: Any, opt_state: Any) -> Checkpoint:
    """Reads a training run written by [`funcdyn.train.save_checkpoint`][].

    The whole file is checked before any value is used: its magic line, its header
    length (bounded by the file size, so a corrupt length never makes it read beyond the
    file) and its SHA-256 digest.

    **Arguments:**

    - `path`: the file.
    - `model`, `opt_state`: templates with the structure, shapes and dtypes of the saved
      ones (e.g. a freshly constructed model and `init(model)`); their values are
      replaced, they are not modified.

    **Returns:** a [`funcdyn.train.Checkpoint`][] `(model, opt_state, step, epoch, key,
    history, data)`; the arrays are bit-identical to the saved ones.

    **Raises:** a [`funcdyn.train.CheckpointError`][] (a `ValueError`) if the file is
    corrupt or truncated (any flipped bit, a cut, appended bytes, a bad header), is not
    a funcdyn checkpoint or has another format version, or was saved from a model or
    optimizer state of another structure, shape or dtype (naming the first mismatching
    leaf).
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        header, payload_start = _verify(f, path)
        _compare("model", header["model_treedef"], header["model_leaves"], model, path)
        _compare(
            "opt_state", header["opt_state_treedef"], header["opt_state_leaves"], opt_state, path
        )
        key_impl = header["key_impl"]
        key_like = None
        if key_impl is not None:
            key_like = jnp.zeros(header["key_shape"], jnp.uint32)
        f.seek(payload_start)
        model, opt_state, key_data = eqx.tree_deserialise_leaves(f, (model, opt_state, key_like))
        end = os.fstat(f.fileno()).st_size - _DIGEST_BYTES
        if f.tell() != end:
            # The digest matched, so the file is as written: the arrays do not fill the
            # payload, which only a writer bug could cause. Never a silent partial load.
            raise _corrupt(path, f"the arrays end at byte {f.tell()}, the payload at {end}")
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
        data=header.get("data"),
    )
