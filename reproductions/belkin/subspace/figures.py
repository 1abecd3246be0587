"""Figures, tables, section text and metrics of the sub-space stage, from its results."""

from __future__ import annotations

import pandas as pd

from nnde.plotting import pyplot
from nnde.results import Results
from nnde.stage import StageOutputs

from . import STAGE
from .summary import ridge_summary


def gd_figure(traj: pd.DataFrame, M: int, n: int):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    styles = [
        ("legendre", "zero", "dist_min_norm", "#0072B2", "-", "from 0: ‖w_t − w*‖"),
        ("legendre", "random", "dist_min_norm", "#D55E00", "--", "from w₀: ‖w_t − w*‖"),
        ("legendre", "random", "dist_limit", "#009E73", "-", "from w₀: ‖w_t − (w* + P_null w₀)‖"),
        ("monomial", "zero", "dist_min_norm", "0.5", ":", "monomial basis, from 0: ‖w_t − w*‖"),
    ]
    for basis, start, col, color, ls, label in styles:
        sub = traj[(traj.basis == basis) & (traj.start == start) & (traj.iteration > 0)]
        for i, (_, g) in enumerate(sub.groupby("seed")):
            ax.plot(
                g.iteration, g[col], color=color, ls=ls, lw=1.3, label=label if i == 0 else None
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("gradient-descent iteration t")
    ax.set_ylabel("distance")
    ax.set_title(
        f"Gradient descent on ½‖Aw − y‖², M = {M} > n = {n} (one line per seed)", fontsize=10
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def ridge_figure(summ: pd.DataFrame, n: int):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    lams = sorted(set(summ.lam))
    cmap = plt.get_cmap("viridis")
    for i, lam in enumerate(lams):
        s = summ[summ.lam == lam].sort_values("M")
        color = "k" if lam == 0 else cmap(i / max(1, len(lams) - 1) * 0.85)
        label = "λ = 0 (min-norm)" if lam == 0 else f"λ = {lam:g}"
        ax.plot(s.M, s["median"], color=color, lw=1.5, label=label)
        ax.fill_between(s.M, s.q25, s.q75, color=color, alpha=0.12, lw=0)
    ax.axvline(n, color="k", ls="--", lw=0.9)
    ax.set_yscale("log")
    ax.set_xlabel("number of parameters M (Legendre basis)")
    ax.set_ylabel("test risk (median, IQR band)")
    ax.set_title("Ridge regression: argmin ‖Aw − y‖² + λ‖w‖²", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def write(res: Results, out: StageOutputs) -> None:
    cfg = res.record("config")
    out.params(cfg)  # the checked config (with gd_M, M_max), as the report showed it before
    n = cfg["n"]
    traj, gd_sum, ridge = res.frame("gd"), res.frame("gd_summary"), res.frame("ridge")
    rsum = ridge_summary(ridge)
    out.text(
        f"The polynomial problem of the polynomial section (n = {n}, same target, noise and "
        f"seeds) in the Legendre basis with M = {cfg['gd_M']} > n coefficients. "
        "Gradient descent on ½‖Aw − y‖² with step 1/σ_max(A)², "
        "as many iterations as its contraction bound (1 − 1/κ²)^t needs to get within "
        f"{cfg.get('gd_tol', 1e-6) / 100:g} ‖w*‖ of its limit (the monomial contrast: "
        f"{cfg['gd_iterations']} iterations), from w₀ = 0 and from a random "
        f"w₀ ~ N(0, {cfg['init_scale']:g}² I). w* = pinv(A) y is the minimum-norm "
        "interpolant, P_null = I − pinv(A) A the projector onto the null space of A. "
        "Gradients Aᵀ(Aw − y) lie in the row space of A, so the null-space part of the "
        "start never changes.\n\n"
        "Ridge: argmin ‖Aw − y‖² + λ‖w‖² (via the SVD) for "
        + ", ".join(f"λ = {lam:g}" for lam in cfg["lambdas"])
        + f", against λ = 0 (the minimum-norm fit), {cfg['repeats']} seeds."
    )
    out.csv(f"{STAGE}_gd", traj)
    out.csv(
        f"{STAGE}_gd_summary",
        gd_sum,
        show=True,
        caption="Gradient descent: final distances (absolute and relative to ‖w*‖)",
    )
    out.csv(f"{STAGE}_ridge", ridge)
    out.figure(
        "gd",
        gd_figure(traj, cfg["gd_M"], n),
        "Distance of the gradient-descent iterates to the minimum-norm interpolant "
        "w* and to w* + P_null w₀. In the monomial basis (grey) the same iteration "
        "is slowed by the condition number.",
    )
    out.figure(
        "ridge",
        ridge_figure(rsum, n),
        "Test risk against M for ridge regularisation of several strengths λ; "
        "the dashed line marks M = n.",
    )
    peaks = rsum.groupby("lam")["median"].max()
    leg = gd_sum[gd_sum.basis == "legendre"]
    mono = gd_sum[gd_sum.basis == "monomial"]
    out.metrics({
        "gd.zero.max_rel_dist_min_norm": float(
            leg[leg.start == "zero"].final_rel_dist_min_norm.max()),
        "gd.random.max_rel_dist_limit": float(
            leg[leg.start == "random"].final_rel_dist_limit.max()),
        "gd.random.min_rel_dist_min_norm": float(
            leg[leg.start == "random"].final_rel_dist_min_norm.min()),
        "gd.monomial.zero.min_rel_dist_min_norm": float(mono.final_rel_dist_min_norm.min()),
        **{f"ridge.peak_test_risk.lam{lam:g}": float(v) for lam, v in peaks.items()},
    })
