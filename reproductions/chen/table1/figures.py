"""Chen et al. (2018), Table 1: the section text, the tables (``data/chen/table1*.csv``),
the learning curves and memory figures and the metrics, from the saved results."""

from __future__ import annotations

import pandas as pd

from nnde.plateau import Plateau
from nnde.plotting import pyplot
from nnde.results import Results
from nnde.stage import StageOutputs

from . import NAMES, PAPER, STAGE
from .summary import convergence, summarise


def _plateau(cfg: dict) -> Plateau | None:
    return Plateau(**cfg["plateau"]) if cfg["plateau"] else None


def describe(cfg: dict, n_train: int, n_test: int) -> str:
    """The section text: data, models and training as configured (``config.json``)."""
    pl = _plateau(cfg)
    schedule = (
        f"each model trained until its training loss reached a plateau — {pl.describe()} — "
        f"with at most {cfg['epochs']} epochs"
        + (f" (the per-epoch training loss that the criterion reads is measured on a fixed "
           f"random {cfg['train_eval_subset']:,} of the training examples; final training "
           "losses and errors on the whole set)" if cfg["train_eval_subset"] else "")
        if pl is not None
        else f"{cfg['epochs']} epochs"
        + (f", lr ×0.1 at epochs {cfg['milestones']}" if cfg["milestones"] else "")
    )
    if cfg["dataset"] == "mnist1d":
        data = (
            f"MNIST-1D (Greydanus and Kobak, 2024; generated offline by the data_mnist1d "
            f"stage): {n_train} training and {n_test} test signals of length 40, one "
            "channel. The convolutional models are the paper's in 1-D: 3-tap convolutions "
            "where the paper has 3×3, 4-tap stride-2 ones where it has 4×4. Published test "
            "accuracy on MNIST-1D: logistic regression 32 %, MLP 68 %, CNN 94 %, human 96 %"
        )
        conv = "3-tap"
    else:
        data = f"MNIST ({n_train} training / {n_test} test images, 28×28)"
        conv = "3×3"
    groups = cfg["groups"] or min(32, cfg["channels"])
    return (
        f"Data: {data}. Convolutional models: a {conv} convolution to {cfg['channels']} "
        f"channels, {cfg['downsample']} × (GroupNorm, ReLU, stride-2 convolution), then "
        "the feature part, then GroupNorm, ReLU, global average pooling and a linear layer "
        f"(every GroupNorm with {groups} groups). ResNet: 6 residual blocks (each one "
        "forward-Euler step, h = 1, of its own field). RK-Net: one ODE block over "
        "t ∈ [0, 1] with the ODE-Net field (two convolutions, time appended as a channel, "
        f"GroupNorm), {cfg['rk_steps']} fixed {cfg['rk_method']} steps, gradients by "
        f"backpropagation through the solver. ODE-Net: the same field, {cfg['ode_method']} "
        f"with rtol = atol = {cfg['tol']:g} in training and testing (Figure 3 sweeps the "
        f"tolerance), gradients by the adjoint ({cfg.get('adjoint_backend', 'torchdiffeq')}'s "
        "solvers); after every epoch one "
        f"training step on a probe batch at rtol = atol = {cfg['probe_tol']:g} records "
        "its forward and backward NFE for Figure 3. MLP: one hidden layer of "
        f"{cfg['mlp_hidden']} ReLU units on the flattened input.\n\n"
        f"Training: {cfg['optimizer']} (lr {cfg['lr']:g}, batch {cfg['batch_size']}), "
        f"{schedule}; seeds {cfg['seeds']} (the seed sets the initial weights and the data "
        "order). Claims compare means over seeds beyond 2 standard errors (the spread over "
        "seeds and the test set's sampling error).\n\n"
        "Memory is measured, not modelled: the peak bytes of the tensors autograd saves "
        "for the backward pass during one training step (a saved-tensors hook with "
        "reference counting, so released tensors leave the count; parameters excluded), "
        "and on a GPU also torch.cuda.max_memory_allocated. Seconds per epoch: the "
        "median of 3 timed training steps × steps per epoch (the CPU is shared, so "
        "ratios between models are more meaningful than absolute times)."
    )


def curves_figure(hist: pd.DataFrame):
    """Training loss and test error per epoch, mean over the seeds still training (lines)
    and the range over seeds (band)."""
    plt = pyplot()
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    for kind, g in hist.groupby("model", sort=False):
        for a, col, scale in ((ax[0], "test_error", 100), (ax[1], "train_loss", 1)):
            st = g.groupby("epoch")[col].agg(["mean", "min", "max"]) * scale
            (line,) = a.plot(st.index, st["mean"], "o-", ms=2.5, label=NAMES[kind])
            a.fill_between(st.index, st["min"], st["max"], color=line.get_color(), alpha=0.2)
    ax[0].set_ylabel("test error (%)")
    ax[0].set_yscale("log")
    ax[1].set_ylabel("training loss")
    ax[1].set_yscale("log")
    for a in ax:
        a.set_xlabel("epoch")
        a.legend(fontsize=8)
    fig.tight_layout()
    return fig


def memory_figure(table: pd.DataFrame):
    plt = pyplot()
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    ax[0].bar(table.model, table.peak_saved_MB, color="tab:blue")
    ax[0].set_ylabel("peak saved-tensor memory,\none training step (MB)")
    ax[1].bar(table.model, table.params / 1e3, color="tab:gray")
    ax[1].set_ylabel("parameters (thousands)")
    fig.tight_layout()
    return fig


def write(res: Results, out: StageOutputs) -> None:
    cfg, info = res.record("config"), res.record("info")
    per_seed, hist = res.frame("per_seed"), res.frame("history")
    table = summarise(per_seed, cfg["dataset"])
    pl = _plateau(cfg)
    wall, cpu = res.run_seconds["wall"], res.run_seconds["cpu"]
    out.text(
        describe(cfg, info["n_train"], info["n_test"])
        + f"\n\nTraining of all models and seeds: {wall:.0f} s wall, {cpu:.0f} s CPU "
        f"({cfg['workers']} worker process(es), threads {cfg['threads']})."
    )
    out.convergence(
        convergence(per_seed),
        pl.describe() if pl is not None
        else f"a fixed budget of {cfg['epochs']} epochs (the paper's schedule)",
    )
    shown = table.drop(columns=["kind"])
    if shown.cuda_peak_MB.isna().all():
        shown = shown.drop(columns=["cuda_peak_MB"])
    if cfg["dataset"] != "mnist1d":
        shown = shown.drop(columns=["reference_accuracy_pct", "reference"])
    out.csv(STAGE, per_seed)
    out.csv(f"{STAGE}_summary", table)
    out.table(
        shown,
        caption="Table 1 analog: ours (test error mean and std over seeds) beside the "
        "paper's MNIST numbers"
        + (" and the published MNIST-1D accuracy of the model family"
           if info["dims"] == 1 else ""),
        source=f"data/{PAPER}/{STAGE}_summary.csv",
    )
    out.csv(f"{STAGE}_history", hist)
    out.figure(
        "curves",
        curves_figure(hist),
        "Test error and training loss per epoch: mean over seeds (line) and range (band).",
    )
    out.figure(
        "memory",
        memory_figure(table),
        "Measured peak saved-tensor memory of one training step, and parameters.",
    )
    out.metrics(
        {
            **{f"test_error_pct.{r.kind}": r.test_error_mean for r in table.itertuples()},
            **{f"test_error_sd.{r.kind}": r.test_error_sd for r in table.itertuples()},
            **{f"params.{r.kind}": r.params for r in table.itertuples()},
            **{f"peak_saved_MB.{r.kind}": r.peak_saved_MB for r in table.itertuples()},
            **{f"epoch_seconds.{r.kind}": r.epoch_seconds for r in table.itertuples()},
            "train_wall_seconds": wall,
            "train_cpu_seconds": cpu,
        }
    )
