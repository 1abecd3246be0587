"""Figures, tables, section text and metrics of the polynomial stage, from its results."""

from __future__ import annotations

import pandas as pd

from nnde.plotting import pyplot
from nnde.results import Results
from nnde.stage import StageOutputs

from . import PAPER, STAGE
from .summary import at, summarise

COLORS = {"legendre": "#0072B2", "monomial": "#D55E00"}


def curves_figure(summ: pd.DataFrame, n: int, seeds: int):
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(10.5, 7.5))
    panels = [
        ("test_risk", "test risk (MSE vs the noise-free target)"),
        ("train_risk", "training risk (MSE)"),
        ("coef_norm", "coefficient norm ‖w‖₂"),
        ("cond", "condition number of the design matrix"),
    ]
    for ax, (col, label) in zip(axes.flat, panels, strict=True):
        for basis in sorted(set(summ.basis)):
            s = summ[summ.basis == basis].sort_values("M")
            ax.plot(s.M, s[f"{col}_median"], color=COLORS[basis], lw=1.5, label=basis)
            ax.fill_between(
                s.M, s[f"{col}_q25"], s[f"{col}_q75"], color=COLORS[basis], alpha=0.2, lw=0
            )
        ax.axvline(n, color="k", ls="--", lw=0.9)
        ax.set_yscale("log")
        ax.set_xlabel("number of parameters M")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, which="major")
    axes[0, 0].legend(title=f"median, IQR band ({seeds} seeds)", fontsize=8, title_fontsize=8)
    axes[0, 0].text(n, axes[0, 0].get_ylim()[1], " M = n", va="top", fontsize=8)
    fig.suptitle(
        f"Polynomial double descent: n = {n} noisy samples, least squares below "
        "M = n, minimum-norm above",
        fontsize=11,
    )
    fig.tight_layout()
    return fig


def fits_figure(curves: pd.DataFrame, pts: pd.DataFrame, target: pd.DataFrame,
                panels: list[int], n: int):
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    lim = (-2.5, 2.5)
    for ax, M in zip(axes[0], panels, strict=True):
        ax.plot(target.x, target.f, color="0.4", lw=1.2, ls=":", label="target f")
        for basis in sorted(set(curves.basis)):
            c = curves[(curves.basis == basis) & (curves.M == M)]
            ax.plot(
                c.x,
                c.y.clip(lim[0] * 4, lim[1] * 4),
                color=COLORS[basis],
                lw=1.4,
                label=basis,
                ls="-" if basis == "legendre" else "--",
            )
        ax.plot(pts.x, pts.y, "ko", ms=4, label="data")
        ax.set_ylim(*lim)
        regime = "least squares" if M < n else ("interpolation" if M == n else "min-norm")
        ax.set_title(f"M = {M} ({regime}), n = {n}")
        ax.set_xlabel("x")
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def write(res: Results, out: StageOutputs) -> None:
    cfg = res.record("config")
    out.params(cfg)  # the checked config (with M_max), as the report showed it before
    n, seeds = cfg["n"], cfg["repeats"]
    df = res.frame("sweep")
    summ = summarise(df)
    curves = res.frame("fits")
    out.text(
        f"n = {n} points x uniform on [−1, 1], y = sin(πx) + 0.3·cos(3πx) + noise "
        f"(standard deviation {cfg['noise']}), {seeds} seeds. For each M = 1 … "
        f"{cfg['M_max']} the fit is numpy.linalg.lstsq on the n × M design matrix: "
        "least squares below the threshold M = n, the minimum-norm interpolant at and "
        "above it. Test risk is the mean squared error against the noise-free target on "
        f"{cfg['test_points']} grid points. Curves: median over seeds; band: "
        "inter-quartile range.\n\n"
        "Legendre and monomial bases span the same polynomials, so below the threshold "
        "their fits coincide (up to rounding); above it they pick different interpolants, "
        "because the minimum-norm solution depends on the basis."
    )
    out.csv(STAGE, df)
    key = [n // 2, n, 2 * n, cfg["M_max"]]
    show = summ[summ.M.isin(key)][
        ["basis", "M", "test_risk_median", "train_risk_median", "coef_norm_median",
         "cond_median"]
    ]
    out.csv(f"{STAGE}_summary", summ, show=False)
    out.table(
        show,
        caption="Medians over seeds at M = n/2, n, 2n and the largest M",
        source=f"data/{PAPER}/{STAGE}_summary.csv",
    )
    out.csv(f"{STAGE}_fits", curves)
    out.figure(
        "curves",
        curves_figure(summ, n, seeds),
        "Test risk, training risk, coefficient norm and condition number against "
        "the number of parameters M; the dashed line marks M = n.",
    )
    out.figure(
        "fits",
        fits_figure(curves, res.frame("points"), res.frame("target"), cfg["fit_panels"], n),
        f"The fits for M = {', '.join(map(str, cfg['fit_panels']))} on one seed "
        f"(seed {cfg['seed']}), with the data points and the target.",
    )
    metrics = {}
    for b in cfg["bases"]:
        s = summ[summ.basis == b]
        i = int(s.test_risk_median.to_numpy().argmax())
        metrics[f"{b}.peak_M"] = int(s.M.iloc[i])
        metrics[f"{b}.peak_test_risk"] = float(s.test_risk_median.iloc[i])
        for M in key:
            metrics[f"{b}.test_risk.M{M}"] = at(summ, b, M, "test_risk_median")
            metrics[f"{b}.cond.M{M}"] = at(summ, b, M, "cond_median")
    out.metrics(metrics)
