"""Random initialisers with fixed parameters: normal, truncated normal, uniform."""

from collections.abc import Sequence

import jax
from jaxtyping import Array

from ._base import Initializer, _dtype, _key, _shape


def _mean_and_scale(who: str, args: tuple, mean, scale) -> tuple[float, float]:
    if len(args) == 1 and mean is None and scale is None:
        raise TypeError(
            f"{who}({args[0]!r}) is ambiguous: funcdyn follows BrainPy's argument order, "
            f"{who}(mean, scale), so a single number would be the *mean* with a standard "
            f"deviation of 1, while in JAX (jax.nn.initializers.normal) it is the standard "
            f"deviation. Write {who}(scale={args[0]!r}) for a standard deviation, "
            f"{who}(mean={args[0]!r}) for a mean, or pass both."
        )
    if len(args) > 2:
        raise TypeError(f"{who} takes at most two positional arguments (mean, scale).")
    if len(args) >= 1 and mean is not None:
        raise TypeError(f"{who}: `mean` given both by position and by keyword.")
    if len(args) == 2 and scale is not None:
        raise TypeError(f"{who}: `scale` given both by position and by keyword.")
    positional = dict(zip(("mean", "scale"), args))
    mean = positional.get("mean", 0.0 if mean is None else mean)
    scale = positional.get("scale", 1.0 if scale is None else scale)
    return mean, scale


class Normal(Initializer):
    """Normal with mean `mean` and standard deviation `scale`:
    $w \\sim \\mathcal{N}(\\text{mean}, \\text{scale}^2)$.

    !!! warning "Argument order: `Normal(mean, scale)`, as in BrainPy"

        The first positional argument is the **mean**, not the standard deviation (JAX's
        `jax.nn.initializers.normal(stddev)` takes the standard deviation first). A single
        positional number is therefore refused with a `TypeError`: write
        `Normal(scale=0.01)` for a standard deviation of 0.01, `Normal(mean=0.01)` for a
        mean, or both, `Normal(0.0, 0.01)`. The repr always shows both.

    **Arguments:**

    - `mean`: the mean (default 0).
    - `scale`: the standard deviation, >= 0 (default 1).

    ```python
    W = funcdyn.init.Normal(scale=0.1)(key, (3, 4))   # N(0, 0.1^2)
    ```
    """

    mean: float
    scale: float

    def __init__(self, *args: float, mean: float | None = None, scale: float | None = None):
        self.mean, self.scale = _mean_and_scale("Normal", args, mean, scale)

    def __check_init__(self):
        if not self.scale >= 0:
            raise ValueError(f"Normal: `scale` must be >= 0, got {self.scale}.")

    def __repr__(self) -> str:
        return f"Normal(mean={self.mean!r}, scale={self.scale!r})"

    def __call__(self, key, shape: Sequence[int], dtype=None) -> Array:
        z = jax.random.normal(_key(key, "Normal"), _shape(shape), _dtype(dtype))
        return self.mean + self.scale * z


class TruncatedNormal(Initializer):
    """Normal with mean `mean` and standard deviation `scale`, truncated to
    `[mean + lower * scale, mean + upper * scale]`.

    The argument order is BrainPy's, `(mean, scale)`, as for [`funcdyn.init.Normal`][]: a
    single positional number is refused as ambiguous; pass `scale=` or `mean=`.
    """

    mean: float
    scale: float
    lower: float
    upper: float

    def __init__(
        self,
        *args: float,
        mean: float | None = None,
        scale: float | None = None,
        lower: float = -2.0,
        upper: float = 2.0,
    ):
        if len(args) > 4:
            raise TypeError(
                "TruncatedNormal takes at most four positional arguments (mean, scale, lower, "
                "upper)."
            )
        bounds = args[2:]
        if len(bounds) >= 1:
            lower = bounds[0]
        if len(bounds) == 2:
            upper = bounds[1]
        self.mean, self.scale = _mean_and_scale("TruncatedNormal", args[:2], mean, scale)
        self.lower, self.upper = lower, upper

    def __check_init__(self):
        if not self.scale >= 0:
            raise ValueError(f"TruncatedNormal: `scale` must be >= 0, got {self.scale}.")
        if not self.lower < self.upper:
            raise ValueError("TruncatedNormal: `lower` must be below `upper`.")

    def __repr__(self) -> str:
        return (
            f"TruncatedNormal(mean={self.mean!r}, scale={self.scale!r}, lower={self.lower!r}, "
            f"upper={self.upper!r})"
        )

    def __call__(self, key, shape: Sequence[int], dtype=None) -> Array:
        z = jax.random.truncated_normal(
            _key(key, "TruncatedNormal"), self.lower, self.upper, _shape(shape), _dtype(dtype)
        )
        return self.mean + self.scale * z


class Uniform(Initializer):
    """Uniform on `[min_val, max_val)`."""

    min_val: float = 0.0
    max_val: float = 1.0

    def __check_init__(self):
        if not self.min_val < self.max_val:
            raise ValueError(
                f"Uniform: `min_val` ({self.min_val}) must be below `max_val` ({self.max_val})."
            )

    def __call__(self, key, shape: Sequence[int], dtype=None) -> Array:
        return jax.random.uniform(
            _key(key, "Uniform"),
            _shape(shape),
            _dtype(dtype),
            minval=self.min_val,
            maxval=self.max_val,
        )
