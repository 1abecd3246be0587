"""Table 1's experiment: train the three networks from every seed, count the weights at
the paper's widths, and save the results as plain data (see the package docstring)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
import torch

from nnde.errors import ParamError
from nnde.models.ruthotto_haber import (
    LABELS,
    PDECNN,
    VARIANTS,
    hand_count,
    load_data,
    weights_npz,
)
from nnde.parallel import map_jobs
from nnde.results import ResultsWriter
from nnde.stage import (
    get_choice,
    get_list,
    get_number,
    get_threads,
    one_of,
    positive_int,
)
from nnde.train import Plateau, TrainConfig, count_parameters, train_classifier

from . import PAPER, STAGE
from .summary import PAPER_STEPS, PAPER_TABLE1, PAPER_WIDTHS

DATASETS = ("digits", "cifar10")


@dataclass(frozen=True)
class Config:
    dataset: str
    data_root: str
    variants: tuple[str, ...]
    widths: tuple[int, ...]
    steps: int
    h: float
    box: float
    epochs: int
    batch_size: int
    lr: float
    momentum: float
    weight_decay: float
    smooth_weight: float
    milestones: tuple[int, ...]
    gamma: float
    augment: bool
    max_train: int
    #: the data split (and, without ``seeds``, the one training seed)
    seed: int
    seeds: tuple[int, ...]
    plateau: dict | None
    threads: int | str
    workers: int
    device: str


def read_config(p: Mapping[str, Any]) -> Config:
    sec = f"{PAPER}.{STAGE}"

    variant = one_of(VARIANTS)

    def seed_item(v, name):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ParamError(name, f"is {v!r}", "an integer >= 0")
        return int(v)

    def milestone(v, name):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ParamError(name, f"is {v!r}", "an integer >= 0")
        return int(v)

    cfg = {
        "dataset": get_choice(p, "dataset", DATASETS, sec),
        "data_root": str(p.get("data_root", "data/raw")),
        "variants": get_list(p, "variants", variant, sec),
        "widths": get_list(p, "widths", positive_int, sec),
        "steps": get_number(p, "steps", sec, kind=int, gt=0),
        "h": get_number(p, "h", sec, gt=0),
        "box": get_number(p, "box", sec, gt=0),
        "epochs": get_number(p, "epochs", sec, kind=int, gt=0),
        "batch_size": get_number(p, "batch_size", sec, kind=int, gt=0),
        "lr": get_number(p, "lr", sec, gt=0),
        "momentum": get_number(p, "momentum", sec, ge=0, le=1),
        "weight_decay": get_number(p, "weight_decay", sec, ge=0),
        "smooth_weight": get_number(p, "smooth_weight", sec, ge=0),
        "milestones": get_list(p, "milestones", milestone, sec) if p.get("milestones") else [],
        "gamma": get_number(p, "gamma", sec, gt=0, le=1),
        "augment": get_choice(p, "augment", (True, False), sec),
        "max_train": get_number(p, "max_train", sec, kind=int, ge=0),
        "seed": get_number(p, "seed", sec, kind=int, ge=0),
        "seeds": get_list(p, "seeds", seed_item, sec) if "seeds" in p else None,
        "plateau": p.get("plateau") or None,
        "threads": get_threads(p, "threads", sec),
        "workers": get_number(p, "workers", sec, kind=int, gt=0) if "workers" in p else 1,
        "device": get_choice(p, "device", ("cpu", "cuda", "auto"), sec),
    }
    if cfg["device"] != "cpu" and cfg["workers"] > 1:
        raise ParamError(f"{sec}.workers", f"is {cfg['workers']}", "1 unless device is cpu")
    if cfg["seeds"] is None:
        cfg["seeds"] = [cfg["seed"]]
    if len(set(cfg["seeds"])) != len(cfg["seeds"]):
        raise ParamError(f"{sec}.seeds", f"is {cfg['seeds']!r}: has duplicates")
    Plateau.from_params(cfg["plateau"], sec)  # validated here, before any training
    if cfg["plateau"] and cfg["milestones"]:
        raise ParamError(f"{sec}.milestones", "cannot be combined with a plateau criterion "
                         "(the plateau lowers the learning rate itself)", "[]")
    if len(set(cfg["variants"])) != len(cfg["variants"]):
        raise ParamError(f"{sec}.variants", f"is {cfg['variants']!r}: has duplicates")
    if "hamiltonian" in cfg["variants"] and any(w % 2 for w in cfg["widths"]):
        raise ParamError(f"{sec}.widths", f"is {cfg['widths']!r}: the Hamiltonian block "
                         "splits channels in halves", "even integers")
    for k in ("variants", "widths", "milestones", "seeds"):
        cfg[k] = tuple(cfg[k])
    return Config(**cfg)


# --------------------------------------------------------------------------- training
def smoothness(model: PDECNN, eps: float = 1e-3) -> torch.Tensor:
    """The paper's regulariser of the weights in time: a smoothed ℓ₁ norm of the change
    of each block parameter from one step to the next, Σ sqrt((θ_{j+1} − θ_j)² + ε)."""
    total = model.fc.weight.new_zeros(())
    for blk in model.blocks:
        for fields in (blk.fields, getattr(blk, "fields2", None)):
            if fields is None:
                continue
            for a, b in zip(fields[:-1], fields[1:], strict=True):
                for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
                    total = total + torch.sqrt((pb - pa).square() + eps).sum()
    return total


def build(variant: str, cfg: Config, in_channels: int, num_classes: int) -> PDECNN:
    return PDECNN(variant, cfg.widths, in_channels, num_classes, steps=cfg.steps, h=cfg.h,
                  box=cfg.box)


def train_variant(variant: str, data, cfg: Config, seed: int | None = None):
    """Train one variant from ``seed`` (default ``cfg.seed``); returns (model, history
    DataFrame, seconds, convergence summary)."""
    xtr, ytr, evals, cin, classes, aug = data
    seed = cfg.seed if seed is None else seed
    torch.manual_seed(seed)
    model = build(variant, cfg, cin, classes)
    alpha = cfg.smooth_weight

    def loss_fn(out, y):
        loss = torch.nn.functional.cross_entropy(out, y)
        return loss + alpha * smoothness(model) if alpha else loss

    tc = TrainConfig(
        epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, optimizer="sgd",
        momentum=cfg.momentum, weight_decay=cfg.weight_decay,
        milestones=tuple(cfg.milestones), gamma=cfg.gamma, seed=seed,
        device=cfg.device, stage=f"{PAPER}.{STAGE}", model_name=variant,
        plateau=Plateau.from_params(cfg.plateau, f"{PAPER}.{STAGE}"),
    )
    hist = train_classifier(model, xtr, ytr, tc, evals=evals, augment=aug, loss_fn=loss_fn)
    model.project()
    df = hist.frame()
    df.insert(0, "variant", variant)
    df.insert(1, "seed", seed)
    return model.cpu().eval(), df, hist.seconds, hist.summary()


def _train_state(variant: str, data, cfg: Config, seed: int):
    """:func:`train_variant` with the model as its state dict (the model itself holds a
    closure and does not pickle back from a worker process)."""
    model, hist, seconds, summary = train_variant(variant, data, cfg, seed)
    return model.state_dict(), hist, seconds, summary


def heldout(evals: Mapping[str, tuple]) -> tuple[torch.Tensor, torch.Tensor]:
    """The held-out examples every accuracy is read on: every evaluation set (the digits'
    validation and test parts, CIFAR-10's test set). None of them steers training (the
    plateau criterion reads the training loss), so pooling them only shrinks the sampling
    error of the accuracies the claims compare."""
    xs, ys = zip(*evals.values(), strict=True)
    return torch.cat(xs), torch.cat(ys)


def baselines(xtr: torch.Tensor, ytr: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
              classes: int, l2: float = 1e-3, iters: int = 200) -> pd.DataFrame:
    """Accuracy (%) on the held-out examples of the trivial predictor (the training set's
    majority class) and of a linear classifier (multinomial logistic regression on the raw
    pixels, ℓ₂ penalty ``l2``, full-batch L-BFGS from zero weights: deterministic). The
    claims' floor: on 8×8 digits a linear model is already near 96 %, so a network that
    does not beat it has not shown what a convolutional architecture adds."""
    majority = int(torch.bincount(ytr, minlength=classes).argmax())
    rows = [{"model": "majority class", "accuracy": 100.0 * float((y == majority).float().mean())}]
    xf, xe = xtr.reshape(len(xtr), -1).double(), x.reshape(len(x), -1).double()
    mu, sd = xf.mean(0), xf.std(0).clamp(min=1e-6)
    xf, xe = (xf - mu) / sd, (xe - mu) / sd
    W = torch.zeros(xf.shape[1], classes, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], max_iter=iters, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xf @ W + b, ytr) + l2 * W.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        acc = float(((xe @ W + b).argmax(1) == y).double().mean())
    rows.append({"model": "linear (logistic regression)", "accuracy": 100.0 * acc})
    for r in rows:
        r["examples"] = int(len(y))
    return pd.DataFrame(rows)


def paper_width_counts() -> pd.DataFrame:
    """Weights of the three networks at the paper's CIFAR-10 widths: built from the
    library's blocks (counted), by the hand count, and with the paper's normalisation
    layer (hand count), beside the paper's Table 1."""
    rows = []
    for v in VARIANTS:
        built = count_parameters(PDECNN(v, PAPER_WIDTHS, 3, 10, steps=PAPER_STEPS))
        rows.append({
            "variant": v,
            "library_blocks": built,
            "hand_count": hand_count(v, PAPER_WIDTHS, 3, 10, PAPER_STEPS),
            "paper_norm_layer": hand_count(v, PAPER_WIDTHS, 3, 10, PAPER_STEPS,
                                           norm_affine=True),
            "paper": PAPER_TABLE1["cifar10"][v][1],
        })
    return pd.DataFrame(rows)


def run(cfg: Config, out: ResultsWriter) -> None:
    """Train every variant from every seed and save: ``seeds`` (one row per (variant,
    seed)), ``history`` (per epoch), ``weights_at_paper_widths``, ``convergence`` (one
    row per run), ``config`` and ``weights`` (the first seed's networks, with their build
    arguments). With ``workers > 1`` the (variant, seed) runs are spread over that many
    processes (each run is seeded on its own, so the results do not depend on the number
    of workers)."""
    data = load_data(cfg.dataset, cfg.seed, cfg.data_root, cfg.max_train, cfg.augment)
    cin, classes = data[3], data[4]
    jobs = [(v, data, cfg, seed) for seed in cfg.seeds for v in cfg.variants]
    results = map_jobs(_train_state, jobs, cfg.workers, cfg.threads)
    rows, hists, models, conv = [], [], {}, []
    sizes = {name: len(ys) for name, (_, ys) in data[2].items()}
    n_held = sum(sizes.values())
    for (v, _, _, seed), (state, hist, seconds, summary) in zip(jobs, results, strict=True):
        model = build(v, cfg, cin, classes)
        model.load_state_dict(state)
        models.setdefault(v, model.eval())
        hists.append(hist)
        conv.append({"model": f"{LABELS[v]} seed {seed}", "variant": v, "seed": seed,
                     **summary})
        last = hist.iloc[-1]
        pacc, pw = PAPER_TABLE1["cifar10"][v]
        rows.append({
            "variant": v,
            "seed": seed,
            "dataset": cfg.dataset,
            "weights": count_parameters(model),
            "weights_hand_count": hand_count(v, cfg.widths, cin, classes, cfg.steps),
            "test_accuracy": 100.0 * (1.0 - float(last["test_error"])),
            # every held-out example (validation and test), the claims' accuracy
            "heldout_accuracy": 100.0 * (1.0 - sum(n * float(last[f"{k}_error"])
                                                   for k, n in sizes.items()) / n_held),
            "heldout_examples": n_held,
            "test_loss": float(last["test_loss"]),
            "train_accuracy": 100.0 * (1.0 - float(last["train_error"])),
            "epochs": int(last["epoch"]),
            "seconds": seconds,
            "paper_cifar10_accuracy": pacc,
            "paper_cifar10_weights": pw,
        })
    meta = {k: getattr(cfg, k) for k in ("variants", "widths", "steps", "h", "box",
                                          "dataset", "seed", "data_root")}
    # "seed" is the data split; the saved weights are those of the first seed's run (the
    # stencils stage rebuilds their initialisation from it).
    meta.update(in_channels=cin, num_classes=classes, weights_seed=cfg.seeds[0])
    out.frame("seeds", pd.DataFrame(rows))
    out.frame("history", pd.concat(hists, ignore_index=True))
    out.frame("weights_at_paper_widths", paper_width_counts())
    xh, yh = heldout(data[2])
    out.frame("baselines", baselines(data[0], data[1], xh, yh, classes))
    out.json("convergence", conv)
    out.json("config", asdict(cfg))
    out.arrays("weights", **weights_npz(models, meta))
