"""Table 1's figures, tables, text and metrics, from the results alone."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nnde.models.names import RH_LABELS as LABELS
from nnde.models.names import RH_VARIANTS as VARIANTS
from nnde.plateau import Plateau
from nnde.plotting import pyplot
from nnde.results import Results
from nnde.stage import StageOutputs

from . import STAGE
from .summary import PAPER_TABLE1, baselines, convergence, table


def curves_figure(hist: pd.DataFrame):
    import seaborn as sns

    plt = pyplot()
    cols = [c for c in ("train_error", "val_error", "test_error") if c in hist]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    pal = dict(zip(VARIANTS, sns.color_palette("colorblind", 3), strict=True))
    styles = {"train_error": ":", "val_error": "--", "test_error": "-"}
    if "seed" not in hist:
        hist = hist.assign(seed=0)
    first = hist.seed.min()
    for (v, seed), g in hist.groupby(["variant", "seed"], sort=False):
        lab = seed == first  # one legend entry per variant and curve, not per seed
        for c in cols:
            axes[0].plot(g.epoch, np.maximum(100 * g[c], 0.1), styles[c], color=pal[v],
                         lw=1, alpha=0.8, label=f"{LABELS[v]}, {c.split('_')[0]}" if lab
                         else None)
        axes[1].plot(g.epoch, g.test_loss, color=pal[v], lw=1, alpha=0.8,
                     label=LABELS[v] if lab else None)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("error (%; 0 drawn at 0.1)")
    axes[0].legend(fontsize=7, ncol=1)
    axes[0].set_title("Error during training")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("test cross-entropy")
    axes[1].set_yscale("log")
    axes[1].legend(fontsize=8)
    axes[1].set_title("Test loss")
    fig.tight_layout()
    return fig


def table_figure(table: pd.DataFrame, dataset: str):
    import matplotlib.ticker
    import seaborn as sns

    plt = pyplot()
    pal = dict(zip(VARIANTS, sns.color_palette("colorblind", 3), strict=True))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    ax = axes[0]
    for ds, marker in (("cifar10", "o"), ("stl10", "s"), ("cifar100", "^")):
        for v, (a, w) in PAPER_TABLE1[ds].items():
            ax.scatter(w, a, color=pal[v], marker=marker, s=40,
                       label=f"{LABELS[v]}" if ds == "cifar10" else None)
        ax.annotate(ds.upper().replace("CIFAR", "CIFAR-").replace("STL", "STL-"),
                    (PAPER_TABLE1[ds]["parabolic"][1], PAPER_TABLE1[ds]["parabolic"][0]),
                    textcoords="offset points", xytext=(-60, 0), fontsize=8)
    ax.set_xlabel("number of weights")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Paper, Table 1 (o CIFAR-10, □ STL-10, △ CIFAR-100)")
    ax.legend(fontsize=8)
    ax = axes[1]
    sizes = {"parabolic": 140, "hamiltonian": 60, "second_order": 40}  # ties stay visible
    for r in table.itertuples(index=False):
        if hasattr(r, "test_accuracy_std"):
            ax.errorbar(r.weights, r.test_accuracy, yerr=r.test_accuracy_std, fmt="none",
                        ecolor=pal[r.variant], capsize=4)
        ax.scatter(r.weights, r.test_accuracy, s=sizes[r.variant], label=LABELS[r.variant],
                   facecolors="none" if r.variant == "parabolic" else pal[r.variant],
                   edgecolors=pal[r.variant], linewidths=1.5)
    for a in axes:
        a.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(
            lambda x, _: f"{x / 1000:g}k"))
    ax.set_xlabel("number of weights")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"Ours ({dataset}; mean ± std over seeds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def write(res: Results, out: StageOutputs) -> None:
    cfg = res.record("config")
    tab, hist = table(res), res.frame("history")
    plateau = Plateau.from_params(cfg["plateau"]) if cfg["plateau"] else None
    out.text(
        "Three networks that differ only in the PDE block of each stage: forward Euler "
        "on the parabolic equation ∂ₜY = −Kᵀσ(N(KY)), Verlet on the Hamiltonian system "
        "of two channel halves, and leapfrog on the second-order equation ∂²ₜY = "
        "−Kᵀσ(N(KY)). Each stage is a PDE block of "
        f"{cfg['steps']} steps of size {cfg['h']} followed by a 1×1 connector (BN, "
        "ReLU, 2× average pooling); PDE weights are projected onto the box "
        f"[−{cfg['box']}, {cfg['box']}] before each forward pass.\n\n"
        f"Here: {cfg['dataset']}, widths {cfg['widths']}, seeds {cfg['seeds']}, "
        + (f"trained to a plateau ({plateau.describe()}; at most {cfg['epochs']} epochs). "
           if plateau else f"{cfg['epochs']} epochs. ")
        + "The data split is the same for every seed; a seed changes the initial "
        "weights and the order of the batches. "
        + ("On the 8×8 digits the absolute accuracies are not comparable with the "
           "paper's CIFAR-10 numbers (shown beside ours for reference); the weight "
           "counts at the paper's widths are, exactly." if cfg["dataset"] == "digits"
           else "")
    )
    out.csv(STAGE, tab, show=True, caption="Table 1 analog: ours (mean and std over "
            "seeds) beside the paper's CIFAR-10 row")
    out.csv(f"{STAGE}_seeds", res.frame("seeds"))
    out.convergence(convergence(res), plateau.describe() if plateau
                    else f"a fixed budget of {cfg['epochs']} epochs")
    out.csv(f"{STAGE}_weights_at_paper_widths", res.frame("weights_at_paper_widths"),
            show=True, caption="Weights at the paper's CIFAR-10 widths (32/64/112, 3 steps)")
    out.csv(f"{STAGE}_history", hist)
    out.figure("accuracy_weights", table_figure(tab, cfg["dataset"]),
               "Test accuracy against number of weights: the paper's Table 1 (left) and "
               f"ours on {cfg['dataset']} (right).")
    out.figure("curves", curves_figure(hist),
               "Training curves of the three networks, one line per seed (error in %, "
               "log scale).")
    metrics = {}
    for r in tab.itertuples(index=False):
        metrics[f"{r.variant}.test_accuracy"] = r.test_accuracy
        metrics[f"{r.variant}.test_loss"] = r.test_loss
        metrics[f"{r.variant}.weights"] = int(r.weights)
        if hasattr(r, "heldout_accuracy"):
            metrics[f"{r.variant}.heldout_accuracy"] = r.heldout_accuracy
    for model, acc in baselines(res).items():
        metrics[f"baseline.{model.split(' ')[0]}.heldout_accuracy"] = acc
    out.metrics(metrics)
