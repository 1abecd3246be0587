"""scikit-learn's bundled 8×8 digits (1797 images), with a fixed, seeded split.

This is the data set of every ``small`` profile: it ships with scikit-learn, so nothing
is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Split:
    """Train / validation / test tensors. Images are ``(N, C, H, W)`` float32 in [0, 1],
    labels int64."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def num_classes(self) -> int:
        return int(self.y_train.max()) + 1

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def stratified_split(y: np.ndarray, seed: int, val_frac: float, test_frac: float):
    """Indices (train, val, test), stratified by class, reproducible from ``seed``."""
    if not (0 <= val_frac < 1 and 0 < test_frac < 1 and val_frac + test_frac < 1):
        raise ValueError(
            f"val_frac={val_frac}, test_frac={test_frac}: need 0 <= val_frac, 0 < test_frac "
            "and val_frac + test_frac < 1"
        )
    rng = np.random.default_rng(seed)
    parts = ([], [], [])
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test = int(round(test_frac * len(idx)))
        n_val = int(round(val_frac * len(idx)))
        parts[2].append(idx[:n_test])
        parts[1].append(idx[n_test : n_test + n_val])
        parts[0].append(idx[n_test + n_val :])
    return tuple(np.sort(np.concatenate(p)) for p in parts)


def digits_split(seed: int = 0, val_frac: float = 0.2, test_frac: float = 0.2) -> Split:
    """The 8×8 digits as ``(N, 1, 8, 8)`` images in [0, 1], split by class and seed."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.from_numpy((d.images / 16.0).astype(np.float32)).unsqueeze(1)
    y = torch.from_numpy(d.target.astype(np.int64))
    tr, va, te = stratified_split(d.target, seed, val_frac, test_frac)
    tr, va, te = (torch.from_numpy(i) for i in (tr, va, te))
    return Split(x[tr], y[tr], x[va], y[va], x[te], y[te])
