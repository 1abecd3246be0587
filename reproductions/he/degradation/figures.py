"""The degradation stage's report: Figure 6, 7 and Table 6 analogs, the section text, the
tables, metrics and convergence table, from the saved results alone."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nnde.models.he import KINDS
from nnde.plotting import pyplot
from nnde.results import Results
from nnde.stage import StageOutputs
from nnde.train import Plateau

from . import STAGE
from .summary import convergence, final_table, model_name, response_summary, table6


def _plateau(cfg: dict) -> Plateau | None:
    return Plateau(**cfg["plateau"]) if cfg["plateau"] is not None else None


def describe(cfg: dict, runs: pd.DataFrame) -> str:
    """The section text: data, nets, optimiser, schedule or plateau, what is compared
    (``cfg`` the saved configuration)."""
    plateau = _plateau(cfg)
    data_txt = {
        "mnist1d": "MNIST-1D (4,000 training and 1,000 test signals of length 40; 1-D nets, "
                   "3-tap kernels, maps 40/20/10, no augmentation)",
        "digits": "the bundled 8×8 digits (maps 8/4/2, no augmentation)",
        "cifar10": "CIFAR-10" + (" (pad-4 random crop and horizontal flip)"
                                 if cfg["augment"] == "crop_flip" else ""),
    }[cfg["dataset"]]
    if plateau is not None:
        sched = (f"lr {cfg['lr']}, trained to a plateau of the training loss: "
                 f"{plateau.describe()}; at most {cfg['max_epochs']} epochs. Epochs "
                 f"run: {int(runs.epochs_run.min())}–{int(runs.epochs_run.max())} (per net "
                 "in the convergence table). With every net trained to its own plateau, "
                 "'degradation' here is the training error (and loss) each net ends with, "
                 "not the gap between curves after one common schedule as in Figure 6"
                 + (f". The per-epoch training loss (curves and plateau criterion) is "
                    f"measured on a fixed random {cfg['train_eval_subset']:,} of the "
                    "training examples; final training errors and losses on the whole set"
                    if cfg["train_eval_subset"] else ""))
    else:
        warm = (f"; nets of depth {cfg['warmup_depths']} warmed up at lr {cfg['warmup_lr']} "
                f"until the training error of the last {cfg['warmup_window']} mini-batches "
                f"was below {100 * cfg['warmup_error']:g} %, then the schedule (iterations "
                "where the warm-up ended: " + ", ".join(
                    f"{model_name(r.kind, r.depth, r.seed)}: {int(r.warmup_end)}"
                    for r in runs.itertuples() if r.warmup_end is not None
                    and r.warmup_end == r.warmup_end) + ")"
                if cfg["warmup_depths"] else "")
        sched = (f"lr {cfg['lr']} ÷10 after iterations {cfg['lr_drops']} (set per iteration), "
                 f"{cfg['iterations']} iterations rounded to whole epochs "
                 f"({int(runs.iterations.max())} run){warm}")
    return (
        f"Plain and residual 6n+2-layer nets ({'/'.join(map(str, cfg['widths']))} filters, "
        "BN before ReLU, option-A "
        f"shortcuts, hence identical parameter counts) trained on {data_txt}: plain at "
        f"depths {cfg['plain_depths']}, residual at {cfg['residual_depths']}, seeds "
        f"{cfg['seeds']}; batch {cfg['batch_size']}, SGD momentum {cfg['momentum']}, "
        f"weight decay {cfg['weight_decay']}, {sched}. Plain and residual nets of one seed "
        "start from the same weights and see the same batches. Training error is measured "
        "after each epoch on the un-augmented training set in eval mode.\n\n"
        "Within a stage, the residual block x ← ReLU(x + F(x)) is a forward-Euler step "
        "(h = 1) of dx/dt = F(x; θ(t)) followed by a ReLU; the plain block x ← ReLU(F(x)) "
        "is not a small step of any flow.\n\n"
        "Layer responses (Figure 7) are the outputs of every BN layer (after BN, before the "
        "addition and the ReLU) on the test set in eval mode: for each channel the std "
        "over examples and positions, averaged over channels, then over layers and seeds."
        "\n\nEvery comparison is judged against the spread over seeds (the larger sample "
        "std of the two things compared); a difference inside it is not a reproduction."
        + ("\n\nThe paper's numbers are CIFAR-10 test errors; ours are not comparable in "
           "absolute value — the verdicts are on the trends. The learning rate and batch are "
           "the paper's (0.1, 128). The depths are fewer and shallower than the paper's: "
           "with every net trained to its plateau and three seeds, that is what the "
           "small profile's CPU budget holds (deep plain nets are the slowest to train)."
           if cfg["dataset"] != "cifar10" else "")
    )


def curves_figure(hist: pd.DataFrame):
    """Figure 6 analog: error against iterations, plain left, residual right; dashed
    training, solid test; mean over the seeds still training, with a min–max band."""
    import matplotlib.ticker
    import seaborn as sns

    plt = pyplot()
    depths = sorted(hist.depth.unique())
    colors = dict(zip(depths, sns.color_palette("viridis", len(depths)), strict=True))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, kind in zip(axes, KINDS, strict=True):
        for d in depths:
            sub = hist[(hist.kind == kind) & (hist.depth == d)]
            if sub.empty:
                continue
            g = sub.groupby("iteration")
            for col, ls in (("train_error", "--"), ("test_error", "-")):
                m = 100 * g[col].mean()
                ax.plot(m.index, m.values, ls, color=colors[d], lw=1.5,
                        label=f"{kind}-{d}" if col == "test_error" else None)
                ax.fill_between(m.index, 100 * g[col].min(), 100 * g[col].max(),
                                color=colors[d], alpha=0.15, lw=0)
        ax.set_title(f"{kind} nets" if kind == "plain" else "residual nets (ResNets)")
        ax.set_xlabel("iteration")
        # Linear below 1 %, logarithmic above: zero training errors stay on the plot.
        ax.set_yscale("symlog", linthresh=1.0, linscale=0.5)
        ax.set_ylim(0, 100)
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, title="solid: test, dashed: train", title_fontsize=8)
    axes[0].set_ylabel("error (%)")
    fig.tight_layout()
    return fig


def final_figure(final: pd.DataFrame):
    """Final training/test error against depth, plain vs residual (mean ± std)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, col, name in ((axes[0], "train_error", "training"), (axes[1], "test_error", "test")):
        for kind, c, m in (("plain", "C3", "s"), ("residual", "C0", "o")):
            s = final[final.kind == kind].sort_values("depth")
            ax.errorbar(s.depth, s[f"{col}_mean"], yerr=s[f"{col}_std"], color=c, marker=m,
                        capsize=3, label=kind)
        ax.set_xlabel("depth (weighted layers)")
        ax.set_ylabel(f"final {name} error (%)")
        ax.set_xticks(sorted(final.depth.unique()))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def responses_figure(resp: pd.DataFrame):
    """Figure 7 analog: std of the layer responses in layer order (top) and sorted in
    descending order (bottom); dashed plain, solid residual; mean over seeds."""
    import seaborn as sns

    plt = pyplot()
    depths = sorted(resp.depth.unique())
    colors = dict(zip(depths, sns.color_palette("viridis", len(depths)), strict=True))
    fig, axes = plt.subplots(2, 1, figsize=(8, 6.5))
    for kind, ls in (("plain", "--"), ("residual", "-")):
        for d in depths:
            m = resp[(resp.kind == kind) & (resp.depth == d)].groupby("layer")["std"].mean()
            if m.empty:
                continue
            lab = f"{kind}-{d}"
            axes[0].plot(m.index, m.values, ls, color=colors[d], lw=1.3, label=lab)
            axes[1].plot(np.arange(1, len(m) + 1), np.sort(m.values)[::-1], ls,
                         color=colors[d], lw=1.3, label=lab)
    axes[0].set_xlabel("layer index (original order)")
    axes[1].set_xlabel("layer index (sorted by magnitude)")
    for ax in axes:
        ax.set_ylabel("std of response")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def write(res: Results, out: StageOutputs) -> None:
    cfg, hist = res.record("config"), res.frame("history")
    runs, resp = res.frame("runs"), res.frame("responses")
    final, resp_sum = final_table(runs), response_summary(resp)
    plateau = _plateau(cfg)
    wall, cpu = (res.run_seconds.get(k, float("nan")) for k in ("wall", "cpu"))
    out.text(describe(cfg, runs) + f"\n\nTraining: {wall:.0f} s wall, {cpu:.0f} s CPU "
             f"({cfg['workers']} worker(s), threads {cfg['threads']}).")
    out.convergence(convergence(runs), plateau.describe() if plateau is not None else
                    f"a fixed budget of {cfg['iterations']} iterations (the paper's)")
    out.csv(STAGE, hist)
    out.csv(f"{STAGE}_final", pd.merge(final, runs.groupby(["kind", "depth"]).warmup_end
                                       .first().reset_index(), on=["kind", "depth"]))
    out.csv(f"{STAGE}_runs", runs)
    out.csv(f"{STAGE}_table6", table6(final), show=True,
            caption="Table 6 analog: final test and training error (mean ± std over "
                    "seeds) and epochs run (seeds that met the plateau criterion) of our "
                    "plain and residual nets beside the paper's CIFAR-10 ResNets")
    out.csv(f"{STAGE}_responses", resp)
    out.csv(f"{STAGE}_response_summary", resp_sum, show=True,
            caption="Mean over layers of the response std (Figure 7), mean and std over "
                    "seeds")
    out.figure("curves", curves_figure(hist),
               "Figure 6 analog: training error (dashed) and test error (solid) against "
               "iterations; plain nets left, residual nets right; mean over the seeds "
               "still training, band min–max.")
    out.figure("final_error", final_figure(final),
               "Final training and test error against depth (mean ± std over seeds).")
    out.figure("responses", responses_figure(resp),
               "Figure 7 analog: std of each layer's response (after BN, before addition/"
               "ReLU), in layer order (top) and sorted (bottom); dashed plain, solid "
               "residual.")
    metrics = {"wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1)}
    for r in final.itertuples(index=False):
        metrics[f"{r.kind}{r.depth}.train_error"] = r.train_error_mean
        metrics[f"{r.kind}{r.depth}.test_error"] = r.test_error_mean
        metrics[f"{r.kind}{r.depth}.epochs"] = r.epochs_mean
        metrics[f"{r.kind}{r.depth}.params"] = int(r.params)
    for r in resp_sum.itertuples(index=False):
        metrics[f"{r.kind}{r.depth}.response_std"] = r.mean_response_std
    out.metrics(metrics)
