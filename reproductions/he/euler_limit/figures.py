"""The Euler-limit stage's report: the convergence and trajectory figures, the section
text, the distance table and the slopes, from the saved results alone."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nnde.plotting import pyplot
from nnde.results import Results
from nnde.stage import StageOutputs

from . import STAGE
from .slopes import fit_slope


def error_figure(df: pd.DataFrame, slope_df: pd.DataFrame):
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4))
    ax = axes[0]
    tl = df[df.alpha == "T/L"]
    for _, g in tl.groupby("seed"):
        ax.loglog(g.layers, g.error_vs_flow, "o-", color="C0", alpha=0.35, ms=3, lw=1)
    m = tl.groupby("layers").error_vs_flow.mean()
    slope = fit_slope(m.index, m.values)
    c = np.exp(np.polyfit(np.log(m.index.to_numpy(float)), np.log(m.values), 1)[1])
    Ls = m.index.to_numpy(float)
    ax.loglog(Ls, m.values, "o", color="C0", ms=6, label="α = T/L, mean over seeds")
    per_seed = ", ".join(f"{s:.2f}" for s in slope_df.slope)
    ax.loglog(Ls, c * Ls**slope, "-", color="k", lw=1,
              label=f"fit: slope {slope:.3f} (seeds {per_seed})")
    ax.loglog(Ls, m.values[0] * Ls[0] / Ls, ":", color="0.5", label="slope −1 (forward Euler)")
    ax.set_xlabel("layers L")
    ax.set_ylabel("‖y_L − y(T)‖ (RMS over inputs)")
    ax.set_title("α = T/L: the net converges to the ODE flow")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax = axes[1]
    for name, col in (("T/L", "C0"), ("1", "C3")):
        g = df[(df.alpha == name) & df.cauchy_next.notna()].groupby("layers").cauchy_next.mean()
        ax.loglog(g.index, g.values, "o-", color=col, label=f"α = {name}")
    ax.set_xlabel("layers L")
    ax.set_ylabel("‖y_2L − y_L‖ (next depth in the list)")
    ax.set_title("Successive depths: α = 1 has no limit")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def trajectory_figure(tr: dict, T: float):
    """One hidden feature of one input across layer time t = k T / L, for several L, beside
    the ODE flow (``tr``: the arrays of :func:`.experiment.trajectories`)."""
    plt = pyplot()
    ex, ft = int(tr["example"]), int(tr["feature"])
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.8))
    for i, L in enumerate(int(v) for v in tr["layers"]):
        axes[0].plot(np.linspace(0, T, L + 1), tr[f"tl_{L}"], ".-" if L <= 64 else "-", ms=5,
                     lw=1, color=f"C{i}", label=f"L = {L}")
        axes[1].plot(np.arange(L + 1), tr[f"one_{L}"], "-", lw=3.0 - 0.9 * i, color=f"C{i}",
                     label=f"L = {L}")
    axes[0].plot(tr["t_ref"], tr["ref"], "k--", lw=1.2, label="ODE flow (RK4)")
    axes[0].set_xlabel("layer time t = k·T/L")
    axes[0].set_title("α = T/L: the hidden state approaches the ODE trajectory")
    axes[1].set_xlabel("layer k")
    axes[1].set_title("α = 1: the hidden state drifts with depth")
    for ax in axes:
        ax.set_ylabel(f"feature {ft + 1} of input {ex + 1}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def write(res: Results, out: StageOutputs) -> None:
    cfg, df, slope_df = res.record("config"), res.frame("distances"), res.frame("slopes")
    out.text(
        f"Residual MLPs y ← y + α·tanh(y W(t_k)ᵀ + b(t_k)) on {cfg['features']} features, "
        f"L = {cfg['layers']} layers, whose weights sample one fixed smooth random function "
        f"of time ({cfg['modes']} cosine modes on [0, T], T = {cfg['T']}) at the layer "
        f"times t_k = k·T/L. With α = T/L the net is L forward-Euler steps of "
        "dy/dt = tanh(y W(t)ᵀ + b(t)); its output is compared with that ODE's flow "
        f"(RK4, {cfg['reference_steps']} steps) for {cfg['examples']} random inputs "
        f"and seeds {cfg['seeds']} (one weight function per seed).\n\n"
        "With α = 1 the same layers add L increments of size O(1): the output moves "
        "further with every doubling of L and there is no limit."
    )
    out.csv(STAGE, df, show=True, caption="Distance to the ODE flow and to the next depth",
            max_rows=40)
    out.csv(f"{STAGE}_slopes", slope_df)
    out.figure("error", error_figure(df, slope_df),
               "Left: distance of the net's output to the ODE flow against depth L for "
               "α = T/L (log-log), with the fitted slope. Right: distance between "
               "successive depths, α = T/L vs α = 1.")
    out.figure("trajectory", trajectory_figure(res.arrays("trajectory"), cfg["T"]),
               "One hidden feature across the layers: for α = T/L it follows the ODE "
               "trajectory more closely as L grows; for α = 1 it drifts.")
    out.metrics({"slope_mean": float(slope_df.slope.mean()),
                 **{f"slope.seed{int(r.seed)}": r.slope for r in slope_df.itertuples()}})
