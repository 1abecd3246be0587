"""The CNF stage's experiment: density matching (planar flows and CNFs of each size on
each target) and maximum likelihood (a CNF per target), every flow trained to a plateau
of its validation loss, for each seed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from nnde import plateau
from nnde.errors import ParamError
from nnde.integrators import names_of_kind
from nnde.models.flows import TARGETS, gaussian_kl, make_target, square_grid
from nnde.parallel import continue_runs, map_jobs
from nnde.results import ResultsWriter
from nnde.stage import (
    get_choice,
    get_list,
    get_number,
    get_retry,
    get_seeds,
    get_threads,
    one_of,
    positive_int,
)
from nnde.train import Plateau

from . import PAPER, STAGE
from .training import KINDS, train_job, train_seeds


@dataclass(frozen=True)
class MLConfig:
    """Maximum likelihood (Figs. 5–6), with the authors' example's settings
    (torchdiffeq examples/cnf.py, 2018): t from 0 to ``t1``, base N(0, ``base_var`` I),
    the field's units averaged, ``batch`` fresh target samples per iteration, Adam at
    ``lr`` for ``iterations`` steps. Ours: fixed-step ``steps`` (the authors: dopri5 at
    tolerance 1e-5), checked by a ``fine_factor``× finer solve, on which the claim is
    judged."""

    size: int
    t1: float
    base_var: float
    average: bool
    steps: int
    fine_factor: int
    lr: float
    batch: int
    iterations: int
    seeds: tuple[int, ...]


@dataclass(frozen=True)
class Config:
    targets: tuple[str, ...]
    noise: float
    sizes: tuple[int, ...]
    ml: MLConfig
    hyper: int
    method: str
    steps: int
    #: density matching's final KL(q‖p) is measured under a ``fine_factor``× finer solve
    #: (a CNF trained on a coarse solve can learn a field whose coarse log-density is
    #: wrong); the training solve's value is kept as the solver check
    fine_factor: int
    batch: int
    eval_batch: int
    test_batch: int
    lr: float
    max_iterations: int
    eval_every: int
    plateau: Plateau
    seeds: tuple[int, ...]
    picture_samples: int
    grid: int
    threads: int | str
    workers: int
    #: a density-matching run whose final KL(q‖p) is above ``fail_ratio`` × the median
    #: of its siblings' (the other seeds of the same flow, size and target) failed: it
    #: trains on to ``retry_iterations`` (counted from its start) with ``retry_patience``
    fail_ratio: float
    retry_iterations: int
    retry_patience: int


def read_ml(p: Mapping, sec: str) -> MLConfig:
    m = p.get("ml")
    if not isinstance(m, Mapping):
        raise ParamError(f"{sec}.ml", f"is {m!r}", "a mapping of the maximum-likelihood "
                         "settings (size, t1, base_var, average, steps, fine_factor, lr, "
                         "batch, iterations, seeds)")
    sec = f"{sec}.ml"
    if not isinstance(m.get("average"), bool):
        raise ParamError(f"{sec}.average", f"is {m.get('average')!r}", "true, false")
    return MLConfig(
        size=get_number(m, "size", sec, kind=int, gt=0),
        t1=get_number(m, "t1", sec, gt=0),
        base_var=get_number(m, "base_var", sec, gt=0),
        average=m["average"],
        steps=get_number(m, "steps", sec, kind=int, gt=0),
        fine_factor=get_number(m, "fine_factor", sec, kind=int, gt=1),
        lr=get_number(m, "lr", sec, gt=0),
        batch=get_number(m, "batch", sec, kind=int, gt=0),
        iterations=get_number(m, "iterations", sec, kind=int, gt=0),
        seeds=tuple(get_seeds(m, "seeds", sec)),
    )


def read_config(p: Mapping) -> Config:
    sec = f"{PAPER}.{STAGE}"
    cfg = Config(
        targets=tuple(get_list(p, "targets", one_of(TARGETS), sec)),
        noise=get_number(p, "noise", sec, gt=0),
        sizes=tuple(sorted(set(get_list(p, "sizes", positive_int, sec)))),
        ml=read_ml(p, sec),
        hyper=get_number(p, "hyper", sec, kind=int, gt=0),
        method=get_choice(p, "method", names_of_kind("explicit"), sec),
        steps=get_number(p, "steps", sec, kind=int, gt=0),
        fine_factor=get_number(p, "fine_factor", sec, kind=int, gt=1),
        batch=get_number(p, "batch", sec, kind=int, gt=0),
        eval_batch=get_number(p, "eval_batch", sec, kind=int, gt=0),
        test_batch=get_number(p, "test_batch", sec, kind=int, gt=0),
        lr=get_number(p, "lr", sec, gt=0),
        max_iterations=get_number(p, "max_iterations", sec, kind=int, gt=0),
        eval_every=get_number(p, "eval_every", sec, kind=int, gt=0),
        plateau=Plateau.from_params(p.get("plateau"), sec, required=True),
        seeds=tuple(get_seeds(p, "seeds", sec)),
        picture_samples=get_number(p, "picture_samples", sec, kind=int, gt=0),
        grid=get_number(p, "grid", sec, kind=int, gt=1),
        threads=get_threads(p, "threads", sec),
        workers=get_number(p, "workers", sec, kind=int, gt=0),
        **get_retry(p, sec, get_number(p, "max_iterations", sec, kind=int, gt=0)),
    )
    if len(cfg.sizes) < 2:
        raise ParamError(f"{sec}.sizes", f"is {list(cfg.sizes)}",
                         "at least two sizes (the claims compare the smallest and largest)")
    return cfg


def run_key(task: str, target: str, kind: str, size: int, seed: int) -> str:
    """The name of one run's pictures in ``pictures.npz`` (a prefix of ``_<what>``)."""
    return f"{task}_{target}_{kind}{size}_seed{seed}"


def jobs_of(r: dict) -> tuple:
    """The (task, target, kind, size, seed) of a run's result."""
    return r["task"], r["target"], r["kind"], r["size"], r["seed"]


def failed_runs(results: list[dict], ratio: float) -> list[int]:
    """Indices of the failed density-matching runs (:func:`nnde.plateau.failed_runs` on
    the final KL(q‖p) under the training solve, what training minimised, among the seeds
    of the same flow, size and target: a failure of the optimisation, which training on
    can mend; a CNF whose finer-solve KL alone is far off learned a field its training
    solve cannot follow, which the claims' solver check names); maximum likelihood runs
    have no plateau criterion and are never counted."""
    kl = [i for i, r in enumerate(results) if r["task"] == "kl"]
    bad = plateau.failed_runs([results[i].get("kl_q_p_train_solve", results[i]["kl_q_p"])
                               for i in kl],
                              [jobs_of(results[i])[:4] for i in kl], ratio)
    return [kl[j] for j in bad]


def run(config: Config, out: ResultsWriter) -> None:
    """``runs`` (one row per trained flow: final losses, iterations, plateau, time),
    ``history`` (the validation readings), ``targets`` (entropy and the best Gaussian's
    KL(p‖N) per target), ``pictures`` (arrays: each flow's samples, the ML CNFs'
    densities and transport, the targets' densities) and ``config``."""
    # one job per flow, size, target and task: its seeds side by side
    jobs = [("kl", tg, k, m, config.seeds, config) for tg in config.targets
            for m in config.sizes for k in KINDS]
    jobs += [("ml", tg, "cnf", config.ml.size, config.ml.seeds, config)
             for tg in config.targets]
    # costliest first: maximum likelihood, then the CNFs, the widest first
    jobs.sort(key=lambda j: (j[0] != "ml", j[2] != "cnf", -j[3]))
    results = [r for rs in map_jobs(train_seeds, jobs, config.workers, config.threads)
               for r in rs]
    # A failed density-matching run (far above its siblings) trains on from where it
    # stopped, with the learning rate restored, a longer cap and more patience (as Table
    # 2's); whatever it reaches then, its status stays on record.
    first = {i: results[i]["kl_q_p"] for i in failed_runs(results, config.fail_ratio)}
    if first:
        longer = replace(config, max_iterations=config.retry_iterations,
                         plateau=replace(config.plateau, patience=config.retry_patience))
        redo = continue_runs(train_job, results, list(first),
                             lambda r: (*jobs_of(r), longer), config.workers, config.threads)
        for i, r in zip(first, redo, strict=True):
            results[i] = r
    still = set(failed_runs(results, config.fail_ratio))
    # H(p) and the best Gaussian, Monte Carlo over samples drawn from the first seed
    mc = config.seeds[0]
    ent = {tg: make_target(tg, config.noise).entropy(seed=mc) for tg in config.targets}
    gauss = {tg: gaussian_kl(make_target(tg, config.noise), seed=mc)
             for tg in config.targets}
    rows = []
    for i, r in enumerate(results):
        row = {k: r[k] for k in ("task", "target", "kind", "size", "seed", "params",
                                 "initial_loss", "iterations", "converged", "stop_reason",
                                 "seconds", "cpu_seconds")}
        row["kl_q_p"] = r.get("kl_q_p", np.nan)
        row["kl_q_p_train_solve"] = r.get("kl_q_p_train_solve", np.nan)
        row["nll"] = r.get("nll", np.nan)
        row["kl_p_q"] = r["nll"] - ent[r["target"]] if "nll" in r else np.nan
        row["nll_fine_solver"] = r.get("nll_fine_solver", np.nan)
        row["kl_p_q_fine"] = r.get("kl_p_q_fine", np.nan)
        row["kl_p_q_fine_se"] = r.get("kl_p_q_fine_se", np.nan)
        row["final_loss"] = r["kl_q_p"] if r["task"] == "kl" else r["nll"]
        row["retried"] = i in first
        row["first_final_loss"] = first.get(i, row["final_loss"])
        row["failed"] = i in still
        rows.append(row)
    out.json("config", asdict(config))
    out.json("targets", {tg: {"entropy": ent[tg], "gaussian_kl": gauss[tg]}
                         for tg in config.targets})
    out.frame("runs", pd.DataFrame(rows))
    out.frame("history", pd.DataFrame([{"task": r["task"], "target": r["target"],
                                        "kind": r["kind"], "size": r["size"],
                                        "seed": r["seed"], **h}
                                       for r in results for h in r["history"]]))
    g = square_grid(config.grid)
    pictures = {f"target_{tg}_density": np.exp(make_target(tg, config.noise).log_prob(g)
                                               .numpy()).reshape(config.grid, config.grid)
                for tg in config.targets}
    for r in results:
        key = run_key(r["task"], r["target"], r["kind"], r["size"], r["seed"])
        pictures |= {f"{key}_{what}": v for what, v in r["picture"].items()}
    out.arrays("pictures", **pictures)
