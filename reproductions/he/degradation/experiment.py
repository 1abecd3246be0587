"""He, Zhang, Ren & Sun (2016), the degradation problem: Figure 6, Table 6 and Figure 7.

The paper trains plain and residual ``6n + 2``-layer nets on CIFAR-10 (option-A
shortcuts, so both have the same parameters; see :mod:`nnde.models.he`) and finds:

* Figure 6: deeper *plain* nets end with *higher training error* (plain-56 above
  plain-20) — degradation, not overfitting — while deeper residual nets do better;
* Table 6: ResNet-20/32/44/56/110 reach 8.75 / 7.51 / 7.17 / 6.97 / 6.43 % test error;
* Figure 7: the std of the layer responses (after BN, before the addition and ReLU) is
  smaller for ResNets than for plain nets, and smaller the deeper the ResNet.

This stage trains every (kind, depth, seed) through :func:`nnde.train.train_classifier`
(plain and residual nets of one seed start from the same weights and see the same
batches), records training and test error after every epoch, and afterwards the
per-layer response std on the test set (forward hooks on the BN layers, eval mode).
Every claim is judged against the spread over seeds: a difference smaller than the
larger std over seeds of the two things compared is not a reproduction.

Profiles:

* ``small`` (and ``tiny``): MNIST-1D (Greydanus & Kobak 2024; 4,000 training and 1,000
  test signals of length 40) with the same nets in 1-D (Conv1d, 3-tap kernels, maps
  40/20/10), no augmentation, the paper's optimiser and batch (SGD momentum 0.9, weight
  decay 1e-4, batch 128, lr 0.1) and several seeds. Each net trains until its training
  loss reaches a plateau (:class:`nnde.train.Plateau`: lr ÷10 at the first plateau, stop
  at the second, or once the training set is fitted), with an epoch cap. So the
  degradation claims compare the training error *where each net stopped*, after a
  number of epochs that is recorded per net, not curves after one common schedule as in
  the paper's Figure 6. Absolute errors are not comparable with CIFAR-10.
* ``paper``: the paper's protocol on CIFAR-10 (binary files in ``data/raw``): plain nets
  at 20/32/44/56 layers (Fig. 6 shows these; "the error of plain-110 is higher than 60 %
  and not displayed"), ResNets at 20/32/44/56/110; pad-4 random crop and
  horizontal flip; SGD momentum 0.9, weight decay 1e-4, batch 128, lr 0.1 divided by 10
  at 32k and 48k iterations, stop at 64k. The learning rate is set per *iteration* by an
  ``on_step`` hook (:class:`LrSchedule`), so the drops fall on the paper's iterations;
  ResNet-110 is warmed up at lr 0.01 until its training error (over the last
  ``warmup_window`` mini-batches) is below 80 %, then trained at 0.1 (the paper: "about
  400 iterations"; the iteration where it switched is recorded). Training runs whole
  epochs, so it stops at the end of the epoch nearest to 64k iterations (the actual
  count is recorded).
"""

from __future__ import annotations

import collections
import math
import time

import numpy as np
import pandas as pd
import torch

from nnde.errors import ParamError
from nnde.models.he import KINDS, cifar_net, depth_to_n
from nnde.parallel import map_jobs
from nnde.stage import (
    StageOutputs,
    check,
    convergence_note,
    fmt,
    get_choice,
    get_list,
    get_number,
    get_threads,
    load_params,
    positive_int,
    run_main,
)
from nnde.train import (
    Plateau,
    TrainConfig,
    count_parameters,
    seed_everything,
    set_threads,
    train_classifier,
)

PAPER, STAGE = "he", "degradation"
CLAIM_IDS = ("plain_degrades", "residual_does_not_degrade", "residual_beats_plain_deepest",
             "resnet_test_error_falls_with_depth", "residual_responses_smaller",
             "deeper_resnet_responses_smaller")
#: floor of every comparison: a net above this test error (in %) has not learned the
#: 10-class task (chance: 90 %), and a claim resting on it is inconclusive
MAX_ERROR_PCT = 70.0
DATASETS = ("mnist1d", "digits", "cifar10")
AUGMENTS = ("none", "crop_flip")

#: He et al. (2016), Table 6: CIFAR-10 test error (%) and parameters of the ResNets.
PAPER_RESNET = {20: (8.75, 0.27e6), 32: (7.51, 0.46e6), 44: (7.17, 0.66e6),
                56: (6.97, 0.85e6), 110: (6.43, 1.7e6)}


# --------------------------------------------------------------------------- data
def load_data(cfg: dict):
    """``(x_train, y_train, x_test, y_test)``: float32 signals ``(N, 1, 40)`` (MNIST-1D)
    or images ``(N, C, H, W)``, normalised per channel with the training set's mean and
    std (the paper subtracts the per-pixel mean)."""
    if cfg["dataset"] == "mnist1d":
        from nnde.data import load_mnist1d

        s = load_mnist1d(cfg["mnist1d_path"])
        xtr, ytr, xte, yte = s.x_train, s.y_train, s.x_test, s.y_test
    elif cfg["dataset"] == "digits":
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
    axes = (0, *range(2, xtr.ndim))  # all but the channels
    mean = xtr.mean(dim=axes, keepdim=True)
    std = xtr.std(dim=axes, keepdim=True).clamp_min(1e-6)
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
class LrSchedule:
    """Per-iteration learning rate, an ``on_step`` hook of :func:`train_classifier`.

    Iteration ``s`` (counting from 1) trains at ``lr · gamma^k``, k the number of entries
    of ``drops`` below ``s`` (the paper: 0.1, ÷10 after 32k and 48k iterations). With
    ``warmup_lr`` the net starts at that rate instead and keeps it until the training
    error of the last ``warmup_window`` mini-batches (in train mode, as a training log
    reports it) is below ``warmup_error`` (or the schedule's drops go below it); then it
    follows the schedule (He et al. 2016,
    §4.2, ResNet-110: 0.01 "until the training error is below 80 % (about 400
    iterations)"). ``changes`` lists ``(first iteration, lr)`` at every change;
    ``warmup_end`` is the iteration after which the warm-up ended (None: none, or not
    yet). Under torchrun the error is all-reduced, so every rank switches together."""

    def __init__(self, lr: float, drops=(), gamma: float = 0.1, warmup_lr: float | None = None,
                 warmup_error: float = 0.8, warmup_window: int = 50):
        self.base, self.drops, self.gamma = lr, tuple(sorted(drops)), gamma
        self.warmup_lr, self.warmup_error = warmup_lr, warmup_error
        self.warming = warmup_lr is not None
        self._errors: collections.deque = collections.deque(maxlen=warmup_window)
        self.warmup_end: int | None = None
        self.current = warmup_lr if self.warming else lr
        self.changes: list[tuple[int, float]] = [(1, self.current)]
        self._first = True

    def scheduled(self, step: int) -> float:
        """The learning rate of iteration ``step`` once any warm-up is over."""
        return self.base * self.gamma ** sum(step > d for d in self.drops)

    def __call__(self, opt: torch.optim.Optimizer, step: int, logits: torch.Tensor,
                 targets: torch.Tensor) -> None:
        if self._first and step > 1:  # resumed from a checkpoint: was the warm-up over?
            self.warming = self.warming and opt.param_groups[0]["lr"] == self.warmup_lr
            self.current = opt.param_groups[0]["lr"]
        self._first = False
        if self.warming:
            counts = torch.tensor([float((logits.argmax(1) != targets).sum()), len(targets)])
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                torch.distributed.all_reduce(counts)
            self._errors.append(counts)
            wrong, n = torch.stack(list(self._errors)).sum(0).tolist()
            if wrong / n < self.warmup_error:
                self.warming, self.warmup_end = False, step
        # during the warm-up the schedule's drops still cap the rate
        lr = (min(self.warmup_lr, self.scheduled(step + 1)) if self.warming
              else self.scheduled(step + 1))
        if lr != self.current:
            for g in opt.param_groups:
                g["lr"] = lr
            self.current = lr
            self.changes.append((step + 1, lr))


def epochs_for(cfg: dict, n_train: int) -> tuple[int, int]:
    """(epochs, iterations per epoch): the fixed schedule's iterations rounded to whole
    epochs, or the plateau profile's epoch cap."""
    per_epoch = math.ceil(n_train / cfg["batch_size"])
    if cfg["plateau"] is not None:
        return cfg["max_epochs"], per_epoch
    return max(1, round(cfg["iterations"] / per_epoch)), per_epoch


def train_one(kind: str, depth: int, seed: int, cfg: dict, data=None, workers: int = 1) -> dict:
    """Train one net; return its history records, run summary, response stds and
    parameter count. ``workers``: processes sharing the cores (for ``threads: auto``)."""
    from nnde.models.he import ResponseRecorder

    set_threads(cfg["threads"], workers)
    cpu0 = time.process_time()
    xtr, ytr, xte, yte = data if data is not None else load_data(cfg)
    epochs, _ = epochs_for(cfg, len(xtr))
    seed_everything(seed)  # same seed → same initial weights for plain and residual
    net = cifar_net(kind, depth, in_channels=xtr.shape[1], num_classes=int(ytr.max()) + 1,
                    dims=xtr.ndim - 2, widths=cfg["widths"])
    sched = None
    if cfg["plateau"] is None:  # the paper's schedule, per iteration
        warm = depth in cfg["warmup_depths"]
        sched = LrSchedule(cfg["lr"], cfg["lr_drops"], 0.1,
                           warmup_lr=cfg["warmup_lr"] if warm else None,
                           warmup_error=cfg["warmup_error"], warmup_window=cfg["warmup_window"])
    tc = TrainConfig(
        epochs=epochs, batch_size=cfg["batch_size"],
        lr=sched.current if sched is not None else cfg["lr"], optimizer="sgd",
        momentum=cfg["momentum"], weight_decay=cfg["weight_decay"], milestones=(),
        seed=seed, device=cfg["device"], stage=f"{PAPER}.{STAGE}",
        model_name=f"{kind}-{depth}", eval_batch_size=cfg["eval_batch_size"],
        plateau=cfg["plateau"],
        train_eval_subset=cfg["train_eval_subset"],
    )
    augment = crop_flip(cfg["pad"]) if cfg["augment"] == "crop_flip" else None
    hist = train_classifier(
        net, xtr, ytr, tc, evals={"test": (xte, yte)}, augment=augment, on_step=sched,
        on_epoch=(lambda m, e: {"lr": sched.current}) if sched is not None else None)
    net.eval()
    device = next(net.parameters()).device
    with torch.no_grad(), ResponseRecorder(net) as rec:
        for i in range(0, len(xte), cfg["eval_batch_size"]):
            net(xte[i : i + cfg["eval_batch_size"]].to(device))
    last = hist.records[-1]
    return {
        "kind": kind, "depth": depth, "seed": seed, "params": count_parameters(net),
        "records": hist.records, "stds": rec.stds(),
        "summary": {**hist.summary(), "final_test_error": last["test_error"],
                    "iterations": hist.iterations,
                    "warmup_end": sched.warmup_end if sched is not None else None,
                    "seconds": hist.seconds, "cpu_seconds": time.process_time() - cpu0},
        "lr_changes": sched.changes if sched is not None else [],
    }


def jobs(cfg: dict) -> list[tuple[str, int, int]]:
    """Every (kind, depth, seed) to train, the deepest first (for the process pool)."""
    out = [(k, d, s) for k in KINDS for d in cfg[f"{k}_depths"] for s in cfg["seeds"]]
    return sorted(out, key=lambda j: (-j[1], j[2], KINDS.index(j[0])))


def run(cfg: dict, data=None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train every (kind, depth, seed). Returns (history, responses, runs): tidy frames
    with one row per (kind, depth, seed, epoch), per (kind, depth, seed, layer) and per
    (kind, depth, seed) (final errors, epochs run, convergence, times)."""
    todo = jobs(cfg)
    data = data if data is not None else load_data(cfg)
    results = map_jobs(train_one, [(*j, cfg, data, cfg["workers"]) for j in todo],
                       cfg["workers"], cfg["threads"])
    hist, resp, runs = [], [], []
    for r in results:
        key = {"kind": r["kind"], "depth": r["depth"], "seed": r["seed"], "params": r["params"]}
        for rec in r["records"]:
            hist.append({**key, **rec})
        for i, s in enumerate(r["stds"]):
            resp.append({**key, "layer": i + 1, "std": s})
        runs.append({**key, **r["summary"]})
    hist = pd.DataFrame(hist).sort_values(["kind", "depth", "seed", "epoch"])
    resp = pd.DataFrame(resp).sort_values(["kind", "depth", "seed", "layer"])
    runs = pd.DataFrame(runs).sort_values(["kind", "depth", "seed"])
    return (hist.reset_index(drop=True), resp.reset_index(drop=True),
            runs.reset_index(drop=True))


def convergence_rows(runs: pd.DataFrame) -> list[dict]:
    """Rows for :meth:`StageOutputs.convergence`: one per trained net."""
    def conv(v):  # None (a fixed budget) or a plain bool, whatever pandas made of it
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else bool(v)

    return [{"model": model_name(r["kind"], r["depth"], r["seed"]),
             "final_train_loss": float(r["final_train_loss"]),
             "final_train_error": float(r["final_train_error"]),
             "epochs_run": int(r["epochs_run"]), "converged": conv(r["converged"]),
             "stop_reason": str(r["stop_reason"])}
            for r in runs.to_dict("records")]


def model_name(kind: str, depth: int, seed: int) -> str:
    return f"{kind}-{int(depth)} seed {int(seed)}"


# --------------------------------------------------------------------------- summaries
def _std(v: pd.Series) -> float:
    """Sample std over seeds (ddof 1); 0 for a single seed (no spread to judge by)."""
    return float(v.std(ddof=1)) if len(v) > 1 else 0.0


def final_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (kind, depth): final training error and loss, test error (errors in %) and
    epochs run, mean and std over seeds; how many seeds met the plateau criterion."""
    rows = []
    for (kind, depth), g in runs.groupby(["kind", "depth"]):
        conv = [c for c in g.converged if c is not None and c == c]
        rows.append({
            "kind": kind, "depth": int(depth), "params": int(g.params.iloc[0]),
            "train_error_mean": 100 * g.final_train_error.mean(),
            "train_error_std": 100 * _std(g.final_train_error),
            "train_loss_mean": g.final_train_loss.mean(),
            "train_loss_std": _std(g.final_train_loss),
            "test_error_mean": 100 * g.final_test_error.mean(),
            "test_error_std": 100 * _std(g.final_test_error),
            "epochs_mean": g.epochs_run.mean(), "epochs_min": int(g.epochs_run.min()),
            "epochs_max": int(g.epochs_run.max()),
            "iterations_mean": g.iterations.mean(),
            "converged": f"{sum(bool(c) for c in conv)}/{len(g)}" if conv else "fixed budget",
            "seeds": int(g.seed.nunique()),
        })
    return pd.DataFrame(rows)


def table6(final: pd.DataFrame) -> pd.DataFrame:
    """Table 6 analog: ours (plain and residual) beside the paper's CIFAR-10 ResNets."""
    def cell(kind, depth, col):
        r = final[(final.kind == kind) & (final.depth == depth)]
        if r.empty:
            return "—"
        return f"{r[col + '_mean'].iloc[0]:.2f} ± {r[col + '_std'].iloc[0]:.2f}"

    def epochs(kind, depth):
        r = final[(final.kind == kind) & (final.depth == depth)]
        return "—" if r.empty else f"{r.epochs_mean.iloc[0]:.1f} ({r.converged.iloc[0]})"

    rows = []
    for depth in sorted(final.depth.unique()):
        paper = PAPER_RESNET.get(int(depth))
        rows.append({
            "depth": int(depth),
            "params": int(final[final.depth == depth].params.iloc[0]),
            "plain test error %": cell("plain", depth, "test_error"),
            "residual test error %": cell("residual", depth, "test_error"),
            "plain train error %": cell("plain", depth, "train_error"),
            "residual train error %": cell("residual", depth, "train_error"),
            "plain epochs (converged)": epochs("plain", depth),
            "residual epochs (converged)": epochs("residual", depth),
            "paper ResNet test error % (CIFAR-10)": f"{paper[0]:.2f}" if paper else "—",
            "paper params": f"{paper[1] / 1e6:.2f}M" if paper else "—",
        })
    return pd.DataFrame(rows)


def response_summary(resp: pd.DataFrame) -> pd.DataFrame:
    """Mean over layers of the response std per net, then mean and std over seeds, per
    (kind, depth)."""
    g = resp.groupby(["kind", "depth", "seed"])["std"].mean().reset_index()
    out = g.groupby(["kind", "depth"])["std"].agg(["mean", _std]).reset_index()
    return out.rename(columns={"mean": "mean_response_std", "_std": "seed_std"})


# --------------------------------------------------------------------------- claims
def trend(means, stds, direction: int) -> tuple[bool, bool, float, float]:
    """Is ``means`` (ordered by depth) rising (``direction`` +1) or falling (−1)?

    Returns ``(ends, steps, diff, spread)``: ``ends`` when the deepest differs from the
    shallowest in that direction by more than the seed spread (the larger of their two
    stds over seeds); ``steps`` when no step between neighbouring depths goes the other
    way by more than that pair's spread; ``diff`` = deepest − shallowest."""
    diff, spread = means[-1] - means[0], max(stds[0], stds[-1])
    steps = all(direction * (b - a) >= -max(sa, sb) for a, b, sa, sb in
                zip(means[:-1], means[1:], stds[:-1], stds[1:], strict=True))
    return direction * diff > spread, steps, diff, spread


def _within(diff: float, spread: float, what: str) -> str:
    if abs(diff) > spread:
        return ""
    return (f"The difference in {what} ({fmt(diff, 3)}) is within the seed spread "
            f"({fmt(spread, 3)}): undecided at this number of seeds.")


def make_claims(final: pd.DataFrame, resp_sum: pd.DataFrame, profile: str,
                conv: list[dict] | None = None, dataset: str = "mnist1d",
                plateau: bool = True) -> list:
    """The paper's claims, each judged against the spread over seeds (see :func:`trend`);
    ``conv`` (rows of :func:`convergence_rows`) adds a note naming the nets that did not
    meet the plateau criterion to every claim resting on them."""
    conv = conv or []

    def val(kind, depth, col):
        return float(final[(final.kind == kind) & (final.depth == depth)][col].iloc[0])

    def series(kind, depths, col):
        return ([val(kind, d, f"{col}_mean") for d in depths],
                [val(kind, d, f"{col}_std") for d in depths])

    def rs(kind, d, col="mean_response_std"):
        return float(resp_sum[(resp_sum.kind == kind) & (resp_sum.depth == d)][col].iloc[0])

    def note(*parts, nets=()):
        names = {f"{k}-{d}" for k, d in nets}
        models = [r["model"] for r in conv if r["model"].split(" seed")[0] in names]
        return " ".join(p for p in (*parts, convergence_note(conv, models)) if p)

    def epochs(kind, d):
        return f"{fmt(val(kind, d, 'epochs_mean'), 3)} ep"

    plain = sorted(int(d) for d in final[final.kind == "plain"].depth.unique())
    res = sorted(int(d) for d in final[final.kind == "residual"].depth.unique())
    common = sorted(set(plain) & set(res))
    seeds = int(final.seeds.min())
    scale = ("" if profile == "paper" else
             f"{dataset} at the {profile} profile: absolute errors are not comparable with "
             "CIFAR-10; the verdict is on the trend.")
    if plateau:
        scale += (" Every net trained to its own plateau, so training errors are compared "
                  "where each net stopped (epochs to the plateau, mean over seeds, in "
                  "'ours'), not after one common schedule as in the paper.")
    if seeds < 2:
        scale += " One seed: no spread over seeds to judge a difference by."
    spread_rule = (f"spread = the larger std over seeds ({seeds} seeds) of the two compared")
    floor = (f"every net the claim compares has mean test error ≤ {MAX_ERROR_PCT:g} % "
             f"(chance 90 %: it beats it by at least {90 - MAX_ERROR_PCT:g} pp)")

    def learned(nets):
        return all(val(k, d, "test_error_mean") <= MAX_ERROR_PCT for k, d in nets)

    claims = []
    # Figure 6, left: degradation of plain nets.
    pm, ps = series("plain", plain, "train_error")
    ends, steps, p_diff, sp = trend(pm, ps, +1)
    claims.append(check(
        "plain_degrades",
        f"Deeper plain nets reach higher training error (plain-{plain[-1]} above "
        f"plain-{plain[0]}) (Fig. 6, left)",
        paper="Fig. 6 left: training error plain-56 > 44 > 32 > 20 throughout training",
        ours="final training error " + ", ".join(
            f"plain-{d}: {fmt(m, 3)} ± {fmt(e, 2)}% ({epochs('plain', d)})"
            for d, m, e in zip(plain, pm, ps, strict=True))
            + f"; plain-{plain[-1]} − plain-{plain[0]} = {fmt(p_diff, 3)} pp",
        rule=f"train error(plain-{plain[-1]}) − train error(plain-{plain[0]}) > spread "
             f"({fmt(sp, 2)} pp) and no deeper neighbour lower by more than its pair's "
             f"spread; partly if only the first; {spread_rule}",
        passed=ends and steps, partly=ends,
        note=note(scale, _within(p_diff, sp, "training error (pp)"),
                  nets=[("plain", d) for d in plain]),
        competent=learned([("plain", d) for d in plain]), floor=floor,
    ))
    # Figure 6, middle: residual nets do not degrade.
    rm, rsd = series("residual", res, "train_error")
    r_diff, sr = rm[-1] - rm[0], max(rsd[0], rsd[-1])
    claims.append(check(
        "residual_does_not_degrade",
        f"Deeper residual nets do not reach higher training error (ResNet-{res[-1]} vs "
        f"ResNet-{res[0]}) (Fig. 6, middle)",
        paper="Fig. 6 middle: training error ResNet-56 below ResNet-20, ResNet-110 lowest",
        ours="final training error " + ", ".join(
            f"ResNet-{d}: {fmt(m, 3)} ± {fmt(e, 2)}% ({epochs('residual', d)})"
            for d, m, e in zip(res, rm, rsd, strict=True))
            + f"; ResNet-{res[-1]} − ResNet-{res[0]} = {fmt(r_diff, 3)} pp",
        rule=f"train error(ResNet-{res[-1]}) − train error(ResNet-{res[0]}) ≤ spread "
             f"({fmt(sr, 2)} pp); partly if the rise is below half the plain nets' rise "
             f"({fmt(p_diff, 3)} pp); {spread_rule}",
        passed=r_diff <= sr, partly=r_diff < 0.5 * p_diff,
        note=note(scale, nets=[("residual", d) for d in res]),
        competent=learned([("residual", d) for d in res]), floor=floor,
    ))
    # Figure 6, left vs middle: residual beats plain at the largest common depth.
    D = common[-1]
    tr = (val("residual", D, "train_error_mean"), val("plain", D, "train_error_mean"))
    te = (val("residual", D, "test_error_mean"), val("plain", D, "test_error_mean"))
    s_tr = max(val(k, D, "train_error_std") for k in KINDS)
    s_te = max(val(k, D, "test_error_std") for k in KINDS)
    win_tr, win_te = tr[1] - tr[0] > s_tr, te[1] - te[0] > s_te
    claims.append(check(
        "residual_beats_plain_deepest",
        f"At the largest depth trained as both ({D}) the residual net beats the plain net, "
        "in training and test error (Fig. 6)",
        paper="Fig. 6: ResNet-56 below plain-56 in training and test error (CIFAR-10; "
              "ResNet-56 6.97 % test error, Table 6)",
        ours=f"train {fmt(tr[0], 3)}% vs {fmt(tr[1], 3)}% (spread {fmt(s_tr, 2)} pp), test "
             f"{fmt(te[0], 3)}% vs {fmt(te[1], 3)}% (spread {fmt(s_te, 2)} pp) "
             "(residual vs plain)",
        rule=f"plain − residual > spread for both; partly if for one of them; {spread_rule}",
        passed=win_tr and win_te, partly=win_tr or win_te,
        note=note(scale, _within(tr[1] - tr[0], s_tr, "training error (pp)"),
                  _within(te[1] - te[0], s_te, "test error (pp)"),
                  nets=[("plain", D), ("residual", D)]),
        competent=learned([("plain", D), ("residual", D)]), floor=floor,
    ))
    # Table 6: ResNets improve with depth.
    tm, ts = series("residual", res, "test_error")
    ends, steps, t_diff, st = trend(tm, ts, -1)
    claims.append(check(
        "resnet_test_error_falls_with_depth",
        "Deeper ResNets reach lower test error (Table 6)",
        paper="Table 6: ResNet-20/32/44/56/110: 8.75 / 7.51 / 7.17 / 6.97 / 6.43 % (CIFAR-10)",
        ours=", ".join(f"ResNet-{d}: {fmt(m, 3)} ± {fmt(e, 2)}%"
                       for d, m, e in zip(res, tm, ts, strict=True)),
        rule=f"test error(ResNet-{res[0]}) − test error(ResNet-{res[-1]}) > spread "
             f"({fmt(st, 2)} pp) and no deeper neighbour higher by more than its pair's "
             f"spread; partly if only the first; {spread_rule}",
        passed=ends and steps, partly=ends,
        note=note(scale, _within(t_diff, st, "test error (pp)"),
                  nets=[("residual", d) for d in res]),
        competent=learned([("residual", d) for d in res]), floor=floor,
    ))
    # Figure 7: response std, residual vs plain.
    smaller = [rs("plain", d) - rs("residual", d) >
               max(rs("plain", d, "seed_std"), rs("residual", d, "seed_std")) for d in common]
    claims.append(check(
        "residual_responses_smaller",
        "Layer responses (after BN, before addition/ReLU) have smaller std in residual than "
        "in plain nets (Fig. 7)",
        paper="Fig. 7: ResNet responses smaller than plain at every depth shown",
        ours=", ".join(f"depth {d}: {fmt(rs('residual', d), 3)} vs {fmt(rs('plain', d), 3)}"
                       for d in common) + " (mean over layers and seeds, residual vs plain)",
        rule="plain − residual > spread at every depth trained as both; partly if at the "
             f"largest; {spread_rule}",
        passed=all(smaller), partly=smaller[-1],
        note=note(nets=[(k, d) for k in KINDS for d in common]),
        competent=learned([(k, d) for k in KINDS for d in common]), floor=floor,
    ))
    # Figure 7: deeper ResNets, smaller responses.
    ends, steps, r_diff, sr = trend([rs("residual", d) for d in res],
                                    [rs("residual", d, "seed_std") for d in res], -1)
    claims.append(check(
        "deeper_resnet_responses_smaller",
        "The deeper the ResNet, the smaller its responses (Fig. 7)",
        paper="Fig. 7: ResNet-110 below ResNet-56 below ResNet-20",
        ours=", ".join(f"ResNet-{d}: {fmt(rs('residual', d), 3)} ± "
                       f"{fmt(rs('residual', d, 'seed_std'), 2)}" for d in res),
        rule=f"response std(ResNet-{res[0]}) − std(ResNet-{res[-1]}) > spread "
             f"({fmt(sr, 2)}) and no deeper neighbour larger by more than its pair's "
             f"spread; partly if only the first; {spread_rule}",
        passed=ends and steps, partly=ends,
        note=note(_within(r_diff, sr, "response std"), nets=[("residual", d) for d in res]),
        competent=learned([("residual", d) for d in res]), floor=floor,
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
    training, solid test; mean over the seeds still training, with a min–max band."""
    import matplotlib.ticker
    import seaborn as sns

    plt = _plt()
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

    def optional_list(key, item):  # [] and a missing key are both "none"
        return get_list(p, key, item, sec) if p.get(key) not in (None, []) else []

    cfg = {
        "dataset": get_choice(p, "dataset", DATASETS, sec),
        "plain_depths": sorted(set(get_list(p, "plain_depths", depth, sec))),
        "residual_depths": sorted(set(get_list(p, "residual_depths", depth, sec))),
        "seeds": get_list(p, "seeds", seed, sec),
        "split_seed": get_number(p, "split_seed", sec, kind=int, ge=0),
        "test_frac": get_number(p, "test_frac", sec, gt=0, le=0.9),
        "train_subset": get_number(p, "train_subset", sec, kind=int, ge=0),
        "train_eval_subset": get_number(p, "train_eval_subset", sec, kind=int, ge=0)
        if "train_eval_subset" in p else 0,
        "batch_size": get_number(p, "batch_size", sec, kind=int, gt=0),
        "eval_batch_size": get_number(p, "eval_batch_size", sec, kind=int, gt=0),
        "lr": get_number(p, "lr", sec, gt=0),
        "momentum": get_number(p, "momentum", sec, ge=0, le=1),
        "weight_decay": get_number(p, "weight_decay", sec, ge=0),
        "augment": get_choice(p, "augment", AUGMENTS, sec),
        "pad": get_number(p, "pad", sec, kind=int, ge=0),
        "data_root": str(p.get("data_root", "data/raw")),
        "mnist1d_path": str(p.get("mnist1d_path", "data/mnist1d/mnist1d.npz")),
        "device": get_choice(p, "device", ("cpu", "cuda", "auto"), sec),
        "threads": get_threads(p, "threads", sec),
        "workers": get_number(p, "workers", sec, kind=int, gt=0),
        "widths": (get_list(p, "widths", positive_int, sec) if "widths" in p
                   else [16, 32, 64]),
        "plateau": Plateau.from_params(p.get("plateau"), sec),
        "warmup_depths": optional_list("warmup_depths", depth),
    }
    for kind in KINDS:
        if len(cfg[f"{kind}_depths"]) < 2:
            raise ParamError(f"{sec}.{kind}_depths", f"is {cfg[f'{kind}_depths']!r}",
                             "at least two distinct depths")
    if not set(cfg["plain_depths"]) & set(cfg["residual_depths"]):
        raise ParamError(f"{sec}.residual_depths", f"is {cfg['residual_depths']!r}",
                         "at least one depth also in plain_depths")
    if cfg["plateau"] is not None:  # train to the plateau, max_epochs the cap
        cfg["max_epochs"] = get_number(p, "max_epochs", sec, kind=int, gt=0)
        cfg["iterations"], cfg["lr_drops"] = None, []
        for key in ("lr_drops", "warmup_depths"):
            if p.get(key) not in (None, []):
                raise ParamError(f"{sec}.{key}", f"is {p[key]!r}",
                                 "[] with a plateau criterion (it lowers the lr itself)")
    else:  # the paper's fixed schedule, in iterations
        cfg["max_epochs"] = None
        cfg["iterations"] = get_number(p, "iterations", sec, kind=int, gt=0)
        cfg["lr_drops"] = sorted(optional_list("lr_drops", positive_int))
        if any(d >= cfg["iterations"] for d in cfg["lr_drops"]):
            raise ParamError(f"{sec}.lr_drops", f"is {cfg['lr_drops']!r}",
                             f"iterations below iterations ({cfg['iterations']})")
    if cfg["warmup_depths"]:
        cfg["warmup_lr"] = get_number(p, "warmup_lr", sec, gt=0)
        cfg["warmup_error"] = get_number(p, "warmup_error", sec, gt=0, le=1)
        cfg["warmup_window"] = get_number(p, "warmup_window", sec, kind=int, gt=0)
    else:
        cfg["warmup_lr"], cfg["warmup_error"], cfg["warmup_window"] = None, 0.8, 1
    if len(cfg["widths"]) != 3:
        raise ParamError(f"{sec}.widths", f"is {cfg['widths']!r}",
                         "three filter counts, one per stage (the paper: [16, 32, 64])")
    if cfg["device"] != "cpu" and cfg["workers"] > 1:
        raise ParamError(f"{sec}.workers", f"is {cfg['workers']}", "1 unless device is cpu")
    if cfg["augment"] == "crop_flip" and cfg["dataset"] == "mnist1d":
        raise ParamError(f"{sec}.augment", "is crop_flip (an image augmentation)",
                         "none for mnist1d")
    cfg["profile"] = p.get("profile", "small")
    return cfg


def describe(cfg: dict, runs: pd.DataFrame) -> str:
    """The section text: data, nets, optimiser, schedule or plateau, what is compared."""
    data_txt = {
        "mnist1d": "MNIST-1D (4,000 training and 1,000 test signals of length 40; 1-D nets, "
                   "3-tap kernels, maps 40/20/10, no augmentation)",
        "digits": "the bundled 8×8 digits (maps 8/4/2, no augmentation)",
        "cifar10": "CIFAR-10" + (" (pad-4 random crop and horizontal flip)"
                                 if cfg["augment"] == "crop_flip" else ""),
    }[cfg["dataset"]]
    if cfg["plateau"] is not None:
        sched = (f"lr {cfg['lr']}, trained to a plateau of the training loss: "
                 f"{cfg['plateau'].describe()}; at most {cfg['max_epochs']} epochs. Epochs "
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


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the pool's workers)."""
    import resource

    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF,
                                                   resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    from dataclasses import asdict

    cfg = read_config(load_params(f"{PAPER}.{STAGE}"))
    t0, c0 = time.perf_counter(), _cpu_seconds()
    hist, resp, runs = run(cfg)
    wall, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
    final = final_table(runs)
    resp_sum = response_summary(resp)
    conv = convergence_rows(runs)
    claims = make_claims(final, resp_sum, cfg["profile"], conv, cfg["dataset"],
                         plateau=cfg["plateau"] is not None)
    title = "Figure 6, Table 6, Figure 7: the degradation problem, plain vs residual nets"
    with StageOutputs(PAPER, STAGE, title) as out:
        out.params({**cfg, "plateau": asdict(cfg["plateau"]) if cfg["plateau"] else None})
        out.text(describe(cfg, runs) + f"\n\nTraining: {wall:.0f} s wall, {cpu:.0f} s CPU "
                 f"({cfg['workers']} worker(s), threads {cfg['threads']}).")
        out.convergence(conv, cfg["plateau"].describe() if cfg["plateau"] is not None else
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
        out.claims(claims)


if __name__ == "__main__":
    run_main(main, f"{PAPER}.{STAGE}")
