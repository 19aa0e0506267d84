"""W5's reference: the probe neurons alone (the population is uncoupled, so this is
exact), integrated in float64 with diffrax's Dopri8 at rtol = atol = 1e-12, V saved on the
same grid as the implementations'. Run by the suite once per run."""

import sys

sys.path.insert(0, __import__("pathlib").Path(__file__).resolve().parents[1].as_posix())
import _common as C  # noqa: E402

args = C.parse_args(__doc__)
C.configure_jax(args.threads, x64=True)

import diffrax  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

sys.argv = sys.argv[:1]  # jax_impl parses its own arguments at import
from w5_hh.jax_impl import initial_state, vector_field  # noqa: E402


def main():
    s = C.SIZES["w5_hh"][args.size]
    d = C.load_data(args, "w5_hh")
    I = jnp.asarray(d["I_ext"][d["probe"]], jnp.float64)
    n_save = int(round(s["duration"] / s["save_dt"]))
    ts = jnp.linspace(0.0, n_save * s["save_dt"], n_save + 1)
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(vector_field), diffrax.Dopri8(), t0=0.0, t1=s["duration"], dt0=1e-3,
        y0=initial_state(I.shape[0], jnp.float64), args=I,
        stepsize_controller=diffrax.PIDController(rtol=1e-12, atol=1e-12),
        saveat=diffrax.SaveAt(ts=ts, fn=lambda t, y, a: y[0]), max_steps=10_000_000)
    vs = np.asarray(jax.block_until_ready(sol.ys))
    C.emit("w5_hh", "reference", dict(
        probe_V=vs, save_dt=s["save_dt"],
        method="diffrax Dopri8, float64, rtol = atol = 1e-12"), mods=("jax", "diffrax"))


main()
