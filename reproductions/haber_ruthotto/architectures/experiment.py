"""The stage's configuration and run: every (architecture, depth) cell and every
multi-level run, spread over the workers, saved as plain data.

Results (``data/haber_ruthotto/architectures/``): ``cells.csv`` (one row per
architecture × depth × data set × seed), ``levels.csv`` and ``refine.csv`` (multi-level
training and the sampled θ(t); absent without multi-level architectures), ``config.json``,
``kept.json`` with, per cell kept for the figures, ``state_<arch>_<N>.npz`` (the packed
network's trained weights) and ``hlam_<arch>_<N>.npz`` (its eigenvalues h λ)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import pandas as pd

from nnde.data.toy2d import TOY2D
from nnde.errors import ParamError
from nnde.integrators import METHODS
from nnde.parallel import map_jobs
from nnde.results import ResultsWriter
from nnde.stage import get_list, get_number, get_threads, one_of, positive_int
from nnde.train import Plateau

from . import PAPER, STAGE
from .cells import run_cell
from .model import ARCHS
from .multilevel import ml_levels, run_multilevel


@dataclass(frozen=True)
class Config:
    archs: tuple[str, ...]
    datasets: tuple[str, ...]
    depths: tuple[int, ...]  # sorted
    seeds: tuple[int, ...]
    T: float
    width: int
    gamma: float  # antisym_euler only
    higher: str  # the integrator of antisym_rk4 (``higher_method``)
    n_train: int
    n_val: int
    epochs: int  # full-batch Adam steps: the cap of the plateau criterion
    lr: float
    smooth: float  # α of the smoothness-in-time penalty α/h Σ_k ‖θ_{k+1} − θ_k‖²
    smooth_antisym: float  # the same α for the antisymmetric nets
    plateau: Plateau | None  # read on the training objective after every step
    eps: float
    n_perturbations: int
    init_draws: int  # draws of the initial weights behind the initial gradient ratio
    eig_points: int
    workers: int
    threads: int | str
    ml_archs: tuple[str, ...]
    ml_start: int
    ml_depth: int
    ml_refine_to: int
    ml_epochs_first: int
    ml_epochs_level: int


def read_config(p: Mapping) -> Config:
    sec = f"{PAPER}.{STAGE}"

    def seed_item(v, name):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ParamError(name, f"is {v!r}", "an integer >= 0")
        return v

    explicit = sorted(m for m, meth in METHODS.items() if meth.kind == "explicit")
    cfg = {
        "archs": get_list(p, "archs", one_of(list(ARCHS)), sec),
        "datasets": get_list(p, "datasets", one_of(list(TOY2D)), sec),
        "depths": get_list(p, "depths", positive_int, sec),
        "seeds": get_list(p, "seeds", seed_item, sec),
        "T": get_number(p, "T", sec, gt=0),
        "width": get_number(p, "width", sec, kind=int, ge=2),
        "gamma": get_number(p, "gamma", sec, gt=0),
        "higher": one_of(explicit)(p.get("higher_method"), f"{sec}.higher_method"),
        "n_train": get_number(p, "n_train", sec, kind=int, ge=4),
        "n_val": get_number(p, "n_val", sec, kind=int, ge=4),
        "epochs": get_number(p, "epochs", sec, kind=int, gt=0),
        "lr": get_number(p, "lr", sec, gt=0),
        "smooth": get_number(p, "smooth", sec, ge=0),
        "smooth_antisym": get_number(p, "smooth_antisym", sec, ge=0),
        "plateau": Plateau.from_params(p.get("plateau"), sec),
        "eps": get_number(p, "eps", sec, gt=0),
        "n_perturbations": get_number(p, "n_perturbations", sec, kind=int, gt=0),
        "init_draws": get_number(p, "init_draws", sec, kind=int, gt=0),
        "eig_points": get_number(p, "eig_points", sec, kind=int, gt=0),
        "workers": get_number(p, "workers", sec, kind=int, gt=0),
        "threads": get_threads(p, "threads", sec),
        "ml_archs": get_list(p, "multilevel_archs", one_of(list(ARCHS)), sec,
                             allow_empty=True),
        "ml_start": get_number(p, "multilevel_start", sec, kind=int, gt=0),
        "ml_depth": get_number(p, "multilevel_depth", sec, kind=int, gt=0),
        "ml_refine_to": get_number(p, "multilevel_refine_to", sec, kind=int, gt=0),
        "ml_epochs_first": get_number(p, "multilevel_epochs_first", sec, kind=int, gt=0),
        "ml_epochs_level": get_number(p, "multilevel_epochs_level", sec, kind=int, gt=0),
    }
    if cfg["width"] % 2:
        raise ParamError(f"{sec}.width", f"is {cfg['width']}", "an even integer >= 2")
    if "swiss_roll" in cfg["datasets"] and (cfg["n_train"] != cfg["n_val"] or cfg["n_train"] % 2):
        raise ParamError(f"{sec}.n_val", f"is {cfg['n_val']} with n_train = {cfg['n_train']}",
                         "equal to n_train and even (the swiss roll alternates its points)")
    if len(set(cfg["depths"])) != len(cfg["depths"]):
        raise ParamError(f"{sec}.depths", f"has repeats: {cfg['depths']}", "distinct integers")
    cfg["depths"] = sorted(cfg["depths"])
    if cfg["ml_archs"]:
        top, n = cfg["ml_depth"], cfg["ml_start"]
        while n < top:
            n *= 2
        if n != top:
            raise ParamError(f"{sec}.multilevel_start", f"is {cfg['ml_start']} with "
                             f"multilevel_depth {top}", "a depth that doubles to "
                             "multilevel_depth, e.g. 16 with multilevel_depth 1024")
        if cfg["ml_refine_to"] < top:
            raise ParamError(f"{sec}.multilevel_refine_to", f"is {cfg['ml_refine_to']}",
                             f"at least multilevel_depth ({top})")
    return Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()})


# --------------------------------------------------------------------------- schedule
#: Relative cost per layer and epoch of training a cell (forward Euler's residual
#: net = 1), measured on the small profile: the scheduler starts the costliest jobs
#: first, so that two workers finish together. It fixes the order of the jobs and hence
#: of the multi-level rows, so it is part of what makes the results reproducible.
COST = {"antisym_rk4": 4.5, "antisym_euler": 2.5, "hamiltonian": 2.0, "second_order": 2.0}


def jobs(cfg: Config, keep=()) -> list[tuple]:
    """The jobs, costliest first: ("cell", arch, depth, cfg, keep?) for every
    (architecture, depth) — plus the multi-level archs at ``multilevel_depth``, the
    direct runs they are compared with — and ("ml", arch, cfg) per multi-level arch."""
    cells = list(itertools.product(cfg.archs, cfg.depths))
    cells += [(a, cfg.ml_depth) for a in cfg.ml_archs if (a, cfg.ml_depth) not in cells]
    out = [(COST.get(a, 1.0) * n * cfg.epochs, ("cell", a, n, cfg, (a, n) in keep))
           for a, n in cells]
    levels = ml_levels(cfg) if cfg.ml_archs else []
    ml_work = (cfg.ml_epochs_first * levels[0] + cfg.ml_epochs_level * sum(levels[1:])
               if levels else 0)
    out += [(COST.get(a, 1.0) * ml_work, ("ml", a, cfg)) for a in cfg.ml_archs]
    out.sort(key=lambda j: -j[0])
    return [j[1] for j in out]


def _job(kind: str, *args):
    return run_cell(*args) if kind == "cell" else run_multilevel(*args)


def sweep(cfg: Config, keep=()):
    """Every (architecture, depth) cell and every multi-level run, in ``cfg.workers``
    processes. ``keep``: the cells whose trained weights and eigenvalues are returned for
    the figures. Returns (cells table, kept, multi-level levels table, refinement table)."""
    out = map_jobs(_job, jobs(cfg, keep), cfg.workers, cfg.threads)
    results = [r for r in out if "rows" in r]
    ml = [r for r in out if "levels" in r]
    lv = pd.DataFrame([r for res in ml for r in res["levels"]])
    rf = pd.DataFrame([r for res in ml for r in res["refine"]])
    df = pd.DataFrame([r for res in results for r in res["rows"]])
    df["arch"] = pd.Categorical(df["arch"], list(ARCHS))
    df = df.sort_values(["arch", "depth", "dataset", "seed"]).reset_index(drop=True)
    df["arch"] = df["arch"].astype(str)
    kept = {(r["arch"], r["depth"]): r["extra"] for r in results if r["extra"]}
    return df, kept, lv, rf


def figure_depths(cfg: Config) -> tuple[int, int, int]:
    """(shallowest, deepest, middle) depth: the eigenvalue figure draws the first two,
    the decision-region and trajectory figures the third."""
    return cfg.depths[0], cfg.depths[-1], cfg.depths[len(cfg.depths) // 2]


def run(config: Config, out: ResultsWriter) -> None:
    keep = {(a, n) for a in config.archs for n in set(figure_depths(config))}
    df, kept, levels, refine = sweep(config, keep)
    out.json("config", asdict(config))
    out.frame("cells", df)
    if len(levels):
        out.frame("levels", levels)
        out.frame("refine", refine)
    out.json("kept", [{"arch": a, "depth": n, "classes": ex["classes"]}
                      for (a, n), ex in sorted(kept.items())])
    for (a, n), ex in sorted(kept.items()):
        out.arrays(f"state_{a}_{n}", **ex["state"])
        out.arrays(f"hlam_{a}_{n}", hlam=ex["hlam"])
