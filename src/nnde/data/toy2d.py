"""The 2-D classification sets of Haber and Ruthotto (2017): swiss roll, concentric
ellipses and MATLAB's ``peaks`` cut into five value bands.

Each generator returns ``(x, y)``: float32 points ``(n, 2)`` and int64 labels ``(n,)``.
:func:`toy2d_split` turns one into a train / validation :class:`~nnde.data.Split` (the
test tensors are the validation ones; the paper uses two sets) and can pad the two
features with zeros to an even width, as the paper does to run 4-wide networks.

The generators follow the descriptions of the authors' own code (facts only):

* swiss roll: angle θ from 0 to 4π; class 0 has radius growing linearly from 0 to 1,
  class 1 from 0.2 to 1.2, point (r cos θ, r sin θ); the points alternate between the
  training (even index) and validation (odd index) sets. The curve is deterministic;
  ``noise`` > 0 adds seeded Gaussian jitter.
* concentric ellipses: class 0 has r ~ U[0, 1], class 1 r ~ U[1, 2], θ ~ U[0, 2π],
  point (r cos θ, 0.4 r sin θ).
* peaks: points uniform on [−3, 3]², label = which of ``classes`` equal bands of the
  value range of ``peaks(x, y)`` over the square the value falls in. The bands are equal
  in value, not in count, so the classes are unbalanced (most points sit in the middle
  band, near 0).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from nnde.errors import ParamError, UnknownNameError

from .digits import Split

#: Range of MATLAB's peaks over [−3, 3]² (min at ≈(0.228, −1.626), max at ≈(−0.009, 1.581)),
#: computed once (cached) on a 2001 × 2001 grid; the bands are cut from this range.
_PEAKS_GRID = 2001


def peaks_function(x, y):
    """MATLAB's ``peaks``: 3(1−x)² e^{−x²−(y+1)²} − 10(x/5 − x³ − y⁵) e^{−x²−y²}
    − e^{−(x+1)²−y²}/3 (numpy arrays, elementwise)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return (
        3 * (1 - x) ** 2 * np.exp(-(x**2) - (y + 1) ** 2)
        - 10 * (x / 5 - x**3 - y**5) * np.exp(-(x**2) - y**2)
        - np.exp(-((x + 1) ** 2) - y**2) / 3
    )


@lru_cache(maxsize=1)
def peaks_range() -> tuple[float, float]:
    """(min, max) of ``peaks`` over [−3, 3]², on a fine grid (computed once)."""
    g = np.linspace(-3.0, 3.0, _PEAKS_GRID)
    z = peaks_function(*np.meshgrid(g, g))
    return float(z.min()), float(z.max())


def peaks_bands(z, classes: int = 5) -> np.ndarray:
    """Band index 0..classes−1 of each value ``z``: the range of ``peaks`` over the square
    cut into ``classes`` equal intervals (the maximum belongs to the top band)."""
    lo, hi = peaks_range()
    edges = np.linspace(lo, hi, classes + 1)[1:-1]
    return np.digitize(np.asarray(z, dtype=float), edges).astype(np.int64)


def _check_n(n, key="n", minimum=1):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise ParamError(key, f"is {n!r}", f"an integer >= {minimum}")
    return int(n)


def swiss_roll(n: int, seed: int = 0, noise: float = 0.0):
    """``n`` points per class on the two interleaved spirals (θ ∈ [0, 4π]); class 0 at
    radius 0 → 1, class 1 at 0.2 → 1.2. Returns (x (2n, 2), y (2n,)), the two classes
    interleaved (x[0::2] class 0, x[1::2] class 1)."""
    n = _check_n(n)
    theta = np.linspace(0.0, 4 * np.pi, n)
    pts, labels = [], []
    for c, (r0, r1) in enumerate(((0.0, 1.0), (0.2, 1.2))):
        r = np.linspace(r0, r1, n)
        pts.append(np.stack([r * np.cos(theta), r * np.sin(theta)], 1))
        labels.append(np.full(n, c))
    x = np.stack(pts, 1).reshape(2 * n, 2)  # interleave class 0 and class 1
    y = np.stack(labels, 1).reshape(2 * n)
    if noise:
        x = x + noise * np.random.default_rng(seed).standard_normal(x.shape)
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.int64))


def ellipses(n: int, seed: int = 0):
    """``n`` points per class: class 0 with r ~ U[0, 1] (inside), class 1 with
    r ~ U[1, 2] (the ring), θ ~ U[0, 2π], point (r cos θ, 0.4 r sin θ)."""
    n = _check_n(n)
    rng = np.random.default_rng(seed)
    r = np.concatenate([rng.uniform(0, 1, n), rng.uniform(1, 2, n)])
    theta = rng.uniform(0, 2 * np.pi, 2 * n)
    x = np.stack([r * np.cos(theta), 0.4 * r * np.sin(theta)], 1)
    y = np.repeat([0, 1], n)
    perm = rng.permutation(2 * n)
    return (torch.from_numpy(x[perm].astype(np.float32)),
            torch.from_numpy(y[perm].astype(np.int64)))


def peaks(n: int, seed: int = 0, classes: int = 5):
    """``n`` points uniform on [−3, 3]², labelled by the band of ``peaks`` they fall in."""
    n = _check_n(n)
    classes = _check_n(classes, "classes", 2)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, (n, 2))
    y = peaks_bands(peaks_function(x[:, 0], x[:, 1]), classes)
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y)


TOY2D = {"swiss_roll": swiss_roll, "ellipses": ellipses, "peaks": peaks}


def pad_features(x: torch.Tensor, width: int | None) -> torch.Tensor:
    """Append zero features so that x has ``width`` columns (None: unchanged)."""
    if width is None:
        return x
    if isinstance(width, bool) or not isinstance(width, int) or width < x.shape[1]:
        raise ParamError("pad_to", f"is {width!r}", f"an integer >= {x.shape[1]}")
    return torch.cat([x, x.new_zeros(x.shape[0], width - x.shape[1])], dim=1)


def toy2d_split(name: str, n_train: int, n_val: int, seed: int = 0,
                pad_to: int | None = None, noise: float = 0.0) -> Split:
    """Train / validation sets of the 2-D set ``name`` (``TOY2D``), optionally padded with
    zero features to ``pad_to`` columns. The swiss roll takes every other point of one
    curve for training and the rest for validation, as the authors do (so ``n_train``
    must equal ``n_val``, both even); the others draw ``n_train`` and ``n_val`` points
    independently (seeds ``seed`` and ``seed + 1``). The test tensors are the validation
    ones."""
    if name not in TOY2D:
        raise UnknownNameError("2-D data set", name, list(TOY2D))
    n_train, n_val = _check_n(n_train, "n_train", 2), _check_n(n_val, "n_val", 2)
    if name == "swiss_roll":
        if n_train != n_val or n_train % 2:
            raise ParamError("n_val", f"is {n_val} with n_train = {n_train}",
                             "n_val = n_train, even (odd/even points of one curve)")
        x, y = swiss_roll(n_train, seed, noise)  # 2 n_train points, classes interleaved
        # points 4i, 4i+1 (both classes at one angle) train; 4i+2, 4i+3 validate
        idx = np.arange(len(x))
        tr = torch.from_numpy(idx[(idx // 2) % 2 == 0])
        va = torch.from_numpy(idx[(idx // 2) % 2 == 1])
        xt, yt, xv, yv = x[tr], y[tr], x[va], y[va]
    elif name == "ellipses":
        xt, yt = ellipses(n_train // 2, seed)
        xv, yv = ellipses(n_val // 2, seed + 1)
    else:
        xt, yt = peaks(n_train, seed)
        xv, yv = peaks(n_val, seed + 1)
    xt, xv = pad_features(xt, pad_to), pad_features(xv, pad_to)
    return Split(xt, yt, xv, yv, xv, yv)
