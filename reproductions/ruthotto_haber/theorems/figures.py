"""The theorems stage's figures, tables, text and metrics, from the results alone."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nnde.models.names import RH_LABELS as LABELS
from nnde.models.names import RH_VARIANTS as VARIANTS
from nnde.plotting import pyplot
from nnde.results import Results
from nnde.stage import StageOutputs

from . import STAGE


def ratio_figure(df: pd.DataFrame):
    import seaborn as sns

    plt = pyplot()
    variants = [v for v in VARIANTS if v in set(df.variant)]
    weights = [w for w in ("random", "trained") if w in set(df.weights)]
    fig, axes = plt.subplots(len(weights), len(variants), figsize=(4.2 * len(variants),
                             3.2 * len(weights)), squeeze=False, sharex=True)
    pal = dict(zip(["as used (TV, h = 1)", "no norm, h = h*", "no norm, h = 4h*"],
                   sns.color_palette("colorblind", 3), strict=True))
    lo = float(np.log10(df.ratio.clip(lower=1e-3)).min())
    hi = float(np.log10(df.ratio.clip(lower=1e-3)).max())
    bins = np.linspace(min(lo, -0.05), max(hi, 0.05), 60)
    for i, w in enumerate(weights):
        for j, v in enumerate(variants):
            ax = axes[i][j]
            sub = df[(df.variant == v) & (df.weights == w)]
            for setting, g in sub.groupby("setting", sort=False):
                ax.hist(np.log10(g.ratio.clip(lower=1e-3)), bins=bins, histtype="step",
                        color=pal[setting], label=setting, density=True)
            ax.axvline(0, color="k", lw=0.8)
            ax.set_title(f"{LABELS[v]}, {w} weights", fontsize=10)
            ax.set_yticks([])
            if i == len(weights) - 1:
                ax.set_xlabel("log₁₀ ‖Y(T) − Ỹ(T)‖ / ‖Y(0) − Ỹ(0)‖")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def energy_figure(df: pd.DataFrame):
    import seaborn as sns

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    cases = list(dict.fromkeys(df.case))
    pal = dict(zip(cases, sns.color_palette("colorblind", len(cases)), strict=True))
    styles = {r: s for r, s in zip(dict.fromkeys(df.run), ["-", "--", ":"], strict=False)}
    for (case, run), g in df.groupby(["case", "run"], sort=False):
        g0 = g.dropna(subset=["energy"])
        if len(g0):
            axes[0].plot(g0.step, g0.energy / g0.energy.iloc[0], styles[run], color=pal[case],
                         label=f"{case}, {run}")
        axes[1].plot(g.step, g.norm_Y / g.norm_Y.iloc[0], styles[run], color=pal[case],
                     label=f"{case}, {run}")
    for ax, lab in zip(axes, ("energy E(j+½) / E₀", "‖Y_j‖ / ‖Y₀‖"), strict=True):
        ax.set_yscale("log")
        ax.set_xlabel("step j (constant weights)")
        ax.set_ylabel(lab)
    axes[0].set_title("Theorem 2: leapfrog energy (ReLU, no normalisation)")
    axes[1].set_title("Size of the state")
    axes[0].legend(fontsize=6)
    axes[1].legend(fontsize=6)
    fig.tight_layout()
    return fig


def write(res: Results, out: StageOutputs) -> None:
    cfg = res.record("config")
    rat, summ, rev = res.frame("ratios"), res.frame("summary"), res.frame("reversibility")
    en_df = res.frame("energy")
    out.text(
        "Ratio = ‖Y(T) − Ỹ(T)‖ / ‖Y(0) − Ỹ(0)‖ through one PDE block, for "
        f"{cfg['perturbations']} random perturbations δ per base point of relative sizes "
        f"{cfg['eps']}, in float64. Random weights: the library's initialisation on "
        f"{cfg['channels']} channels, {cfg['image_size']}×{cfg['image_size']} random "
        "inputs. Trained weights: the table1 networks, on the real features that enter "
        "each block for test images. Settings: 'as used' is the block as in the network "
        "(TV normalisation, h = 1); 'no norm, h = h*' meets Theorem 1's hypotheses "
        "(ReLU, symmetric Jacobian, h* = 0.9·2/max‖K‖²); 'h = 4h*' breaks the step-size "
        "condition. 'Jacobian σ_max' is the largest singular value of the block's "
        "Jacobian at a few base points: the worst direction, which random δ rarely hit."
    )
    out.csv(f"{STAGE}_ratios", rat)
    out.csv(f"{STAGE}_summary", summ, show=True, caption="Growth ratios per block "
            "(stage = index of the block in the network)", max_rows=60)
    out.csv(f"{STAGE}_energy", en_df)
    out.csv(f"{STAGE}_energy_summary", res.frame("energy_summary"), show=True,
            caption="Theorem 2: second-order block with constant weights")
    out.csv(f"{STAGE}_reversibility", rev, show=True,
            caption="Hamiltonian block: reconstruction error of inverse(forward(Y))")
    out.figure("ratios", ratio_figure(rat), "Distribution of the growth ratio per block "
               "type, random (top) and trained (bottom) weights; the black line is 1.")
    out.figure("energy", energy_figure(en_df), "Second-order block with constant weights "
               "over many leapfrog steps: energy (left) and size of the state (right).")
    metrics = {}
    for r in summ.itertuples(index=False):
        setting = r.setting.split(",")[0].replace(" ", "_")
        key = f"{r.variant}.{r.weights}.stage{r.stage}.{setting}"
        if "4h" in r.setting:
            key += "_4h"
        metrics[f"max_ratio.{key}"] = r.max_ratio
        metrics[f"sigma_max.{key}"] = r.jacobian_sigma_max
    for r in rev.itertuples(index=False):
        metrics[f"reversibility.{r.weights}.stage{r.stage}.{r.dtype}"] = r.relative_error
    out.metrics(metrics)
