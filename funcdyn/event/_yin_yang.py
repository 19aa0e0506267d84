"""The Yin-Yang classification dataset (Kriener et al. 2022), generated from its
definition."""

import numpy as np


def _yin_yang_class(x: np.ndarray, y: np.ndarray, r_big: float, r_small: float) -> np.ndarray:
    d_right = np.hypot(x - 1.5 * r_big, y - r_big)
    d_left = np.hypot(x - 0.5 * r_big, y - r_big)
    dots = (d_right < r_small) | (d_left < r_small)
    yin = (d_left <= 0.5 * r_big) | ((y > r_big) & (d_right > 0.5 * r_big))
    return np.where(dots, 2, yin.astype(np.int64))


def yin_yang(n: int, *, seed: int, r_big: float = 0.5, r_small: float = 0.1):
    """`n` points of the Yin-Yang dataset: `(xy, label)`.

    Points are uniform in the disc of radius `r_big` centred at `(r_big, r_big)` (so
    coordinates lie in `[0, 1]` for the default `r_big = 0.5`); each sample first draws
    its class uniformly among yin (1), yang (0) and the two dots (2), then a point of
    that class by rejection, so the classes are balanced in expectation. A classifier
    that only reads one coordinate is poor (the classes are not linearly separable).

    **Arguments:** `n` (>= 1); `seed` (an int: the train and test sets of the example
    use different seeds); the radii.

    **Returns:** `xy` `(n, 2)` float64 and `label` `(n,)` int64, numpy arrays.
    """
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"yin_yang: `n` must be an int >= 1, got {n!r}.")
    if not 0 < r_small < 0.5 * r_big:
        raise ValueError(
            f"yin_yang: need 0 < r_small < r_big / 2, got r_small={r_small}, r_big={r_big}."
        )
    rng = np.random.default_rng(seed)
    wanted = rng.integers(0, 3, size=n)
    xy = np.empty((n, 2))
    todo = np.arange(n)
    while todo.size:
        cand = rng.uniform(0.0, 2.0 * r_big, size=(todo.size, 2))
        inside = np.hypot(cand[:, 0] - r_big, cand[:, 1] - r_big) <= r_big
        cls = _yin_yang_class(cand[:, 0], cand[:, 1], r_big, r_small)
        ok = inside & (cls == wanted[todo])
        xy[todo[ok]] = cand[ok]
        todo = todo[~ok]
    return xy, wanted.astype(np.int64)
