"""The β-map: 3-point stencils as reaction, convection and diffusion, and 3×3 kernels as
their nine products (see the package docstring)."""

from __future__ import annotations

import numpy as np
import pandas as pd

NAMES = ("reaction", "convection", "diffusion")
#: derivative order of each basis stencil
ORDER = {"reaction": 0, "convection": 1, "diffusion": 2}
GROUPS = ("reaction", "convection", "diffusion", "higher")


def beta_matrix(h: float) -> np.ndarray:
    """M(h): columns [1 2 1]/4, [−1 0 1]/(2h), [−1 2 −1]/h²."""
    return np.array([[1 / 4, -1 / (2 * h), -1 / h**2],
                     [2 / 4, 0.0, 2 / h**2],
                     [1 / 4, 1 / (2 * h), -1 / h**2]])


def determinant_table(hs) -> pd.DataFrame:
    """det M(h), its closed form −1/h³, and the smallest singular value, per h."""
    rows = []
    for h in hs:
        M = beta_matrix(h)
        s = np.linalg.svd(M, compute_uv=False)
        d = float(np.linalg.det(M))
        rows.append({"h": h, "det": d, "det_closed_form": -1 / h**3,
                     "relative_error": abs(d * h**3 + 1), "sigma_min": float(s[-1]),
                     "condition": float(s[0] / s[-1])})
    return pd.DataFrame(rows)


def decompose(W: np.ndarray, h: float = 1.0) -> np.ndarray:
    """Coefficients B (…, 3, 3) with W = M B Mᵀ for 3×3 kernels W (…, 3, 3)."""
    Minv = np.linalg.inv(beta_matrix(h))
    return Minv @ W @ Minv.T


def group_shares(B: np.ndarray) -> dict:
    """Share of Σβ² per group (reaction, convection, diffusion, higher) over all kernels."""
    sq = (B**2).reshape(-1, 3, 3).sum(axis=0)
    total = float(sq.sum())
    out = dict.fromkeys(GROUPS, 0.0)
    for i, a in enumerate(NAMES):
        for j, b in enumerate(NAMES):
            order = ORDER[a] + ORDER[b]
            g = GROUPS[order] if order <= 2 else "higher"
            if (a, b) == ("convection", "convection"):
                g = "diffusion"  # ∂ₓ∂ᵧ: a second-order (mixed) term
            out[g] += float(sq[i, j]) / total
    return out
