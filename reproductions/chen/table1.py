"""Chen et al. (2018), Table 1: MLP, ResNet, RK-Net and ODE-Net on digit classification.

The paper (MNIST) reports test error 1.60 % / 0.41 % / 0.47 % / 0.42 % for a one-hidden-layer
MLP, a ResNet with 6 residual blocks, an RK-Net (backpropagation through a Runge–Kutta
solve) and an ODE-Net (the same solve, adjoint gradients), with 0.24M / 0.60M / 0.22M /
0.22M parameters and memory O(1) for the ODE-Net against O(L) / O(L̃) for the others.

We train the four models with the one training loop (``nnde.train``) and measure, per
model: test error, parameter count, **peak activation memory of one training step**
(the high-water mark of the tensors autograd holds, from
``torch.autograd.graph.saved_tensors_hooks`` — see ``nnde.models.chen.SavedTensorMeter``;
on CUDA also ``torch.cuda.max_memory_allocated``), the median wall time of a training
step (3 repeats after training) times the steps per epoch, and the field evaluations
(NFE) of the ODE block. Small profile: the bundled 8×8 digits, downsampled once to 4×4,
few channels and epochs. Paper profile: MNIST (``data/raw/mnist``), 64 channels, 160
epochs. The trained ODE-Net and its per-epoch NFE are saved for Figure 3.
"""

from __future__ import annotations

import math
import statistics

import pandas as pd
import torch

from nnde.data import digits_split, load_mnist
from nnde.errors import ParamError
from nnde.integrators import METHODS
from nnde.models.chen import CLASSIFIERS, make_classifier, measure_step, ode_block
from nnde.stage import (
    StageOutputs,
    check,
    fmt,
    get_choice,
    get_list,
    get_number,
    load_params,
    one_of,
    run_main,
)
from nnde.train import TrainConfig, count_parameters, seed_everything, set_threads, train_classifier

PAPER, STAGE = "chen", "table1"

#: Table 1 of the paper (MNIST): test error (%), parameters (millions), memory, time.
PAPER_TABLE = {
    "mlp": (1.60, "0.24M [unverified]", "—", "—"),
    "resnet": (0.41, "0.60M", "O(L)", "O(L)"),
    "rknet": (0.47, "0.22M", "O(L̃)", "O(L̃)"),
    "odenet": (0.42, "0.22M", "O(1)", "O(L̃)"),
}
NAMES = {"mlp": "1-layer MLP", "resnet": "ResNet", "rknet": "RK-Net", "odenet": "ODE-Net"}


def load_data(dataset: str, seed: int):
    """(x_train, y_train, x_test, y_test, image_size): images (N, 1, S, S) in [0, 1]."""
    if dataset == "digits":
        s = digits_split(seed, val_frac=0.0, test_frac=0.2)
        return s.x_train, s.y_train, s.x_test, s.y_test, 8
    xtr, ytr = load_mnist("data/raw", "train")
    xte, yte = load_mnist("data/raw", "test")
    f = lambda x: (x.float() / 255.0).unsqueeze(1)  # noqa: E731
    return f(xtr), ytr, f(xte), yte, 28


def build(kind: str, cfg: dict, image_size: int):
    return make_classifier(
        kind,
        image_size=image_size,
        channels=cfg["channels"],
        downsample=cfg["downsample"],
        mlp_hidden=cfg["mlp_hidden"],
        method=cfg["ode_method"] if kind == "odenet" else cfg["rk_method"],
        rtol=cfg["tol"],
        atol=cfg["tol"],
        steps=None if kind == "odenet" else cfg["rk_steps"],
    )


def run(cfg: dict):
    """Train every model; return (table, history, trained ODE-Net or None)."""
    set_threads(cfg["threads"])
    xtr, ytr, xte, yte, size = load_data(cfg["dataset"], cfg["seed"])
    probe_x, probe_y = xtr[: cfg["batch_size"]], ytr[: cfg["batch_size"]]
    rows, hist_rows, odenet = [], [], None
    for kind in cfg["models"]:
        seed_everything(cfg["seed"])
        model = build(kind, cfg, size)
        tc = TrainConfig(
            epochs=cfg["epochs"],
            batch_size=cfg["batch_size"],
            lr=cfg["lr"],
            optimizer=cfg["optimizer"],
            momentum=0.9,
            milestones=tuple(cfg["milestones"]),
            seed=cfg["seed"],
            device=cfg["device"],
            stage=f"{PAPER}.{STAGE}",
            model_name=kind,
        )
        dev = torch.device(
            "cuda" if cfg["device"] != "cpu" and torch.cuda.is_available() else "cpu"
        )

        def on_epoch(m, epoch, dev=dev):
            if ode_block(m) is None:
                return {}
            r = measure_step(m, probe_x.to(dev), probe_y.to(dev))
            return {"nfe_forward": r["nfe_forward"], "nfe_backward": r["nfe_backward"]}

        h = train_classifier(model, xtr, ytr, tc, evals={"test": (xte, yte)}, on_epoch=on_epoch)
        for rec in h.records:
            hist_rows.append({"model": kind, **rec})
        x, y = probe_x.to(dev), probe_y.to(dev)
        steps = [measure_step(model, x, y) for _ in range(3)]
        per_epoch = math.ceil(len(xtr) / cfg["batch_size"])
        step_s = statistics.median(r["seconds"] for r in steps)
        last = h.records[-1]
        rows.append(
            {
                "model": NAMES[kind],
                "test_error_pct": 100 * last["test_error"],
                "paper_error_pct": PAPER_TABLE[kind][0],
                "params": count_parameters(model),
                "paper_params": PAPER_TABLE[kind][1],
                "peak_saved_MB": steps[-1]["saved_peak_bytes"] / 2**20,
                "cuda_peak_MB": steps[-1]["cuda_peak_bytes"] / 2**20,
                "paper_memory": PAPER_TABLE[kind][2],
                "epoch_seconds": step_s * per_epoch,
                "train_seconds": h.seconds,
                "nfe_forward": steps[-1]["nfe_forward"],
                "nfe_backward": steps[-1]["nfe_backward"],
                "kind": kind,
            }
        )
        if kind == "odenet":
            odenet = model.cpu()
    return pd.DataFrame(rows), pd.DataFrame(hist_rows), odenet


def make_claims(table: pd.DataFrame, gap_pp: float):
    by = {r.kind: r for r in table.itertuples(index=False)}
    claims = []
    if "odenet" in by and "resnet" in by:
        o, r = by["odenet"], by["resnet"]
        close = o.test_error_pct - r.test_error_pct <= gap_pp
        fewer = o.params < r.params
        claims.append(
            check(
                "odenet_close_to_resnet",
                "The ODE-Net's test error is close to the ResNet's, with fewer parameters",
                paper="0.42 % vs 0.41 %; 0.22M vs 0.60M parameters",
                ours=f"{fmt(o.test_error_pct, 3)} % vs {fmt(r.test_error_pct, 3)} %; "
                f"{o.params} vs {r.params} parameters",
                rule=f"error(ODE-Net) − error(ResNet) ≤ {gap_pp} percentage points and "
                "params(ODE-Net) < params(ResNet)",
                passed=close and fewer,
                partly=fewer,
                note=""
                if close
                else "The error gap is larger than the rule allows at this "
                "scale (few epochs, small test set): see the training curves.",
            )
        )
    if {"odenet", "rknet", "resnet"} <= set(by):
        o, k, r = by["odenet"], by["rknet"], by["resnet"]
        claims.append(
            check(
                "odenet_least_memory",
                "The ODE-Net (adjoint) holds less activation memory in a training step than "
                "the RK-Net and the ResNet",
                paper="O(1) vs O(L̃) and O(L)",
                ours=f"{fmt(o.peak_saved_MB, 3)} MB vs {fmt(k.peak_saved_MB, 3)} MB (RK-Net, "
                f"{k.nfe_forward} NFE) and {fmt(r.peak_saved_MB, 3)} MB (ResNet)",
                rule="peak saved-tensor bytes: ODE-Net < RK-Net and ODE-Net < ResNet",
                passed=o.peak_saved_MB < k.peak_saved_MB and o.peak_saved_MB < r.peak_saved_MB,
                partly=o.peak_saved_MB < k.peak_saved_MB,
            )
        )
    if "mlp" in by and "resnet" in by:
        m, r = by["mlp"], by["resnet"]
        claims.append(
            check(
                "mlp_worst",
                "The one-hidden-layer MLP has a higher test error than the ResNet",
                paper="1.60 % vs 0.41 %",
                ours=f"{fmt(m.test_error_pct, 3)} % vs {fmt(r.test_error_pct, 3)} %",
                rule="error(MLP) > error(ResNet)",
                passed=m.test_error_pct > r.test_error_pct,
            )
        )
    return claims


def curves_figure(hist: pd.DataFrame):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    for kind, g in hist.groupby("model", sort=False):
        ax[0].plot(g.epoch, 100 * g.test_error, "o-", ms=3, label=NAMES[kind])
        ax[1].plot(g.epoch, g.train_loss, "o-", ms=3, label=NAMES[kind])
    ax[0].set_ylabel("test error (%)")
    ax[1].set_ylabel("training loss")
    ax[1].set_yscale("log")
    for a in ax:
        a.set_xlabel("epoch")
        a.legend(fontsize=8)
    fig.tight_layout()
    return fig


def memory_figure(table: pd.DataFrame):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    ax[0].bar(table.model, table.peak_saved_MB, color="tab:blue")
    ax[0].set_ylabel("peak saved-tensor memory,\none training step (MB)")
    ax[1].bar(table.model, table.params / 1e3, color="tab:gray")
    ax[1].set_ylabel("parameters (thousands)")
    fig.tight_layout()
    return fig


def read_config(p: dict) -> dict:
    sec = f"{PAPER}.{STAGE}"

    model = one_of(CLASSIFIERS)

    def milestone(v, name):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ParamError(name, f"is {v!r}", "an integer > 0")
        return v

    adaptive = [m for m, v in METHODS.items() if getattr(v, "adaptive", False)]
    fixed = [m for m, v in METHODS.items() if getattr(v, "kind", "") == "explicit"]
    cfg = {
        "dataset": get_choice(p, "dataset", ["digits", "mnist"], sec),
        "models": get_list(p, "models", model, sec),
        "channels": get_number(p, "channels", sec, kind=int, gt=0),
        "downsample": get_number(p, "downsample", sec, kind=int, ge=0),
        "mlp_hidden": get_number(p, "mlp_hidden", sec, kind=int, gt=0),
        "ode_method": get_choice(p, "ode_method", adaptive, sec),
        "tol": get_number(p, "tol", sec, gt=0),
        "rk_method": get_choice(p, "rk_method", fixed, sec),
        "rk_steps": get_number(p, "rk_steps", sec, kind=int, gt=0),
        "epochs": get_number(p, "epochs", sec, kind=int, gt=0),
        "batch_size": get_number(p, "batch_size", sec, kind=int, gt=0),
        "lr": get_number(p, "lr", sec, gt=0),
        "optimizer": get_choice(p, "optimizer", ["sgd", "adam", "rmsprop"], sec),
        "milestones": p.get("milestones") and get_list(p, "milestones", milestone, sec) or [],
        "gap_pp": get_number(p, "gap_pp", sec, ge=0),
        "seed": get_number(p, "seed", sec, kind=int, ge=0),
        "threads": get_number(p, "threads", sec, kind=int, gt=0),
        "device": get_choice(p, "device", ["cpu", "auto", "cuda"], sec),
    }
    size = 8 if cfg["dataset"] == "digits" else 28
    if size % (2 ** cfg["downsample"]):
        raise ParamError(
            f"{sec}.downsample",
            f"is {cfg['downsample']}: {size} is not divisible by 2^{cfg['downsample']}",
        )
    if "rknet" in cfg["models"] and cfg["rk_method"] not in (
        "euler",
        "midpoint",
        "rk4",
        "rk38",
        "heun",
        "dopri5",
        "bosh3",
    ):
        raise ParamError(f"{sec}.rk_method", f"is {cfg['rk_method']!r}", ", ".join(fixed))
    if "odenet" not in cfg["models"]:
        raise ParamError(
            f"{sec}.models", "must include 'odenet' (Figure 3 uses it)", ", ".join(CLASSIFIERS)
        )
    return cfg


def main() -> None:
    cfg = read_config(load_params(f"{PAPER}.{STAGE}"))
    table, hist, odenet = run(cfg)
    claims = make_claims(table, cfg["gap_pp"])
    with StageOutputs(PAPER, STAGE, "Table 1: MLP, ResNet, RK-Net and ODE-Net") as out:
        out.params(cfg)
        data = (
            "the bundled 8×8 digits (1437 train / 360 test)"
            if cfg["dataset"] == "digits"
            else "MNIST"
        )
        out.text(
            f"Data: {data}. Convolutional models: 3×3 convolution to {cfg['channels']} "
            f"channels, {cfg['downsample']} × (GroupNorm, ReLU, 4×4 stride-2 convolution), "
            "then the feature part, then GroupNorm, ReLU, global average pooling and a "
            "linear layer. ResNet: 6 residual blocks (each one forward-Euler step, h = 1, "
            "of its own field). RK-Net: one ODE block over t ∈ [0, 1] with the ODE-Net "
            f"field (two 3×3 convolutions, time appended as a channel, GroupNorm), "
            f"{cfg['rk_steps']} fixed {cfg['rk_method']} steps, gradients by backpropagation "
            f"through the solver. ODE-Net: the same field, {cfg['ode_method']} with "
            f"rtol = atol = {cfg['tol']}, gradients by the adjoint (torchdiffeq). "
            f"{cfg['epochs']} epochs, {cfg['optimizer']} lr {cfg['lr']}, batch "
            f"{cfg['batch_size']}.\n\n"
            "Memory is measured, not modelled: the peak bytes of the tensors autograd saves "
            "for the backward pass during one training step (a saved-tensors hook with "
            "reference counting, so released tensors leave the count; parameters excluded), "
            "and on a GPU also torch.cuda.max_memory_allocated. Seconds per epoch: the "
            "median of 3 timed training steps × steps per epoch (the CPU is shared, so "
            "ratios between models are more meaningful than absolute times)."
        )
        shown = table.drop(columns=["kind"])
        if shown.cuda_peak_MB.isna().all():
            shown = shown.drop(columns=["cuda_peak_MB"])
        out.csv(STAGE, table, show=False)
        out.table(
            shown,
            caption="Table 1 analog: ours beside the paper's (MNIST) numbers",
            source=f"data/{PAPER}/{STAGE}.csv",
        )
        out.csv(f"{STAGE}_history", hist)
        out.figure("curves", curves_figure(hist), "Test error and training loss per epoch.")
        out.figure(
            "memory",
            memory_figure(table),
            "Measured peak saved-tensor memory of one training step, and parameters.",
        )
        ckpt = out.path(f"data/{PAPER}/{STAGE}_odenet.pt")
        torch.save(
            {"state_dict": odenet.state_dict() if odenet is not None else None, "cfg": cfg}, ckpt
        )
        out.metrics(
            {
                **{f"test_error_pct.{r.kind}": r.test_error_pct for r in table.itertuples()},
                **{f"params.{r.kind}": r.params for r in table.itertuples()},
                **{f"peak_saved_MB.{r.kind}": r.peak_saved_MB for r in table.itertuples()},
                **{f"epoch_seconds.{r.kind}": r.epoch_seconds for r in table.itertuples()},
            }
        )
        out.claims(claims)


if __name__ == "__main__":
    run_main(main, f"{PAPER}.{STAGE}")
