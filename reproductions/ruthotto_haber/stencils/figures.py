"""The stencils stage's figure, tables, text and metrics, from the results alone."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nnde.plotting import pyplot
from nnde.results import Results
from nnde.stage import StageOutputs

from . import STAGE
from .betamap import GROUPS


def figure(det: pd.DataFrame, shares: pd.DataFrame | None):
    import seaborn as sns

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1, 1.6]})
    ax = axes[0]
    ax.loglog(det.h, np.abs(det.det), "o", ms=3, label="|det M(h)| (computed)")
    ax.loglog(det.h, 1 / det.h**3, "-", lw=1, label="1/h³")
    ax.loglog(det.h, det.sigma_min, "--", lw=1, label="σ_min(M(h))")
    ax.set_xlabel("h")
    ax.set_title("β ↦ stencil is non-singular for every h > 0")
    ax.legend(fontsize=8)
    ax = axes[1]
    if shares is not None and len(shares):
        g = shares.groupby(["weights", "variant", "stage"], sort=False)[list(GROUPS)].mean()
        labels = [f"{v[:4]}·{s + 1}\n{w[:4]}" for w, v, s in g.index]
        bottom = np.zeros(len(g))
        for c, col in zip(sns.color_palette("colorblind", 4), GROUPS, strict=True):
            ax.bar(range(len(g)), g[col].to_numpy(), bottom=bottom, color=c, label=col)
            bottom += g[col].to_numpy()
        ax.set_xticks(range(len(g)), labels, fontsize=6)
        ax.set_ylabel("share of Σβ²")
        ax.set_title("3×3 kernels per block (variant · stage): initial vs trained")
        ax.legend(fontsize=7, loc="lower right")
    else:
        ax.axis("off")
    fig.tight_layout()
    return fig


def write(res: Results, out: StageOutputs) -> None:
    det = res.frame("determinant")
    shares = res.frame("shares") if res.has("shares") else None
    out.text(
        "w = β₁[1 2 1]/4 + β₂[−1 0 1]/(2h) + β₃[−1 2 −1]/h² is w = M(h)β with "
        "det M(h) = −1/h³ ≠ 0: every 3-point stencil is a unique combination of "
        "reaction, convection and diffusion, at every grid spacing h. In 2-D a 3×3 "
        "kernel is W = M B Mᵀ; we decompose each PDE kernel of the table1 networks "
        "(h = 1) and group the nine coefficients by derivative order. Share = Σβ² in "
        "the group / Σβ² (the basis is not orthogonal: a convention)."
    )
    out.csv(f"{STAGE}_determinant", det)
    if shares is not None:
        summ = (shares.groupby(["variant", "weights", "stage"], sort=False)[list(GROUPS)]
                .mean().reset_index())
        out.csv(f"{STAGE}_shares", shares)
        out.csv(f"{STAGE}_shares_summary", summ, show=True,
                caption="Mean share of Σβ² per group, per block (stage)")
    out.figure("beta_map", figure(det, shares),
               "Left: the determinant of the β-map against h. Right: how much reaction, "
               "convection, diffusion and higher-order terms the kernels of each block "
               "hold, at initialisation and after training.")
    m = {"max_relative_det_error": float(det.relative_error.max())}
    if shares is not None:
        for w, g in shares.groupby("weights"):
            for col in GROUPS:
                m[f"share.{w}.{col}"] = float(g[col].mean())
    out.metrics(m)
