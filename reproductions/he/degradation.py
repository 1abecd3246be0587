"""He, Zhang, Ren & Sun (2016), the degradation problem: Figure 6, Table 6 and Figure 7.

The paper trains plain and residual ``6n + 2``-layer nets on CIFAR-10 (option-A
shortcuts, so both have the same parameters; see :mod:`nnde.models.he`) and finds:

* Figure 6: deeper *plain* nets end with *higher training error* (plain-56 above
  plain-20) — degradation, not overfitting — while deeper residual nets do better;
* Table 6: ResNet-20/32/44/56/110 reach 8.75 / 7.51 / 7.17 / 6.97 / 6.43 % test error;
* Figure 7: the std of the layer responses (after BN, before the addition and ReLU) is
  smaller for ResNets than for plain nets: residual functions are closer to zero.

This stage trains every (kind, depth, seed) with the same fixed budget through
:func:`nnde.train.train_classifier` (plain and residual nets of one seed start from the
same weights and see the same batches), records training and test error after every
epoch, and afterwards the per-layer response std on the test set (forward hooks on the
BN layers, eval mode).

Profiles: ``small`` uses the bundled 8×8 digits (maps 8/4/2, no augmentation) and a
budget of a few hundred iterations, so absolute errors are not comparable with the
paper's: the verdicts are on the *trends*. ``paper`` uses CIFAR-10 (binary files in
``data/raw``) with the paper's schedule and augmentation (pad-4 random crop and
horizontal flip; SGD momentum 0.9, weight decay 1e-4, batch 128, lr 0.1 divided by 10 at
32k and 48k iterations, stop at 64k). The shared training loop changes the learning rate
per epoch, so the iteration counts are rounded to whole epochs (the actual numbers are
recorded); the 400-iteration warm-up at lr 0.01 the paper uses for ResNet-110 is not done.
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pandas as pd
import torch

from nnde.errors import ParamError
from nnde.models.he import KINDS, cifar_net, depth_to_n
from nnde.stage import (
    StageOutputs,
    check,
    fmt,
    get_choice,
    get_list,
    get_number,
    load_params,
    positive_float,
    run_main,
)
from nnde.train import TrainConfig, count_parameters, seed_everything, set_threads, train_classifier

PAPER, STAGE = "he", "degradation"
DATASETS = ("digits", "cifar10")
AUGMENTS = ("none", "crop_flip")

#: He et al. (2016), Table 6: CIFAR-10 test error (%) and parameters of the ResNets.
PAPER_RESNET = {20: (8.75, 0.27e6), 32: (7.51, 0.46e6), 44: (7.17, 0.66e6),
                56: (6.97, 0.85e6), 110: (6.43, 1.7e6)}


# --------------------------------------------------------------------------- data
def load_data(cfg: dict):
    """``(x_train, y_train, x_test, y_test)``, float32 images normalised per channel with
    the training set's mean and std (the paper subtracts the per-pixel mean)."""
    if cfg["dataset"] == "digits":
        from nnde.data import digits_split

        s = digits_split(cfg["split_seed"], val_frac=0.0, test_frac=cfg["test_frac"])
        xtr, ytr, xte, yte = s.x_train, s.y_train, s.x_test, s.y_test
    else:
        from nnde.data import load_cifar10

        xtr, ytr = load_cifar10(cfg["data_root"], "train")
        xte, yte = load_cifar10(cfg["data_root"], "test")
        xtr, xte = xtr.float() / 255.0, xte.float() / 255.0
    if cfg["train_subset"]:
        g = torch.Generator().manual_seed(cfg["split_seed"])
        idx = torch.randperm(len(xtr), generator=g)[: cfg["train_subset"]].sort().values
        xtr, ytr = xtr[idx], ytr[idx]
    mean = xtr.mean(dim=(0, 2, 3), keepdim=True)
    std = xtr.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    return (xtr - mean) / std, ytr, (xte - mean) / std, yte


def crop_flip(pad: int):
    """The paper's augmentation: zero-pad by ``pad``, random crop back to size, random
    horizontal flip; drawn from the training loop's seeded generator."""

    def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        B, C, H, W = x.shape
        xp = torch.nn.functional.pad(x, (pad, pad, pad, pad))
        oy = torch.randint(0, 2 * pad + 1, (B,), generator=gen)
        ox = torch.randint(0, 2 * pad + 1, (B,), generator=gen)
        flip = torch.rand(B, generator=gen) < 0.5
        rows = (oy[:, None] + torch.arange(H))[:, :, None]  # (B, H, 1)
        cols = ox[:, None] + torch.arange(W)  # (B, W)
        cols = torch.where(flip[:, None], cols.flip(1), cols)[:, None, :]  # (B, 1, W)
        out = xp[torch.arange(B)[:, None, None], :, rows, cols]  # (B, H, W, C)
        return out.permute(0, 3, 1, 2).contiguous()

    return augment


# --------------------------------------------------------------------------- training
def schedule(cfg: dict, n_train: int) -> tuple[int, tuple[int, ...], int]:
    """Iterations → (epochs, lr-drop epochs, iterations per epoch)."""
    per_epoch = math.ceil(n_train / cfg["batch_size"])
    epochs = max(1, round(cfg["iterations"] / per_epoch))
    drops = tuple(sorted({max(1, round(d / per_epoch)) for d in cfg["lr_drops"]}))
    return epochs, drops, per_epoch


def train_one(kind: str, depth: int, seed: int, cfg: dict, data=None) -> dict:
    """Train one net; return its history records, response stds and parameter count."""
    from nnde.models.he import ResponseRecorder

    set_threads(cfg["threads"])
    cpu0 = time.process_time()
    xtr, ytr, xte, yte = data if data is not None else load_data(cfg)
    epochs, drops, _ = schedule(cfg, len(xtr))
    seed_everything(seed)  # same seed → same initial weights for plain and residual
    net = cifar_net(kind, depth, in_channels=xtr.shape[1], num_classes=int(ytr.max()) + 1)
    tc = TrainConfig(
        epochs=epochs, batch_size=cfg["batch_size"], lr=cfg["lr"], optimizer="sgd",
        momentum=cfg["momentum"], weight_decay=cfg["weight_decay"], milestones=drops,
        gamma=0.1, seed=seed, device=cfg["device"], stage=f"{PAPER}.{STAGE}",
        model_name=f"{kind}-{depth}", eval_batch_size=cfg["eval_batch_size"],
    )
    augment = crop_flip(cfg["pad"]) if cfg["augment"] == "crop_flip" else None
    hist = train_classifier(net, xtr, ytr, tc, evals={"test": (xte, yte)}, augment=augment)
    net.eval()
    device = next(net.parameters()).device
    with torch.no_grad(), ResponseRecorder(net) as rec:
        for i in range(0, len(xte), cfg["eval_batch_size"]):
            net(xte[i : i + cfg["eval_batch_size"]].to(device))
    return {
        "kind": kind, "depth": depth, "seed": seed, "params": count_parameters(net),
        "records": hist.records, "stds": rec.stds(), "seconds": hist.seconds,
        "cpu_seconds": time.process_time() - cpu0,
    }


def _job(args):
    return train_one(*args)


def run(cfg: dict, data=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train every (kind, depth, seed). Returns (history, responses): tidy frames with
    one row per (kind, depth, seed, epoch) and per (kind, depth, seed, layer)."""
    jobs = [(k, d, s, cfg) for d, s, k in itertools.product(
        sorted(cfg["depths"], reverse=True), cfg["seeds"], KINDS)]  # longest first
    if cfg["workers"] > 1 and data is None:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(cfg["workers"], mp_context=mp.get_context("spawn")) as ex:
            results = list(ex.map(_job, jobs))
    else:
        data = data if data is not None else load_data(cfg)
        results = [train_one(*j, data=data) for j in jobs]
    hist, resp = [], []
    for r in results:
        key = {"kind": r["kind"], "depth": r["depth"], "seed": r["seed"], "params": r["params"]}
        for rec in r["records"]:
            hist.append({**key, **rec, "seconds": r["seconds"], "cpu_seconds": r["cpu_seconds"]})
        for i, s in enumerate(r["stds"]):
            resp.append({**key, "layer": i + 1, "std": s})
    hist = pd.DataFrame(hist).sort_values(["kind", "depth", "seed", "epoch"])
    resp = pd.DataFrame(resp).sort_values(["kind", "depth", "seed", "layer"])
    return hist.reset_index(drop=True), resp.reset_index(drop=True)


# --------------------------------------------------------------------------- summaries
def final_table(hist: pd.DataFrame) -> pd.DataFrame:
    """Per (kind, depth): final training and test error in %, mean and std over seeds."""
    last = hist[hist.epoch == hist.groupby(["kind", "depth", "seed"]).epoch.transform("max")]
    g = last.groupby(["kind", "depth"])
    out = pd.DataFrame({
        "params": g.params.first(),
        "train_error_mean": 100 * g.train_error.mean(),
        "train_error_std": 100 * g.train_error.std(ddof=0),
        "test_error_mean": 100 * g.test_error.mean(),
        "test_error_std": 100 * g.test_error.std(ddof=0),
        "seeds": g.seed.nunique(),
    }).reset_index()
    return out


def table6(final: pd.DataFrame) -> pd.DataFrame:
    """Table 6 analog: ours (plain and residual) beside the paper's CIFAR-10 ResNets."""
    rows = []
    for depth in sorted(final.depth.unique()):
        p = final[(final.kind == "plain") & (final.depth == depth)].iloc[0]
        r = final[(final.kind == "residual") & (final.depth == depth)].iloc[0]
        paper = PAPER_RESNET.get(int(depth))
        rows.append({
            "depth": int(depth),
            "params": int(r.params),
            "plain test error %": f"{p.test_error_mean:.2f} ± {p.test_error_std:.2f}",
            "residual test error %": f"{r.test_error_mean:.2f} ± {r.test_error_std:.2f}",
            "plain train error %": f"{p.train_error_mean:.2f} ± {p.train_error_std:.2f}",
            "residual train error %": f"{r.train_error_mean:.2f} ± {r.train_error_std:.2f}",
            "paper ResNet test error % (CIFAR-10)": f"{paper[0]:.2f}" if paper else "—",
            "paper params": f"{paper[1] / 1e6:.2f}M" if paper else "—",
        })
    return pd.DataFrame(rows)


def response_summary(resp: pd.DataFrame) -> pd.DataFrame:
    """Mean over layers (and seeds) of the response std, per (kind, depth)."""
    g = resp.groupby(["kind", "depth", "seed"])["std"].mean().reset_index()
    return g.groupby(["kind", "depth"])["std"].agg(["mean", "std"]).reset_index().rename(
        columns={"mean": "mean_response_std", "std": "seed_std"})


# --------------------------------------------------------------------------- claims
def make_claims(final: pd.DataFrame, resp_sum: pd.DataFrame, profile: str) -> list:
    def val(kind, depth, col):
        return float(final[(final.kind == kind) & (final.depth == depth)][col].iloc[0])

    depths = sorted(int(d) for d in final.depth.unique())
    lo, hi = depths[0], depths[-1]
    scale = ("" if profile == "paper" else
             f"At the {profile} profile (8×8 digits, a short fixed budget) absolute errors "
             "are not comparable with CIFAR-10; only the trend is checked.")

    def spread(kind, col):
        return max(val(kind, lo, col.replace("mean", "std")), val(kind, hi, col.replace("mean",
                                                                                        "std")))

    claims = []
    # Figure 6, left: degradation of plain nets.
    p_lo, p_hi = val("plain", lo, "train_error_mean"), val("plain", hi, "train_error_mean")
    sp = spread("plain", "train_error_mean")
    claims.append(check(
        "plain_degrades",
        f"Deeper plain nets end with higher training error (plain-{hi} above plain-{lo})",
        paper="plain-56 above plain-20 throughout training (Fig. 6, left)",
        ours="final training error " + ", ".join(
            f"plain-{d}: {fmt(val('plain', d, 'train_error_mean'), 3)}%" for d in depths),
        rule=f"train error(plain-{hi}) − train error(plain-{lo}) > seed spread "
             f"(largest std over seeds, {fmt(sp, 2)} pp); partly if merely > 0",
        passed=p_hi - p_lo > sp, partly=p_hi > p_lo, note=scale,
    ))
    # Figure 6, right: residual nets do not degrade.
    r_lo, r_hi = val("residual", lo, "train_error_mean"), val("residual", hi, "train_error_mean")
    sr = spread("residual", "train_error_mean")
    claims.append(check(
        "residual_does_not_degrade",
        f"Deeper residual nets do not end with higher training error (ResNet-{hi} vs "
        f"ResNet-{lo})",
        paper="ResNet-56 below ResNet-20 (Fig. 6, middle)",
        ours="final training error " + ", ".join(
            f"ResNet-{d}: {fmt(val('residual', d, 'train_error_mean'), 3)}%" for d in depths),
        rule=f"train error(ResNet-{hi}) ≤ train error(ResNet-{lo}) + seed spread "
             f"({fmt(sr, 2)} pp); partly if the excess is below half the plain nets' excess",
        passed=r_hi <= r_lo + sr, partly=(r_hi - r_lo) < 0.5 * (p_hi - p_lo), note=scale,
    ))
    # Residual beats plain at the largest depth.
    tr = (val("residual", hi, "train_error_mean"), val("plain", hi, "train_error_mean"))
    te = (val("residual", hi, "test_error_mean"), val("plain", hi, "test_error_mean"))
    claims.append(check(
        "residual_beats_plain_deepest",
        f"At the largest depth ({hi}) the residual net beats the plain net, in training and "
        "test error",
        paper="ResNet-56 6.97% vs plain-56 > 10% test error; lower training error (Fig. 6)",
        ours=f"train {fmt(tr[0], 3)}% vs {fmt(tr[1], 3)}%, test {fmt(te[0], 3)}% vs "
             f"{fmt(te[1], 3)}% (residual vs plain)",
        rule="residual < plain for both; partly if for one of them",
        passed=tr[0] < tr[1] and te[0] < te[1], partly=tr[0] < tr[1] or te[0] < te[1],
        note=scale,
    ))
    # Table 6: ResNets improve with depth.
    r_te = [val("residual", d, "test_error_mean") for d in depths]
    claims.append(check(
        "resnet_test_error_falls_with_depth",
        "Deeper ResNets reach lower test error (Table 6)",
        paper="ResNet-20/32/44/56/110: 8.75 / 7.51 / 7.17 / 6.97 / 6.43 % (CIFAR-10)",
        ours=", ".join(f"ResNet-{d}: {fmt(e, 3)}%" for d, e in zip(depths, r_te, strict=True)),
        rule="test error non-increasing in depth; partly if the deepest is below the "
             "shallowest",
        passed=all(np.diff(r_te) <= 0), partly=r_te[-1] < r_te[0], note=scale,
    ))
    # Figure 7: response std.
    def rs(kind, d):
        return float(resp_sum[(resp_sum.kind == kind) & (resp_sum.depth == d)]
                     .mean_response_std.iloc[0])

    smaller = [rs("residual", d) < rs("plain", d) for d in depths]
    claims.append(check(
        "residual_responses_smaller",
        "Layer responses (after BN, before addition/ReLU) have smaller std in residual than "
        "in plain nets (Fig. 7)",
        paper="ResNet responses smaller than plain at every depth shown (Fig. 7)",
        ours=", ".join(f"depth {d}: {fmt(rs('residual', d), 3)} vs {fmt(rs('plain', d), 3)}"
                       for d in depths) + " (mean over layers, residual vs plain)",
        rule="mean response std residual < plain at every depth; partly if at the largest",
        passed=all(smaller), partly=smaller[-1],
    ))
    r_std = [rs("residual", d) for d in depths]
    claims.append(check(
        "deeper_resnet_responses_smaller",
        "The deeper the ResNet, the smaller its responses (Fig. 7)",
        paper="ResNet-110 below ResNet-56 below ResNet-20 (Fig. 7)",
        ours=", ".join(f"ResNet-{d}: {fmt(s, 3)}" for d, s in zip(depths, r_std, strict=True)),
        rule="mean response std decreasing in depth; partly if the deepest is below the "
             "shallowest",
        passed=all(np.diff(r_std) < 0), partly=r_std[-1] < r_std[0],
    ))
    return claims


# --------------------------------------------------------------------------- figures
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def curves_figure(hist: pd.DataFrame):
    """Figure 6 analog: error against iterations, plain left, residual right; dashed
    training, solid test; mean over seeds with a min–max band."""
    import matplotlib.ticker
    import seaborn as sns

    plt = _plt()
    depths = sorted(hist.depth.unique())
    colors = dict(zip(depths, sns.color_palette("viridis", len(depths)), strict=True))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, kind in zip(axes, KINDS, strict=True):
        for d in depths:
            sub = hist[(hist.kind == kind) & (hist.depth == d)]
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
    plt = _plt()
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

    plt = _plt()
    depths = sorted(resp.depth.unique())
    colors = dict(zip(depths, sns.color_palette("viridis", len(depths)), strict=True))
    fig, axes = plt.subplots(2, 1, figsize=(8, 6.5))
    for kind, ls in (("plain", "--"), ("residual", "-")):
        for d in depths:
            m = resp[(resp.kind == kind) & (resp.depth == d)].groupby("layer")["std"].mean()
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


# --------------------------------------------------------------------------- config
def read_config(p: dict) -> dict:
    sec = f"{PAPER}.{STAGE}"

    def depth(v, name):
        try:
            depth_to_n(v)
        except ValueError:
            allowed = "6n + 2 with n >= 1: 8, 14, 20, 26, 32, …"
            raise ParamError(name, f"is {v!r}", allowed) from None
        return int(v)

    def seed(v, name):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ParamError(name, f"is {v!r}", "an integer >= 0")
        return v

    def drop(v, name):
        return positive_float(v, name)

    cfg = {
        "dataset": get_choice(p, "dataset", DATASETS, sec),
        "depths": get_list(p, "depths", depth, sec),
        "seeds": get_list(p, "seeds", seed, sec),
        "split_seed": get_number(p, "split_seed", sec, kind=int, ge=0),
        "test_frac": get_number(p, "test_frac", sec, gt=0, le=0.9),
        "train_subset": get_number(p, "train_subset", sec, kind=int, ge=0),
        "iterations": get_number(p, "iterations", sec, kind=int, gt=0),
        "lr_drops": (get_list(p, "lr_drops", drop, sec) if p.get("lr_drops") != [] else []),
        "batch_size": get_number(p, "batch_size", sec, kind=int, gt=0),
        "eval_batch_size": get_number(p, "eval_batch_size", sec, kind=int, gt=0),
        "lr": get_number(p, "lr", sec, gt=0),
        "momentum": get_number(p, "momentum", sec, ge=0, le=1),
        "weight_decay": get_number(p, "weight_decay", sec, ge=0),
        "augment": get_choice(p, "augment", AUGMENTS, sec),
        "pad": get_number(p, "pad", sec, kind=int, ge=0),
        "data_root": str(p.get("data_root", "data/raw")),
        "device": get_choice(p, "device", ("cpu", "cuda", "auto"), sec),
        "threads": get_number(p, "threads", sec, kind=int, ge=0),
        "workers": get_number(p, "workers", sec, kind=int, gt=0),
    }
    if len(set(cfg["depths"])) < 2:
        raise ParamError(f"{sec}.depths", f"is {cfg['depths']!r}", "at least two distinct depths")
    if any(d >= cfg["iterations"] for d in cfg["lr_drops"]):
        raise ParamError(f"{sec}.lr_drops", f"is {cfg['lr_drops']!r}",
                         f"iterations below iterations ({cfg['iterations']})")
    if cfg["device"] != "cpu" and cfg["workers"] > 1:
        raise ParamError(f"{sec}.workers", f"is {cfg['workers']}", "1 unless device is cpu")
    cfg["depths"] = sorted(set(cfg["depths"]))
    cfg["profile"] = p.get("profile", "small")
    return cfg


def main() -> None:
    cfg = read_config(load_params(f"{PAPER}.{STAGE}"))
    t0 = time.perf_counter()
    hist, resp = run(cfg)
    wall = time.perf_counter() - t0
    final = final_table(hist)
    resp_sum = response_summary(resp)
    claims = make_claims(final, resp_sum, cfg["profile"])
    n_train = int(hist.iteration.max())
    data_txt = ("the bundled 8×8 digits (maps 8/4/2, no augmentation)" if cfg["dataset"] ==
                "digits" else "CIFAR-10 (pad-4 crop and flip)" if cfg["augment"] == "crop_flip"
                else "CIFAR-10")
    title = "Figure 6, Table 6, Figure 7: the degradation problem, plain vs residual nets"
    with StageOutputs(PAPER, STAGE, title) as out:
        out.params(cfg)
        out.text(
            f"Plain and residual 6n+2-layer nets (16/32/64 filters, BN before ReLU, option-A "
            f"shortcuts, hence identical parameter counts) trained on {data_txt} for "
            f"{n_train} iterations each (batch {cfg['batch_size']}, SGD momentum "
            f"{cfg['momentum']}, weight decay {cfg['weight_decay']}, lr {cfg['lr']} ÷10 at "
            f"{cfg['lr_drops']} iterations, rounded to whole epochs), seeds {cfg['seeds']}. "
            "Plain and residual nets of one seed start from the same weights and see the same "
            "batches. Training error is measured after each epoch on the un-augmented training "
            "set in eval mode.\n\n"
            "Within a stage, the residual block x ← ReLU(x + F(x)) is a forward-Euler step "
            "(h = 1) of dx/dt = F(x; θ(t)) followed by a ReLU; the plain block x ← ReLU(F(x)) "
            "is not a small step of any flow.\n\n"
            "Layer responses (Figure 7) are the outputs of every BN layer (after BN, before the "
            "addition and the ReLU) on the test set in eval mode: for each channel the std "
            "over examples and positions, averaged over channels, then over seeds.\n\n"
            + ("The paper's numbers are CIFAR-10 test errors; ours on 8×8 digits with a small "
               "budget are not comparable in absolute value — the verdicts are on the trends. "
               "With so short a budget the deepest plain nets have barely begun to fit, so "
               "the gap between plain depths measures how slowly deep plain nets train as "
               "much as where they would end; it is far larger than the paper's. The "
               "learning rate is below the paper's 0.1, at which ResNet-56 diverges in its "
               "first iterations on the digits at this batch size."
               if cfg["dataset"] == "digits" else "")
            + f"\n\nWall time of the training: {wall:.0f} s ({cfg['workers']} worker(s), "
            f"{cfg['threads'] or 'default'} thread(s) each)."
        )
        out.csv(STAGE, hist)
        out.csv(f"{STAGE}_final", final)
        out.csv(f"{STAGE}_table6", table6(final), show=True,
                caption="Table 6 analog: test error (mean ± std over seeds) of our plain and "
                        "residual nets beside the paper's CIFAR-10 ResNets")
        out.csv(f"{STAGE}_responses", resp)
        out.csv(f"{STAGE}_response_summary", resp_sum, show=True,
                caption="Mean over layers of the response std (Figure 7), mean and std over "
                        "seeds")
        out.figure("curves", curves_figure(hist),
                   "Figure 6 analog: training error (dashed) and test error (solid) against "
                   "iterations; plain nets left, residual nets right; mean over seeds, band "
                   "min–max.")
        out.figure("final_error", final_figure(final),
                   "Final training and test error against depth (mean ± std over seeds).")
        out.figure("responses", responses_figure(resp),
                   "Figure 7 analog: std of each layer's response (after BN, before addition/"
                   "ReLU), in layer order (top) and sorted (bottom); dashed plain, solid "
                   "residual.")
        metrics = {"wall_seconds": round(wall, 1)}
        for r in final.itertuples(index=False):
            metrics[f"{r.kind}{r.depth}.train_error"] = r.train_error_mean
            metrics[f"{r.kind}{r.depth}.test_error"] = r.test_error_mean
            metrics[f"{r.kind}{r.depth}.params"] = int(r.params)
        for r in resp_sum.itertuples(index=False):
            metrics[f"{r.kind}{r.depth}.response_std"] = r.mean_response_std
        out.metrics(metrics)
        out.claims(claims)


if __name__ == "__main__":
    run_main(main, f"{PAPER}.{STAGE}")
