"""Multi-process data-parallel training: two local processes joined by
`jax.distributed` (gloo collectives on CPU), each feeding its own half of every batch,
train exactly as one process does; the checkpoint is written once and resumes on one
process."""

import json
import os
import pathlib
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

import funcdyn as fd

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import distributed_problem as P  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _trainable_leaves(model):
    return [np.asarray(a) for a in jax.tree_util.tree_leaves(fd.train.partition_trainable(model)[0])]


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("distributed")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(HERE.parent) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("XLA_FLAGS", None)  # one CPU device per process
    port = _free_port()
    procs = [
        subprocess.Popen(
            [sys.executable, "-u", str(HERE / "distributed_worker.py"), str(i), "2", str(port),
             str(out)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for i in range(2)
    ]
    logs = []
    for p in procs:
        try:
            logs.append(p.communicate(timeout=600)[0])
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("the 2-process run did not finish in 600 s")
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log[-4000:]
    return out, json.loads((out / "result.json").read_text())


@pytest.mark.standard_promotion
def test_make_step_across_two_processes_equals_one(two_process_run):
    _, result = two_process_run
    assert result["processes"] == 2 and result["devices"] == 2
    init, step = fd.train.make_step(P.loss_fn, P.optimizer())
    model = P.model()
    opt_state = init(model)
    X, Y = P.data()
    losses = []
    for k in range(P.STEPS):
        model, opt_state, loss, _ = step(model, opt_state, P.global_batch(X, Y, k), P.step_key(k))
        losses.append(float(loss))
    np.testing.assert_allclose(result["step_losses"], losses, rtol=1e-5, atol=1e-6)
    got = [np.asarray(a) for a in result["step_params"]]
    expected = _trainable_leaves(model)
    assert len(got) == len(expected)
    initial = _trainable_leaves(P.model())
    # Training moved the parameters (the weights; some leaves may get no gradient).
    assert max(float(np.max(np.abs(e - i))) for e, i in zip(expected, initial)) > 1e-3
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-5)


@pytest.mark.standard_promotion
def test_bptt_fit_across_two_processes_equals_one(two_process_run):
    _, result = two_process_run
    trainer = fd.train.BPTT(P.model(), P.loss_fn, P.optimizer(), mesh=None)
    fitted, history = trainer.fit(P.data(), num_epoch=P.EPOCHS, batch_size=P.BATCH,
                                  shuffle=False, progress=False)
    for g, e in zip(result["fit_params"], _trainable_leaves(fitted)):
        np.testing.assert_allclose(np.asarray(g), e, rtol=0, atol=1e-5)
    got_loss = [e["train_loss"] for e in result["fit_epochs"]]
    np.testing.assert_allclose(got_loss, [e["train_loss"] for e in history.epochs], rtol=1e-5)


@pytest.mark.standard_promotion
def test_checkpoint_written_once_resumes_on_one_process(two_process_run):
    out, result = two_process_run
    files = sorted(p.name for p in out.iterdir())
    assert files == ["result.json", "run.ckpt"], files  # one file, no temporaries left
    init, step = fd.train.make_step(P.loss_fn, P.optimizer())
    ckpt = fd.train.load_checkpoint(out / "run.ckpt", model=P.model(), opt_state=init(P.model()))
    assert ckpt.step == P.CHECKPOINT_AT
    model, opt_state = ckpt.model, ckpt.opt_state
    X, Y = P.data()
    for k in range(ckpt.step, P.STEPS):
        model, opt_state, _, _ = step(model, opt_state, P.global_batch(X, Y, k), P.step_key(k))
    for g, e in zip(result["step_params"], _trainable_leaves(model)):
        np.testing.assert_allclose(np.asarray(g), e, rtol=0, atol=1e-5)


def test_process_helpers_on_one_process():
    assert fd.train.process_index() == 0 and fd.train.process_count() == 1
    assert fd.train.is_main_process()
    assert fd.train.process_slice(6) == slice(0, 6)
    X = np.arange(12).reshape(6, 2)
    local = fd.train.process_local_batches((X, X[:, 0]), 3)
    np.testing.assert_array_equal(local[0], X)
    calls = []
    fd.train.on_main_process(lambda: calls.append(1))
    assert calls == [1]


def test_process_helper_errors():
    with pytest.raises(TypeError, match="`global_size` must be an int"):
        fd.train.process_slice(2.0)
    with pytest.raises(ValueError, match="does not split evenly over 1 processes"):
        fd.train.process_slice(0)
    X = np.zeros((5, 2))
    with pytest.raises(ValueError, match="not a whole number of global batches"):
        fd.train.process_local_batches(X, 2)
    with pytest.raises(ValueError, match="needs 4 samples on its first axis"):
        fd.train.process_local_batches((np.zeros((4, 1)), np.zeros((3,))), 2)
    with pytest.raises(ValueError, match="has no arrays"):
        fd.train.process_local_batches({}, 2)
