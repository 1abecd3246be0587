"""Ruthotto & Haber (2020), Section 2: convolutions are differential operators.

A 3-point stencil is a combination of reaction, convection and diffusion,

    w = β₁ [1 2 1]/4 + β₂ [−1 0 1]/(2h) + β₃ [−1 2 −1]/h²,

i.e. w = M(h) β with the three stencils as the columns of M(h). det M(h) = −1/h³, so the
map β ↦ w is non-singular for every h > 0: any 3-point stencil *is* such an operator,
and vice versa. A 3×3 kernel is W = M B Mᵀ (rows: vertical, columns: horizontal
direction), so B = M⁻¹ W M⁻ᵀ gives its nine coefficients β_ij of the products
(reaction | convection | diffusion) ⊗ (reaction | convection | diffusion).

This stage checks the determinant numerically over many decades of h, and decomposes
every 3×3 kernel of the trained ``table1`` networks (and of their initialisation) at
h = 1, grouping the coefficients by total derivative order: reaction (order 0),
convection (order 1), diffusion (order 2: ∂ₓₓ, ∂ᵧᵧ, ∂ₓ∂ᵧ) and higher (orders 3–4). The
share of each group is Σβ² in the group over Σβ² — a convention (the basis is not
orthogonal), stated here so the numbers are read as such. Random kernels already spread
Σβ² over every group, so the claim about trained kernels compares each kernel with its own
initialisation: how much of its Σβ² training moved from one group to another.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from nnde.errors import ParamError
from nnde.stage import (
    StageOutputs,
    check,
    fmt,
    get_choice,
    get_number,
    load_params,
    run_main,
)

PAPER, STAGE = "ruthotto_haber", "stencils"
#: Every claim id :func:`make_claims` can produce.
CLAIM_IDS = ("beta_map_nonsingular", "trained_kernels_use_all_three")
WEIGHTS = Path("data/ruthotto_haber/table1_weights.npz")
NAMES = ("reaction", "convection", "diffusion")
#: derivative order of each basis stencil
ORDER = {"reaction": 0, "convection": 1, "diffusion": 2}
GROUPS = ("reaction", "convection", "diffusion", "higher")
#: Each of reaction, convection and diffusion holds at least this share of Σβ² (trained).
MIN_SHARE = 0.05
#: Training "learns the operator" when a kernel's mix moves by at least this much: the mean
#: over kernels of the total-variation distance ½ Σ_g |share_trained − share_initial|
#: between its trained and its initial group shares, i.e. the fraction of Σβ² that moved
#: from one group to another (partly: half of it).
MIN_SHIFT = 0.10


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


def kernel_shares(models: dict, weights: str) -> pd.DataFrame:
    """Group shares per (variant, stage, step) of the PDE kernels of ``models``."""
    rows = []
    for v, m in models.items():
        for k, blk in enumerate(m.blocks):
            fields = list(blk.fields) + list(getattr(blk, "fields2", []))
            for j, f in enumerate(fields):
                B = decompose(f.K.detach().double().numpy())
                rows.append({"variant": v, "weights": weights, "stage": k, "field": j,
                             **group_shares(B)})
    return pd.DataFrame(rows)


def share_shift(shares: pd.DataFrame) -> pd.Series:
    """Per kernel (variant, stage, field): the total-variation distance
    ½ Σ_g |share_trained − share_initial| over the four groups between the trained kernel
    and the same kernel at initialisation (0: the same mix, 1: no group in common)."""
    key = ["variant", "stage", "field"]
    tr = shares[shares.weights == "trained"].set_index(key)[list(GROUPS)]
    init = shares[shares.weights == "initial"].set_index(key)[list(GROUPS)]
    both = tr.index.intersection(init.index)
    return 0.5 * (tr.loc[both] - init.loc[both]).abs().sum(axis=1)


def make_claims(det: pd.DataFrame, shares: pd.DataFrame | None):
    claims = [check(
        "beta_map_nonsingular",
        "The map β ↦ 3-point stencil β₁[1 2 1]/4 + β₂[−1 0 1]/(2h) + β₃[−1 2 −1]/h² is "
        "non-singular for every h > 0",
        paper="non-singular for any h > 0",
        ours=f"det M(h) = −1/h³ to relative error {fmt(float(det.relative_error.max()), 2)} "
        f"over h ∈ [{fmt(float(det.h.min()), 2)}, {fmt(float(det.h.max()), 2)}] "
        f"({len(det)} values); smallest singular value > 0 at every h "
        f"(min {fmt(float(det.sigma_min.min()), 3)})",
        rule="det ≠ 0 and |det·h³ + 1| ≤ 1e-9 at every h",
        passed=bool((det.det != 0).all() and (det.sigma_min > 0).all()
                    and det.relative_error.max() <= 1e-9),
        note="A check: det M(h) = −1/h³ is an identity; computing it tests our β-map.",
        kind="check",
    )]
    if shares is not None and len(shares):
        tr = shares[shares.weights == "trained"][list(GROUPS)].mean()
        init = shares[shares.weights == "initial"][list(GROUPS)].mean()
        low = float(tr[["reaction", "convection", "diffusion"]].min())
        shift = share_shift(shares)
        moved = float(shift.mean()) if len(shift) else float("nan")
        all_three = low >= MIN_SHARE
        claims.append(check(
            "trained_kernels_use_all_three",
            "Training learns the operator (§2, convolutions as differential operators: the "
            "coefficients β of reaction, convection and diffusion are what the network "
            "learns): the trained 3×3 kernels are a different mix of the three than at "
            "initialisation, and still combine all three",
            paper="§2: a 3×3 convolution is a combination of reaction, convection and "
            "diffusion whose coefficients β are learned from data (θ ↦ β non-singular)",
            ours=f"mean over {len(shift)} kernels of the mix moved by training (TV distance "
            f"of the group shares, trained vs initial): {fmt(moved, 3)}; mean share of Σβ², "
            "trained: " + ", ".join(f"{g} {fmt(tr[g], 3)}" for g in GROUPS)
            + "; at initialisation: " + ", ".join(f"{g} {fmt(init[g], 3)}" for g in GROUPS),
            rule=f"mean TV distance between each kernel's trained and initial shares ≥ "
            f"{MIN_SHIFT:g} (partly: ≥ {MIN_SHIFT / 2:g}), and each of reaction, "
            f"convection, diffusion ≥ {MIN_SHARE:.0%} of Σβ² after training",
            passed=all_three and moved >= MIN_SHIFT,
            partly=all_three and moved >= MIN_SHIFT / 2,
            note="Untrained kernels already hold every group (random kernels spread Σβ² over "
            "all nine products), so the claim rests on the change training makes, kernel by "
            "kernel. Shares depend on the (non-orthogonal) basis and on h = 1. Training "
            f"moved the mean shares by at most {fmt(float((tr - init).abs().max()), 2)}.",
        ))
    return claims


def figure(det: pd.DataFrame, shares: pd.DataFrame | None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

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


def _table1():
    spec = importlib.util.spec_from_file_location(
        "rh_table1", Path(__file__).resolve().parent / "table1.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def initial_models(meta: dict) -> dict:
    """The networks as table1 initialised them (same seed, same construction order):
    the saved weights are those of the run seeded ``weights_seed`` (older weight files,
    without it, were trained from ``seed``)."""
    from nnde.models.ruthotto_haber import PDECNN

    out = {}
    for v in meta["variants"]:
        torch.manual_seed(meta.get("weights_seed", meta["seed"]))
        out[v] = PDECNN(v, meta["widths"], meta["in_channels"], meta["num_classes"],
                        steps=meta["steps"], h=meta["h"], box=meta["box"]).eval()
    return out


def read_config(p: dict) -> dict:
    sec = f"{PAPER}.{STAGE}"
    cfg = {
        "h_min": get_number(p, "h_min", sec, gt=0),
        "h_max": get_number(p, "h_max", sec, gt=0),
        "h_points": get_number(p, "h_points", sec, kind=int, gt=1),
        "trained": get_choice(p, "trained", (True, False), sec),
    }
    if cfg["h_max"] <= cfg["h_min"]:
        raise ParamError(f"{sec}.h_max", f"is {cfg['h_max']} <= h_min = {cfg['h_min']}")
    return cfg


def main() -> None:
    cfg = read_config(load_params(f"{PAPER}.{STAGE}"))
    hs = np.geomspace(cfg["h_min"], cfg["h_max"], cfg["h_points"])
    det = determinant_table(hs)
    shares = None
    if cfg["trained"]:
        models, meta = _table1().load_trained(WEIGHTS)
        shares = pd.concat([kernel_shares(initial_models(meta), "initial"),
                            kernel_shares(models, "trained")], ignore_index=True)
    claims = make_claims(det, shares)
    with StageOutputs(PAPER, STAGE, "Convolutions as differential operators: the β-map") as out:
        out.params(cfg)
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
        out.claims(claims)


if __name__ == "__main__":
    run_main(main, f"{PAPER}.{STAGE}")
