"""Chen et al. (2018), Table 1: the run step. Trains every (model, seed) and saves, in
``data/chen/table1/``:

- ``per_seed.csv``  one row per (model, seed): test error, the convergence summary of
  :meth:`nnde.train.History.summary`, parameters, peak saved-tensor memory of one
  training step, seconds per epoch, NFE of the ODE block;
- ``history.csv``   per (model, seed, epoch) the training record (for the ODE-Net also the
  probe's forward and backward NFE, Figure 3c, d);
- ``odenet.npz``    the weights of the first seed's ODE-Net (Figure 3 rebuilds it);
- ``config.json``   this :class:`Config`; ``info.json`` the data's ``size``, ``dims``
  (1: signals (B, 1, L); 2: images), ``n_train``, ``n_test`` and the saved ``odenet_seed``.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass

import pandas as pd
import torch

from nnde.data import load_mnist, load_mnist1d
from nnde.errors import ParamError
from nnde.integrators import METHODS, names_of_kind
from nnde.layers.ode_block import ADJOINT_BACKENDS
from nnde.models.chen import CLASSIFIERS, classifier_from_config, measure_step, ode_block
from nnde.parallel import map_jobs
from nnde.results import ResultsWriter
from nnde.stage import get_choice, get_list, get_number, get_seeds, get_threads, one_of
from nnde.train import (
    Plateau,
    TrainConfig,
    count_parameters,
    seed_everything,
    set_threads,
    train_classifier,
)

from . import NAMES, PAPER, STAGE

DATASETS = ("mnist1d", "mnist")
#: Costliest first, so that parallel workers finish together.
COST = {"odenet": 8.0, "rknet": 1.5, "resnet": 1.0, "mlp": 0.1}


@dataclass(frozen=True)
class Config:
    """``chen.table1`` of params.yaml, checked."""

    dataset: str
    mnist1d_path: str
    train_subset: int | None
    test_subset: int | None
    train_eval_subset: int
    models: tuple[str, ...]
    channels: int
    groups: int | None
    downsample: int
    mlp_hidden: int
    ode_method: str
    adjoint_backend: str
    tol: float
    probe_tol: float
    rk_method: str
    rk_steps: int
    epochs: int
    plateau: Plateau | None
    batch_size: int
    lr: float
    optimizer: str
    milestones: tuple[int, ...]
    close_sd: float
    seeds: tuple[int, ...]
    threads: int | str
    workers: int
    device: str


def read_config(p: dict) -> Config:
    sec = f"{PAPER}.{STAGE}"

    model = one_of(CLASSIFIERS)

    def milestone(v, name):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ParamError(name, f"is {v!r}", "an integer > 0")
        return v

    def optional_int(key):
        return None if p.get(key) is None else get_number(p, key, sec, kind=int, gt=0)

    adaptive = [m for m, v in METHODS.items() if getattr(v, "adaptive", False)]
    cfg = {
        "dataset": get_choice(p, "dataset", DATASETS, sec),
        "mnist1d_path": str(p.get("mnist1d_path", "data/mnist1d/mnist1d.npz")),
        "train_subset": optional_int("train_subset"),
        "test_subset": optional_int("test_subset"),
        "train_eval_subset": get_number(p, "train_eval_subset", sec, kind=int, ge=0)
        if "train_eval_subset" in p else 0,
        "models": tuple(get_list(p, "models", model, sec)),
        "channels": get_number(p, "channels", sec, kind=int, gt=0),
        "groups": optional_int("groups"),
        "downsample": get_number(p, "downsample", sec, kind=int, ge=0),
        "mlp_hidden": get_number(p, "mlp_hidden", sec, kind=int, gt=0),
        "ode_method": get_choice(p, "ode_method", adaptive, sec),
        "adjoint_backend": get_choice(p, "adjoint_backend", ADJOINT_BACKENDS, sec),
        "tol": get_number(p, "tol", sec, gt=0),
        "probe_tol": get_number(p, "probe_tol", sec, gt=0),
        "rk_method": get_choice(p, "rk_method", names_of_kind("explicit"), sec),
        "rk_steps": get_number(p, "rk_steps", sec, kind=int, gt=0),
        "epochs": get_number(p, "epochs", sec, kind=int, gt=0),
        "plateau": Plateau.from_params(p.get("plateau"), sec),
        "batch_size": get_number(p, "batch_size", sec, kind=int, gt=0),
        "lr": get_number(p, "lr", sec, gt=0),
        "optimizer": get_choice(p, "optimizer", ["sgd", "adam", "rmsprop"], sec),
        "milestones": tuple(p.get("milestones") and get_list(p, "milestones", milestone, sec)
                            or []),
        "close_sd": get_number(p, "close_sd", sec, gt=0),
        "seeds": tuple(get_seeds(p, "seeds", sec)),
        "threads": get_threads(p, "threads", sec),
        "workers": get_number(p, "workers", sec, kind=int, gt=0) if "workers" in p else 1,
        "device": get_choice(p, "device", ["cpu", "auto", "cuda"], sec),
    }
    if cfg["plateau"] is not None and cfg["milestones"]:
        raise ParamError(
            f"{sec}.milestones",
            f"is {list(cfg['milestones'])!r}",
            "[] with a plateau criterion (it lowers the lr itself)",
        )
    size = 40 if cfg["dataset"] == "mnist1d" else 28
    if size % (2 ** cfg["downsample"]):
        raise ParamError(
            f"{sec}.downsample",
            f"is {cfg['downsample']}: {size} is not divisible by 2^{cfg['downsample']}",
        )
    groups = cfg["groups"] or min(32, cfg["channels"])
    if cfg["channels"] % groups:
        raise ParamError(f"{sec}.groups", f"is {groups}", f"a divisor of {cfg['channels']}")
    if "odenet" not in cfg["models"]:
        raise ParamError(
            f"{sec}.models", "must include 'odenet' (Figure 3 uses it)", ", ".join(CLASSIFIERS)
        )
    if cfg["device"] != "cpu" and cfg["workers"] > 1:
        raise ParamError(f"{sec}.workers", f"is {cfg['workers']}", "1 unless device is cpu")
    return Config(**cfg)


# --------------------------------------------------------------------------- data, models
def load_data(cfg: Config):
    """(x_train, y_train, x_test, y_test, size, dims): MNIST-1D signals (N, 1, 40)
    (dims 1) or MNIST images (N, 1, 28, 28) in [0, 1] (dims 2); ``train_subset`` /
    ``test_subset`` (when set) keep the first examples."""
    if cfg.dataset == "mnist1d":
        s = load_mnist1d(cfg.mnist1d_path)
        xtr, ytr, xte, yte = s.x_train, s.y_train, s.x_test, s.y_test
    else:
        xtr, ytr = load_mnist("data/raw", "train")
        xte, yte = load_mnist("data/raw", "test")
        f = lambda x: (x.float() / 255.0).unsqueeze(1)  # noqa: E731
        xtr, xte = f(xtr), f(xte)
    if cfg.train_subset:
        xtr, ytr = xtr[: cfg.train_subset], ytr[: cfg.train_subset]
    if cfg.test_subset:
        xte, yte = xte[: cfg.test_subset], yte[: cfg.test_subset]
    dims = xtr.dim() - 2
    return xtr, ytr, xte, yte, xtr.shape[-1], dims


def build(kind: str, cfg: Config, size: int, dims: int):
    """The model ``kind`` as configured (Figure 3 rebuilds the ODE-Net alike, from the
    saved ``config.json``: :func:`nnde.models.chen.classifier_from_config`)."""
    return classifier_from_config(kind, asdict(cfg), size, dims)


# --------------------------------------------------------------------------- training
def train_one(kind: str, seed: int, cfg: Config, data=None) -> dict:
    """Train ``kind`` from ``seed``; its per-seed row, history records, convergence
    summary and (ODE-Net of the first seed) its weights."""
    set_threads(cfg.threads, cfg.workers)
    cpu0 = time.process_time()
    xtr, ytr, xte, yte, size, dims = data if data is not None else load_data(cfg)
    bs = cfg.batch_size
    dev = torch.device("cuda" if cfg.device != "cpu" and torch.cuda.is_available() else "cpu")
    probe_x, probe_y = xtr[:bs], ytr[:bs]
    seed_everything(seed)
    model = build(kind, cfg, size, dims)
    tc = TrainConfig(
        epochs=cfg.epochs,
        batch_size=bs,
        lr=cfg.lr,
        optimizer=cfg.optimizer,
        momentum=0.9,
        milestones=tuple(cfg.milestones),
        seed=seed,
        device=cfg.device,
        stage=f"{PAPER}.{STAGE}",
        model_name=f"{kind}-seed{seed}",
        plateau=cfg.plateau,
        train_eval_subset=cfg.train_eval_subset,
    )

    def on_epoch(m, epoch):  # the ODE-Net's NFE over training (Figure 3c, d)
        if kind != "odenet":
            return {}
        # At the probe tolerance (the paper's 1e-3), not the training one: a loose
        # training tolerance can pin the NFE at the solver's minimum number of steps.
        blk = ode_block(m)
        tols = blk.rtol, blk.atol
        blk.rtol = blk.atol = cfg.probe_tol
        try:
            r = measure_step(m, probe_x.to(dev), probe_y.to(dev))
        finally:
            blk.rtol, blk.atol = tols
        return {"nfe_forward": r["nfe_forward"], "nfe_backward": r["nfe_backward"]}

    h = train_classifier(model, xtr, ytr, tc, evals={"test": (xte, yte)}, on_epoch=on_epoch)
    steps = [measure_step(model, probe_x.to(dev), probe_y.to(dev)) for _ in range(3)]
    step_s = statistics.median(r["seconds"] for r in steps)
    summ = h.summary()
    row = {
        "model": NAMES[kind],
        "kind": kind,
        "seed": seed,
        "test_error_pct": 100 * h.records[-1]["test_error"],
        **summ,
        "params": count_parameters(model),
        "peak_saved_MB": steps[-1]["saved_peak_bytes"] / 2**20,
        "cuda_peak_MB": steps[-1]["cuda_peak_bytes"] / 2**20,
        "epoch_seconds": step_s * math.ceil(len(xtr) / bs),
        "train_seconds": h.seconds,
        "cpu_seconds": time.process_time() - cpu0,
        "nfe_forward": steps[-1]["nfe_forward"],
        "nfe_backward": steps[-1]["nfe_backward"],
    }
    keep = kind == "odenet" and seed == cfg.seeds[0]
    return {
        "row": row,
        "records": [{"model": kind, "seed": seed, **r} for r in h.records],
        "state_dict": {k: v.cpu() for k, v in model.state_dict().items()} if keep else None,
        "size": size,
        "dims": dims,
    }


def train_all(cfg: Config):
    """Train every (model, seed), in ``cfg.workers`` processes. Returns (per-seed table,
    history, ODE-Net state dict of the first seed or None, data info: size, dims,
    n_train, n_test)."""
    jobs = sorted(
        ((k, s) for k in cfg.models for s in cfg.seeds),
        key=lambda j: (-COST[j[0]], cfg.seeds.index(j[1])),
    )
    data = load_data(cfg)
    results = map_jobs(train_one, [(k, s, cfg, data) for k, s in jobs], cfg.workers,
                       cfg.threads)
    order = {k: i for i, k in enumerate(cfg.models)}
    results.sort(key=lambda r: (order[r["row"]["kind"]], cfg.seeds.index(r["row"]["seed"])))
    per_seed = pd.DataFrame([r["row"] for r in results])
    hist = pd.DataFrame([rec for r in results for rec in r["records"]])
    state = next((r["state_dict"] for r in results if r["state_dict"] is not None), None)
    info = {"size": data[4], "dims": data[5], "n_train": len(data[0]), "n_test": len(data[2])}
    return per_seed, hist, state, info


def run(cfg: Config, out: ResultsWriter) -> None:
    per_seed, hist, state, info = train_all(cfg)
    out.frame("per_seed", per_seed)
    out.frame("history", hist)
    out.arrays("odenet", **state)
    out.json("info", {**info, "odenet_seed": cfg.seeds[0]})
    out.json("config", asdict(cfg))
