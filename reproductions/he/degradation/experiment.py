"""The degradation stage's experiment: its configuration and the training of every
(kind, depth, seed), saved as three tables and the configuration.

Results (``data/he/degradation/``):

* ``history.csv``: one row per (kind, depth, seed, epoch): errors, losses, lr;
* ``responses.csv``: one row per (kind, depth, seed, layer): the response std (Fig. 7);
* ``runs.csv``: one row per (kind, depth, seed): final errors, epochs and iterations run,
  convergence, warm-up end, times;
* ``config.json``: the validated configuration (:class:`Config`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import pandas as pd

from nnde.errors import ParamError
from nnde.models.he import KINDS, depth_to_n
from nnde.parallel import map_jobs
from nnde.results import ResultsWriter
from nnde.stage import get_choice, get_list, get_number, get_threads, positive_int
from nnde.train import Plateau

from . import PAPER, STAGE
from .training import load_data, side_by_side_ok, train_seeds

DATASETS = ("mnist1d", "digits", "cifar10")
AUGMENTS = ("none", "crop_flip", "shift")
#: the seed the published MNIST-1D set was generated from: a held-out set drawn from it
#: would repeat the published signals
PUBLISHED_MNIST1D_SEED = 42


@dataclass(frozen=True)
class Config:
    """The validated parameters of ``he.degradation`` (see params.yaml). With a
    ``plateau`` each net trains to it, ``max_epochs`` the cap (``iterations`` None, no
    ``lr_drops``); without, the paper's fixed schedule of ``iterations`` with the lr
    ÷10 after each of ``lr_drops``, nets of ``warmup_depths`` warmed up first."""

    dataset: str
    plain_depths: tuple[int, ...]
    residual_depths: tuple[int, ...]
    seeds: tuple[int, ...]
    split_seed: int
    test_frac: float
    train_subset: int
    train_eval_subset: int
    batch_size: int
    eval_batch_size: int
    lr: float
    momentum: float
    weight_decay: float
    augment: str
    pad: int
    heldout: int
    data_seed: int
    data_root: str
    mnist1d_path: str
    device: str
    threads: int | str
    workers: int
    widths: tuple[int, int, int]
    plateau: Plateau | None
    warmup_depths: tuple[int, ...]
    max_epochs: int | None
    iterations: int | None
    lr_drops: tuple[int, ...]
    warmup_lr: float | None
    warmup_error: float
    warmup_window: int
    profile: str


def read_config(p: Mapping) -> Config:
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
        "heldout": get_number(p, "heldout", sec, kind=int, ge=0) if "heldout" in p else 0,
        "data_seed": get_number(p, "data_seed", sec, kind=int, ge=0)
        if "data_seed" in p else 0,
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
                         "none or shift for mnist1d")
    if cfg["augment"] == "shift" and cfg["dataset"] != "mnist1d":
        raise ParamError(f"{sec}.augment", f"is shift (a 1-D augmentation) for "
                         f"{cfg['dataset']}", "none or crop_flip for images")
    if cfg["heldout"]:
        if cfg["dataset"] != "mnist1d":
            raise ParamError(f"{sec}.heldout", f"is {cfg['heldout']} for {cfg['dataset']}",
                             "0 (a held-out set is generated for mnist1d only)")
        if cfg["heldout"] < 20:
            raise ParamError(f"{sec}.heldout", f"is {cfg['heldout']}",
                             "0 (none) or an integer >= 20")
    if cfg["data_seed"] == PUBLISHED_MNIST1D_SEED:
        raise ParamError(f"{sec}.data_seed", f"is {PUBLISHED_MNIST1D_SEED}, the "
                         "published set's seed (it would repeat the published signals)",
                         f"another integer >= 0 (with seed_offset: data_seed + "
                         f"seed_offset != {PUBLISHED_MNIST1D_SEED})")
    cfg["profile"] = p.get("profile", "small")
    return Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()})


def jobs(cfg: Config) -> list[tuple[str, int, tuple[int, ...]]]:
    """Every (kind, depth, seeds) to train, the deepest first (for the process pool): all
    seeds of a kind and depth as one side-by-side job where :func:`train_seeds` can train
    them so, one job per seed otherwise (e.g. on a GPU, or with a warm-up)."""
    out = []
    for k in KINDS:
        for d in getattr(cfg, f"{k}_depths"):
            if side_by_side_ok(cfg, d):
                out.append((k, d, tuple(cfg.seeds)))
            else:
                out += [(k, d, (s,)) for s in cfg.seeds]
    return sorted(out, key=lambda j: (-j[1], j[2], KINDS.index(j[0])))


def train_all(cfg: Config, data=None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train every (kind, depth, seed). Returns (history, responses, runs): tidy frames
    with one row per (kind, depth, seed, epoch), per (kind, depth, seed, layer) and per
    (kind, depth, seed) (final errors, epochs run, convergence, times)."""
    todo = jobs(cfg)
    data = data if data is not None else load_data(cfg)
    results = [r for group in map_jobs(train_seeds, [(*j, cfg, data, cfg.workers)
                                                     for j in todo], cfg.workers, cfg.threads)
               for r in group]
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


def run(cfg: Config, out: ResultsWriter) -> None:
    """Train every net and save the three tables and the configuration."""
    hist, resp, runs = train_all(cfg)
    out.frame("history", hist)
    out.frame("responses", resp)
    out.frame("runs", runs)
    out.json("config", asdict(cfg))
