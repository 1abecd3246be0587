"""Table 2's experiment: the spirals, one latent ODE and one RNN per seed (and per n
unless ``joint``) trained to a validation plateau, and the two baselines."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

import pandas as pd
import torch

from nnde import plateau
from nnde.errors import ParamError
from nnde.integrators import names_of_kind
from nnde.models.chen import CELLS, make_spirals
from nnde.parallel import continue_runs, map_jobs
from nnde.results import ResultsWriter
from nnde.stage import (
    get_choice,
    get_list,
    get_number,
    get_retry,
    get_seeds,
    get_threads,
    positive_int,
)
from nnde.train import Plateau

from . import PAPER, STAGE
from .training import EVAL_SEED, N_EXAMPLES, baselines, fixed_draws, train_job, train_seeds


@dataclass(frozen=True)
class Config:
    spirals: int
    n_points: int
    n_extra: int
    out_stride: int
    turns: float
    noise: float
    observed: tuple[int, ...]
    joint: bool
    test_frac: float
    val_frac: float
    latent: int
    rnn_hidden: int
    hidden: int
    encoder: str
    method: str
    max_iterations: int
    eval_every: int
    plateau: Plateau
    batch: int
    lr: float
    obs_std: float
    data_seed: int
    seeds: tuple[int, ...]
    threads: int | str
    workers: int
    #: a run whose best validation MSE exceeds ``fail_ratio`` × the median of the other
    #: seeds' (same kind) is a failed run; it is trained again with ``retry_iterations``
    #: as the cap and ``retry_patience`` readings of patience
    fail_ratio: float = 3.0
    retry_iterations: int = 8000
    retry_patience: int = 6


def read_config(p: Mapping) -> Config:
    sec = f"{PAPER}.{STAGE}"
    if not isinstance(p.get("joint"), bool):
        raise ParamError(f"{sec}.joint", f"is {p.get('joint')!r}", "true, false")
    cfg = Config(
        spirals=get_number(p, "spirals", sec, kind=int, gt=2),
        n_points=get_number(p, "n_points", sec, kind=int, gt=1),
        n_extra=get_number(p, "n_extra", sec, kind=int, gt=0),
        out_stride=get_number(p, "out_stride", sec, kind=int, gt=0),
        turns=get_number(p, "turns", sec, gt=0),
        noise=get_number(p, "noise", sec, ge=0),
        observed=tuple(sorted(set(get_list(p, "observed", positive_int, sec)))),
        joint=p["joint"],
        test_frac=get_number(p, "test_frac", sec, gt=0, le=0.5),
        val_frac=get_number(p, "val_frac", sec, gt=0, le=0.5),
        latent=get_number(p, "latent", sec, kind=int, gt=0),
        rnn_hidden=get_number(p, "rnn_hidden", sec, kind=int, gt=0),
        hidden=get_number(p, "hidden", sec, kind=int, gt=0),
        encoder=get_choice(p, "encoder", list(CELLS), sec),
        method=get_choice(p, "method", names_of_kind("explicit"), sec),
        max_iterations=get_number(p, "max_iterations", sec, kind=int, gt=0),
        eval_every=get_number(p, "eval_every", sec, kind=int, gt=0),
        plateau=Plateau.from_params(p.get("plateau"), sec, required=True),
        batch=get_number(p, "batch", sec, kind=int, gt=0),
        lr=get_number(p, "lr", sec, gt=0),
        obs_std=get_number(p, "obs_std", sec, gt=0),
        data_seed=get_number(p, "data_seed", sec, kind=int, ge=0),
        seeds=tuple(get_seeds(p, "seeds", sec)),
        threads=get_threads(p, "threads", sec),
        workers=get_number(p, "workers", sec, kind=int, gt=0),
        **get_retry(p, sec, get_number(p, "max_iterations", sec, kind=int, gt=0)),
    )
    too_many = [n for n in cfg.observed if n > cfg.n_points]
    if too_many:
        raise ParamError(f"{sec}.observed", f"has {too_many[0]} > n_points = {cfg.n_points}",
                         f"at most n_points ({cfg.n_points}) observed points")
    s_, n_all = cfg.out_stride, cfg.n_points + cfg.n_extra
    if len(range(0, n_all, s_)) == len(range(0, cfg.n_points, s_)):
        raise ParamError(f"{sec}.out_stride", f"is {s_}: no output time falls in the "
                         f"extrapolation window of {cfg.n_extra} times",
                         f"a stride of at most {cfg.n_extra}, or a longer n_extra")
    if len(cfg.observed) < 2:
        raise ParamError(f"{sec}.observed", f"is {list(cfg.observed)}",
                         "at least two numbers of observed points (the claims compare them)")
    n_test, n_val = _shares(cfg)
    if n_test + n_val >= cfg.spirals:
        raise ParamError(f"{sec}.spirals", f"is {cfg.spirals}: no training "
                         "spirals are left after the test and validation shares",
                         "more spirals or smaller test_frac / val_frac")
    return cfg


def _shares(cfg: Config) -> tuple[int, int]:
    """(test, validation) spirals."""
    return (max(1, int(round(cfg.test_frac * cfg.spirals))),
            max(1, int(round(cfg.val_frac * cfg.spirals))))


def make_data(cfg: Config) -> dict:
    tt, clean, noisy, _ = make_spirals(
        cfg.spirals, cfg.n_points, cfg.n_extra, turns=cfg.turns,
        noise=cfg.noise, seed=cfg.data_seed)
    n_test, n_val = _shares(cfg)
    noisy_t, clean_t = torch.from_numpy(noisy), torch.from_numpy(clean)
    out = torch.arange(0, len(tt), cfg.out_stride)
    return {
        "out": out, "n_window": int((out < cfg.n_points).sum()),
        "tt": tt, "t": torch.from_numpy(tt),
        "x_test": noisy_t[:n_test], "c_test": clean_t[:n_test],
        "x_val": noisy_t[n_test:n_test + n_val],
        "x_train": noisy_t[n_test + n_val:],
        "test_draws": fixed_draws(n_test, list(cfg.observed), cfg.n_points,
                                  EVAL_SEED + cfg.data_seed),
    }


def run(config: Config, out: ResultsWriter) -> None:
    """``runs`` (extrapolation RMSE per model, seed and n, and of the baselines),
    ``models`` (one row per trained model: iterations, plateau, best reading, time),
    ``history`` (the validation readings), ``solver`` (the latent ODEs under a 4× finer
    rk4), ``examples`` (arrays: three test spirals, their draws, every model's
    predictions), ``data`` (the split sizes) and ``config``."""
    data = make_data(config)
    observed = list(config.observed)
    groups = [tuple(observed)] if config.joint else [(n,) for n in observed]
    # the latent ODEs of a group side by side (their solves batched), in one pack per
    # worker; the RNNs one job per seed; costliest first, so that the workers finish
    # together
    k = max(1, min(config.workers, len(config.seeds)))
    packs = [config.seeds[i * len(config.seeds) // k:(i + 1) * len(config.seeds) // k]
             for i in range(k)]
    jobs = ([("latent_ode", g, tuple(p), config, data) for g in groups for p in packs]
            + [("rnn", g, (s,), config, data) for g in groups for s in config.seeds])
    results = [r for rs in map_jobs(train_seeds, jobs, config.workers, config.threads)
               for r in rs]
    # A failed run (far above its siblings) trains on from where it stopped, with the
    # learning rate restored, a longer cap (counted from its start) and more patience;
    # whatever it reaches then, its status stays on record.
    again = failed_runs(results, config.fail_ratio)
    if again:
        longer = replace(config, max_iterations=config.retry_iterations,
                         plateau=replace(config.plateau, patience=config.retry_patience))
        redo = continue_runs(train_job, results, again,
                             lambda r: (r["kind"], tuple(r["group"]), r["seed"], longer, data),
                             config.workers, config.threads)
        for i, r in zip(again, redo, strict=True):
            results[i] = r | {"retried": True,
                              "first_best_val_mse": results[i]["best_val_mse"]}
    still = set(failed_runs(results, config.fail_ratio))
    for i, r in enumerate(results):
        r.setdefault("retried", False)
        r.setdefault("first_best_val_mse", r["best_val_mse"])
        r["failed"] = i in still
        r["siblings_median_val_mse"] = sibling_median(results, i)
    out.json("config", asdict(config))
    out.json("data", {"n_train": len(data["x_train"]), "n_val": len(data["x_val"]),
                      "n_test": len(data["x_test"]), "n_out": len(data["out"]),
                      "n_window": data["n_window"]})
    out.frame("runs", pd.DataFrame([r for res in results for r in res["rows"]]
                                   + baselines(data, observed)))
    out.frame("history", pd.DataFrame([{"kind": res["kind"], "seed": res["seed"],
                                        "group": "/".join(map(str, res["group"])), **h}
                                       for res in results for h in res["history"]]))
    out.frame("solver", pd.DataFrame([r for res in results for r in res["solver_check"]],
                                     columns=["seed", "observed", "fine_extrap_rmse"]))
    keys = ("kind", "seed", "iterations", "best_iteration", "best_val_mse", "final_val_mse",
            "converged", "stop_reason", "retried", "first_best_val_mse", "failed",
            "siblings_median_val_mse", "seconds", "cpu_seconds")
    out.frame("models", pd.DataFrame([{"group": "/".join(map(str, res["group"])),
                                       **{k: res[k] for k in keys}} for res in results]))
    examples = {f"{res['kind']}_seed{res['seed']}_n{n}": p
                for res in results for n, p in res["examples"].items()}
    draws = {f"draws_n{n}": d[:N_EXAMPLES] for n, d in data["test_draws"].items()}
    out.arrays("examples", clean=data["c_test"][:N_EXAMPLES],
               noisy=data["x_test"][:N_EXAMPLES], **draws, **examples)


def _siblings(results: list[dict]) -> tuple[list[float], list[tuple]]:
    """Each run's best validation MSE and its group of siblings (kind, observed group)."""
    return ([r["best_val_mse"] for r in results],
            [(r["kind"], tuple(r["group"])) for r in results])


def sibling_median(results: list[dict], i: int) -> float:
    """The median best validation MSE of the other seeds of run ``i``'s kind and group
    (nan without siblings)."""
    return plateau.sibling_median(*_siblings(results), i)


def failed_runs(results: list[dict], ratio: float) -> list[int]:
    """Indices of the failed runs (:func:`nnde.plateau.failed_runs` on the best
    validation MSE among the seeds of the same kind and group)."""
    return plateau.failed_runs(*_siblings(results), ratio)
