"""One process of the 2-process data-parallel training test (tests/test_distributed.py).

    python tests/distributed_worker.py PROCESS_ID NUM_PROCESSES PORT OUT_DIR

Every process builds the same model from the same key and feeds only its own half of each
global batch. It trains with `make_step` and with `BPTT.fit` over a global mesh, and
process 0 writes the final parameters (and one checkpoint, written once) to OUT_DIR.
"""

import json
import pathlib
import sys

import funcdyn as fd

pid, nproc, port, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
fd.train.initialize(f"127.0.0.1:{port}", num_processes=nproc, process_id=pid)

import jax  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import distributed_problem as P  # noqa: E402

out = pathlib.Path(out)
assert jax.process_count() == nproc and jax.device_count() == nproc * jax.local_device_count()
mesh = fd.train.batch_mesh()
X, Y = P.data()

# 1. make_step: each process passes its own rows of each global batch.
init, step = fd.train.make_step(P.loss_fn, P.optimizer(), mesh=mesh)
model = P.model()
opt_state = init(model)
part = fd.train.process_slice(P.BATCH)
losses = []
for k in range(P.STEPS):
    xb, yb = P.global_batch(X, Y, k)
    model, opt_state, loss, _ = step(model, opt_state, (xb[part], yb[part]), P.step_key(k))
    losses.append(float(loss))
    if k + 1 == P.CHECKPOINT_AT:
        fd.train.on_main_process(lambda: fd.train.save_checkpoint(
            out / "run.ckpt", model=model, opt_state=opt_state, step=k + 1, epoch=0))

# 2. BPTT.fit, unchanged: each process passes its share of the data set.
trainer = fd.train.BPTT(P.model(), P.loss_fn, P.optimizer(), mesh=mesh)
local = fd.train.process_local_batches((X, Y), P.BATCH)
fitted, history = trainer.fit(local, num_epoch=P.EPOCHS, batch_size=P.BATCH // nproc,
                              shuffle=False, progress=False)

if fd.train.is_main_process():
    leaves = lambda m: [np.asarray(a).tolist() for a in jax.tree_util.tree_leaves(  # noqa
        fd.train.partition_trainable(m)[0])]
    (out / "result.json").write_text(json.dumps(dict(
        step_params=leaves(model), step_losses=losses, fit_params=leaves(fitted),
        fit_epochs=history.epochs,
        devices=jax.device_count(), processes=jax.process_count()), default=float))
fd.train.on_main_process(lambda: None, name="done")
