"""Example 1's figures (phase plane per matrix, M against depth), tables, text and
metrics, from the saved results."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nnde.plotting import pyplot
from nnde.results import Results
from nnde.stage import StageOutputs

from . import MATRICES, STAGE

LABELS = {"K_plus": "K₊ (λ = 2, 2)", "K_minus": "K₋ (λ = −2, −2)", "K_zero": "K₀ (λ = ±i)"}


def phase_plane_figure(traj: pd.DataFrame, matrices, h: float, N: int, higher: str):
    plt = pyplot()
    import seaborn as sns

    colors = sns.color_palette("colorblind", 3)
    fig, axes = plt.subplots(1, len(matrices), figsize=(4.2 * len(matrices), 4.2), squeeze=False)
    for ax, name in zip(axes[0], matrices, strict=True):
        sub = traj[(traj.matrix == name) & (traj.layers == N)]
        lim = max(0.6, float(np.abs(sub[["x1", "x2"]].to_numpy()).max()) * 1.1)
        g = np.linspace(-lim, lim, 17)
        X1, X2 = np.meshgrid(g, g)
        V = np.tanh(np.stack([X1, X2], -1) @ np.asarray(MATRICES[name]))
        ax.quiver(X1, X2, V[..., 0], V[..., 1], color="0.7", angles="xy", width=0.004)
        for c, ex in zip(colors, ["y1", "y2", "y3"], strict=True):
            e = sub[(sub.scheme == "euler") & (sub.example == ex)]
            ax.plot(e.x1, e.x2, "o-", color=c, ms=3, lw=1.2, label=f"{ex}, Euler")
            r = sub[(sub.scheme == higher) & (sub.example == ex)]
            if len(r):
                ax.plot(r.x1, r.x2, "--", color=c, lw=1, alpha=0.8, label=f"{ex}, {higher}")
            ax.plot(e.x1.iloc[0], e.x2.iloc[0], "s", color=c, ms=6, mec="k")
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_title(f"{LABELS[name]}, N = {N}, h = {h}")
        ax.set_xlabel("feature 1")
        ax.set_ylabel("feature 2")
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def growth_figure(stats: pd.DataFrame, h: float):
    plt = pyplot()
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(6, 4))
    sns.lineplot(data=stats, x="layers", y="M", hue="matrix", style="scheme", marker="o", ax=ax)
    ax.set_yscale("log")
    ax.axhline(1, color="k", lw=0.8)
    ax.set_xlabel("number of layers N")
    ax.set_ylabel("stability constant M")
    ax.set_title(f"Measured M = max ‖Y_N(a) − Y_N(b)‖ / ‖Y_0(a) − Y_0(b)‖, h = {h}")
    fig.tight_layout()
    return fig


def write(res: Results, out: StageOutputs) -> None:
    cfg = res.record("config")
    traj, stats = res.frame("trajectories"), res.frame("stability")
    h, higher, N = cfg["h"], cfg["higher"], max(cfg["layers"])
    out.text(
        "Three inputs y₁ = (0.1, 0.1), y₂ = −y₁, y₃ = (0, 0.5) pass through N identical "
        "residual layers Y ← Y + h·tanh(Y K) (rows are examples, zero bias), i.e. N "
        "forward-Euler steps of dY/dt = tanh(Y K). Markers: the ResNet (forward Euler), "
        f"one per layer; dashed: the same ODE with {higher or 'no'} higher-order "
        "step. Grey arrows: the vector field tanh(y K).\n\n"
        "M is the largest ratio of output to input distance over the three input pairs. "
        "‘Exact flow’ is RK4 with 64 sub-steps per layer; ‘linearised’ replaces tanh by "
        "the identity (tanh′(0) = 1)."
    )
    out.csv(STAGE, traj)
    out.csv(f"{STAGE}_stability", stats, show=True, caption="Measured stability constants")
    out.figure("phase_plane", phase_plane_figure(traj, cfg["matrices"], h, N, higher),
               f"Phase plane, N = {N} layers, h = {h}: trajectories of the three "
               "inputs for each matrix.")
    out.figure("stability_constant", growth_figure(stats, h),
               "Measured stability constant M against depth, per matrix and scheme.")
    out.metrics({f"M.{r.matrix}.{r.scheme}.N{r.layers}": r.M
                 for r in stats.itertuples(index=False)})
