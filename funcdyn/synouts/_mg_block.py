"""The magnesium block of NMDA receptors."""

import math
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from ._base import _bcast, _reversal, SynOut


class MgBlock(SynOut):
    r"""Conductance-based output with the voltage-dependent magnesium block of NMDA
    receptors (Jahr & Stevens 1990):

    $$I = g\,(E - V)\,\frac{1}{1 + \frac{[\mathrm{Mg}^{2+}]}{\beta} e^{-\alpha V}}.$$

    **Arguments:**

    - `E`: the reversal potential (mV), default `0.0`; a float or per-neuron array.
    - `cc_Mg`: the extracellular magnesium concentration (mM), default `1.2`.
    - `alpha`: the voltage sensitivity (1/mV), default `0.062`.
    - `beta`: default `3.57` (mM).

    Call the synapse with `x = (spikes, V_post)`.
    """

    E: ArrayLike
    cc_Mg: float = eqx.field(static=True)
    alpha: float = eqx.field(static=True)
    beta: float = eqx.field(static=True)
    needs_V: ClassVar[bool] = True

    def __init__(
        self, E: ArrayLike = 0.0, cc_Mg: float = 1.2, alpha: float = 0.062, beta: float = 3.57
    ):
        self.E = _reversal(E, "E", "MgBlock")
        for name, value in (("cc_Mg", cc_Mg), ("alpha", alpha), ("beta", beta)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"MgBlock: `{name}` must be a float, got {value!r}.")
        if not all(math.isfinite(v) for v in (cc_Mg, alpha, beta)):
            raise ValueError(f"MgBlock: `cc_Mg`, `alpha` and `beta` must be finite, got "
                             f"cc_Mg={cc_Mg}, alpha={alpha}, beta={beta}.")
        if cc_Mg < 0:
            raise ValueError(f"MgBlock: `cc_Mg` must be >= 0, got {cc_Mg}.")
        if not beta > 0:
            raise ValueError(f"MgBlock: `beta` must be > 0, got {beta}.")
        self.cc_Mg = float(cc_Mg)
        self.alpha = float(alpha)
        self.beta = float(beta)

    def block(self, V: Array) -> Array:
        """The unblocked fraction $1 / (1 + [\\mathrm{Mg}^{2+}]/\\beta\\, e^{-\\alpha V})$."""
        return 1.0 / (1.0 + (self.cc_Mg / self.beta) * jnp.exp(-self.alpha * V))

    def __call__(self, g: Array, V: Array) -> Array:
        return g * (_bcast(self.E, g.shape).astype(g.dtype) - V) * self.block(V)
