"""Fault injection for checkpoints: corrupted, truncated and foreign files, failed and
killed saves, non-finite models."""

import errno
import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcdyn
from funcdyn import train
from funcdyn.layers import Dense

REPO = pathlib.Path(__file__).resolve().parents[1]
CORRUPT = r"corrupt or truncated"


def _model(key, hidden=3):
    k1, k2 = jax.random.split(key)
    mode = funcdyn.training_mode
    return funcdyn.Sequential(
        Dense(2, hidden, mode=mode, key=k1), jnp.tanh, Dense(hidden, 2, mode=mode, key=k2),
        mode=mode,
    )


def _leaves_equal(a, b):
    la, ta = jax.tree_util.tree_flatten(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    assert ta == tb
    for x, y in zip(la, lb):
        if eqx.is_array(x):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
        else:
            assert x == y


@pytest.fixture
def saved(tmp_path):
    """A small valid checkpoint, its bytes, and the templates to load it."""
    model = _model(jax.random.key(0))
    opt = optax.adam(1e-3)
    opt_state = opt.init(eqx.filter(model, eqx.is_array))
    path = tmp_path / "run.ckpt"
    history = train.History([{"epoch": 0, "step": 0, "loss": 0.5}], [{"epoch": 0}])
    train.save_checkpoint(path, model=model, opt_state=opt_state, step=7, epoch=3,
                          key=jax.random.key(5), history=history)
    template = _model(jax.random.key(1))
    like = dict(model=template, opt_state=opt.init(eqx.filter(template, eqx.is_array)))
    return path, path.read_bytes(), model, opt_state, like


def _load(path, like):
    return train.load_checkpoint(path, **like)


class _Rewriter:
    """One file rewritten in place: creating thousands of files is slow on some file
    systems, rewriting an open one is not."""

    def __init__(self, path):
        self.path = path
        self._f = open(path, "wb")

    def __call__(self, data: bytes):
        self._f.seek(0)
        self._f.write(data)
        self._f.truncate()
        self._f.flush()
        return self.path

    def close(self):
        self._f.close()


def test_valid_file_loads_bit_identical(saved):
    path, data, model, opt_state, like = saved
    ckpt = _load(path, like)
    _leaves_equal(ckpt.model, model)
    _leaves_equal(ckpt.opt_state, opt_state)
    assert (ckpt.step, ckpt.epoch) == (7, 3)
    assert issubclass(train.CheckpointError, ValueError)
    # The last 32 bytes are the SHA-256 of everything before them.
    import hashlib

    assert hashlib.sha256(data[:-32]).digest() == data[-32:]


def test_every_flipped_bit_position_is_detected(saved, tmp_path):
    path, data, _, _, like = saved
    rewrite = _Rewriter(tmp_path / "bad.ckpt")
    # One flipped bit in every byte (cycling through the 8 bit positions), so the magic,
    # the length field, the header, every array and the digest are all hit.
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= 1 << (i % 8)
        with pytest.raises(train.CheckpointError, match="corrupt") as info:
            _load(rewrite(bytes(flipped)), like)
        assert type(info.value) is train.CheckpointError, i
    rewrite.close()


def test_changed_header_digit_is_detected(saved, tmp_path):
    path, data, _, _, like = saved
    for old, new in ((b'"step": 7', b'"step": 8'), (b'"epoch": 3', b'"epoch": 4'),
                     (b'"version": 2', b'"version": 3')):
        assert old in data
        p = tmp_path / "digit.ckpt"
        p.write_bytes(data.replace(old, new, 1))
        with pytest.raises(train.CheckpointError, match=CORRUPT):
            _load(p, like)


def test_trailing_bytes_are_detected(saved, tmp_path):
    path, data, _, _, like = saved
    for extra in (b"\x00", b"\n", data[-32:], b"x" * 4096):
        p = tmp_path / "trailing.ckpt"
        p.write_bytes(data + extra)
        with pytest.raises(train.CheckpointError, match=CORRUPT):
            _load(p, like)


def test_truncation_at_every_cut_point(saved, tmp_path):
    path, data, _, _, like = saved
    rewrite = _Rewriter(tmp_path / "cut.ckpt")
    for cut in range(len(data)):
        with pytest.raises(train.CheckpointError, match=CORRUPT):
            _load(rewrite(data[:cut]), like)
    rewrite.close()


def test_absurd_header_length_is_refused_without_reading(saved, tmp_path):
    path, data, _, _, like = saved
    magic = data.index(b"\n") + 1
    for length in (2**40, 2**63, 2**64 - 1, len(data)):
        p = tmp_path / "length.ckpt"
        p.write_bytes(data[:magic] + length.to_bytes(8, "little") + data[magic + 8:])
        with pytest.raises(train.CheckpointError, match=rf"{CORRUPT}.*header length"):
            _load(p, like)


def test_other_formats_and_versions(saved, tmp_path):
    path, data, model, opt_state, like = saved
    for content in (b"", b"not a checkpoint", b"\x89HDF\r\n\x1a\n" + bytes(100)):
        p = tmp_path / "other.bin"
        p.write_bytes(content)
        with pytest.raises(train.CheckpointError, match=r"not a funcdyn checkpoint|truncated"):
            _load(p, like)
    np.savez(tmp_path / "weights.npz", w=np.ones(3))
    with pytest.raises(train.CheckpointError, match="not a funcdyn checkpoint"):
        _load(tmp_path / "weights.npz", like)
    # A version-1 file (no checksum), written as the older funcdyn did.
    import io

    header = json.loads(data[27:27 + int.from_bytes(data[19:27], "little")])
    header["version"] = 1
    h = json.dumps(header).encode()
    body = io.BytesIO()
    eqx.tree_serialise_leaves(body, (model, opt_state, jax.random.key_data(jax.random.key(5))))
    v1 = b"FUNCDYN-CHECKPOINT\n" + len(h).to_bytes(8, "little") + h + body.getvalue()
    p = tmp_path / "v1.ckpt"
    p.write_bytes(v1)
    with pytest.raises(train.CheckpointError, match=r"format version 1.*reads version 2"):
        _load(p, like)


def test_mismatched_structure_names_the_first_leaf(saved):
    path, _, _, _, like = saved
    opt = optax.adam(1e-3)
    deeper = funcdyn.Sequential(
        *like["model"].layers, Dense(2, 2, key=jax.random.key(2), mode=funcdyn.training_mode),
        mode=funcdyn.training_mode,
    )
    with pytest.raises(train.CheckpointError, match=r"first mismatched leaf \(index 5\) is "
                       r"\(no more leaves\) in the file and \.layers\[3\]\.W in the given"):
        train.load_checkpoint(
            path, model=deeper, opt_state=opt.init(eqx.filter(deeper, eqx.is_array))
        )
    wider = _model(jax.random.key(0), hidden=4)
    with pytest.raises(train.CheckpointError, match=r"leaf \.layers\[0\]\.W is saved with"):
        train.load_checkpoint(path, model=wider, opt_state=like["opt_state"])


def _no_temp_files(folder):
    return [p.name for p in pathlib.Path(folder).iterdir() if p.name.endswith(".tmp")]


def test_failed_saves_remove_the_temp_file_and_keep_the_old_checkpoint(saved, monkeypatch):
    path, data, model, opt_state, like = saved
    new_model = _model(jax.random.key(9))

    def save(m=new_model):
        train.save_checkpoint(path, model=m, opt_state=opt_state, step=8, epoch=4)

    def enospc(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    # A full disk at fsync, at rename, and in the middle of writing the arrays.
    for target, name in ((os, "fsync"), (os, "replace"), (jnp, "save")):
        with monkeypatch.context() as m:
            m.setattr(target, name, enospc)
            with pytest.raises(OSError, match="No space left"):
                save()
        assert _no_temp_files(path.parent) == [], name
        assert path.read_bytes() == data, name
    # A leaf that cannot be serialised (pickling an object array that refuses).
    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("cannot pickle this leaf")

    weird = {"w": np.array([Unpicklable()], dtype=object)}
    with pytest.raises(RuntimeError, match="cannot pickle"):
        save(weird)
    assert _no_temp_files(path.parent) == []
    assert path.read_bytes() == data
    _leaves_equal(_load(path, like).model, model)
    # A new save then works and replaces the file.
    save()
    _leaves_equal(_load(path, like).model, new_model)


_CHILD = textwrap.dedent(
    """
    import sys, time
    import jax.numpy as jnp
    from funcdyn.train import save_checkpoint

    calls = [0]
    original = jnp.save

    def slow_save(f, x):
        calls[0] += 1
        if calls[0] == 3:  # two arrays written, the rest not yet
            print("MIDWRITE", flush=True)
            time.sleep(300)
        original(f, x)

    jnp.save = slow_save
    model = {"a": jnp.ones(5000), "b": jnp.full(5000, 2.0), "c": jnp.zeros(5000)}
    save_checkpoint(sys.argv[1], model=model, opt_state=(), step=1, epoch=1)
    print("DONE", flush=True)
    """
)


def test_process_killed_mid_write_leaves_the_old_checkpoint(tmp_path):
    path = tmp_path / "run.ckpt"
    old = {"a": jnp.full(5000, 7.0), "b": jnp.full(5000, 8.0), "c": jnp.full(5000, 9.0)}
    train.save_checkpoint(path, model=old, opt_state=(), step=0, epoch=0)
    data = path.read_bytes()
    env = dict(os.environ, PYTHONPATH=str(REPO), JAX_PLATFORMS="cpu")
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(path)], stdout=subprocess.PIPE,
                             env=env, cwd=REPO, text=True)
    try:
        line = child.stdout.readline().strip()
        assert line == "MIDWRITE", line
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    # The target is the old checkpoint, intact; the killed save left only its temp file,
    # which is itself detected as truncated.
    assert path.read_bytes() == data
    like = {k: jnp.zeros(5000) for k in old}
    _leaves_equal(train.load_checkpoint(path, model=like, opt_state=()).model, old)
    temps = _no_temp_files(tmp_path)
    assert len(temps) == 1 and temps[0].startswith(".run.ckpt."), temps
    with pytest.raises(train.CheckpointError, match=CORRUPT):
        train.load_checkpoint(tmp_path / temps[0], model=like, opt_state=())


def test_nonfinite_model_is_refused_unless_allowed(saved):
    path, data, model, opt_state, like = saved
    W = model.layers[2].W
    nan_model = eqx.tree_at(lambda m: m.layers[2].W, model, W.at[1, 0].set(jnp.nan))
    inf_model = eqx.tree_at(lambda m: m.layers[0].b, model, model.layers[0].b.at[0].set(-jnp.inf))
    for bad, leaf in ((nan_model, r"\.layers\[2\]\.W \(1 of 6 values\)"),
                      (inf_model, r"\.layers\[0\]\.b \(1 of 3 values\)")):
        match = rf"non-finite values at {leaf}.*allow_nonfinite=True"
        with pytest.raises(train.CheckpointError, match=match):
            train.save_checkpoint(path, model=bad, opt_state=opt_state, step=8, epoch=4)
        assert path.read_bytes() == data
    assert _no_temp_files(path.parent) == []
    with pytest.raises(TypeError, match=r"save_checkpoint: `allow_nonfinite` must be a bool"):
        train.save_checkpoint(path, model=model, opt_state=opt_state, step=8, epoch=4,
                              allow_nonfinite="no")
    # Saved on request, and loaded back bit for bit (the NaN included).
    train.save_checkpoint(path, model=nan_model, opt_state=opt_state, step=8, epoch=4,
                          allow_nonfinite=True)
    loaded = _load(path, like).model
    np.testing.assert_array_equal(
        np.asarray(loaded.layers[2].W), np.asarray(nan_model.layers[2].W)
    )
    assert np.isnan(np.asarray(loaded.layers[2].W)[1, 0])
    # The optimizer state may hold an infinity by design (not checked).
    train.save_checkpoint(path, model=model, opt_state=(opt_state, jnp.array(jnp.inf)), step=8,
                          epoch=4)
    ckpt = train.load_checkpoint(path, model=like["model"],
                                 opt_state=(like["opt_state"], jnp.array(0.0)))
    assert ckpt.step == 8 and float(ckpt.opt_state[1]) == np.inf
