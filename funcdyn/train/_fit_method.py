"""The interface of offline readout solvers."""

import abc

import equinox as eqx
from jaxtyping import Array


class OfflineMethod(eqx.Module):
    """Base class of the offline solvers used by [`funcdyn.train.OfflineTrainer`][].

    A solver maps the readout's recorded inputs `X`, shape `(num_samples, num_in)`, and
    targets `Y`, shape `(num_samples, num_out)`, to the readout's weights. Subclasses
    keep their hyperparameters as (static) fields and implement `__call__`; it is traced
    under `jit`, so it must use fixed shapes and fixed iteration counts.

    ```python
    class MyRidge(funcdyn.train.OfflineMethod):
        alpha: float = eqx.field(static=True, default=1e-6)

        def __call__(self, X, Y, *, bias):
            return funcdyn.train.ridge_regression(X, Y, self.alpha, bias=bias)
    ```
    """

    @abc.abstractmethod
    def __call__(self, X: Array, Y: Array, *, bias: bool) -> tuple[Array, Array | None]:
        """**Arguments:** `X` `(num_samples, num_in)`, `Y` `(num_samples, num_out)`,
        `bias` (whether the readout has a bias to fit).

        **Returns:** `(W, b)`: `W` of shape `(num_in, num_out)` and `b` of shape
        `(num_out,)`, or `None` when `bias` is `False`."""
