"""Chen et al. (2018), Figure 3: the run step. Rebuilds the ODE-Net that the Table 1 run
trained and saves, in ``data/chen/fig3/``:

- ``sweep.csv``    per tolerance: forward NFE, relative error of the block's output,
  median forward seconds (wall) and CPU seconds (process), forward/backward NFE of one
  adjoint training step with the block's own adjoint error norm and, with nnde's
  adjoint, with each of ``NORMS`` ("mixed": per part of the state, torchdiffeq's
  current default; "seminorm"; "rms": one norm over the flattened augmented state, as
  in the 2018 release, the paper's);
- ``probe.csv``    the per-epoch NFE probe of every seed's ODE-Net in the Table 1 run
  (``seed``, ``epoch``, ``nfe_forward``, ``nfe_backward``);
- ``trained.json`` what the saved model is: data set, seed, dims, training and probe
  tolerance, and the inputs' size;
- ``config.json``  this :class:`Config`, and ``ref_tol``, the reference solve's tolerance.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from nnde.data import load_mnist, load_mnist1d
from nnde.errors import DataFileError
from nnde.integrators import solve
from nnde.integrators.adjoint import NORMS
from nnde.models.chen import classifier_from_config, ode_block
from nnde.results import ResultsWriter
from nnde.stage import get_list, get_number, get_threads, positive_float
from nnde.train import set_threads

from . import PAPER, STAGE

#: the Table 1 run's results: the trained ODE-Net, its config and its per-epoch probe
TABLE1 = "data/chen/table1"
REF_TOL = 1e-7


@dataclass(frozen=True)
class Config:
    """``chen.fig3`` of params.yaml, checked."""

    tols: tuple[float, ...]
    batch: int
    repeats: int
    threads: int | str


def read_config(p: dict) -> Config:
    sec = f"{PAPER}.{STAGE}"
    return Config(
        tols=tuple(get_list(p, "tols", positive_float, sec)),
        batch=get_number(p, "batch", sec, kind=int, gt=0),
        repeats=get_number(p, "repeats", sec, kind=int, gt=0),
        threads=get_threads(p, "threads", sec),
    )


def load_trained(folder: str | Path = TABLE1):
    """(model, trained) from the Table 1 run's results: the first seed's ODE-Net with its
    weights loaded, and what it is (``dataset``, ``mnist1d_path``, ``seed``, ``size``,
    ``dims`` (1: signals, 2: images), ``tol``, ``probe_tol``)."""
    folder = Path(folder)
    files = [folder / f for f in ("config.json", "info.json", "odenet.npz")]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise DataFileError(
            f"{', '.join(missing)} not found: run the chen_table1 stage first "
            "(dvc repro chen_table1)"
        )
    cfg = json.loads(files[0].read_text())
    info = json.loads(files[1].read_text())
    model = classifier_from_config("odenet", cfg, info["size"], info["dims"])
    with np.load(files[2], allow_pickle=False) as z:
        model.load_state_dict({k: torch.from_numpy(z[k]) for k in z.files})
    trained = {"dataset": cfg["dataset"], "mnist1d_path": cfg["mnist1d_path"],
               "seed": info["odenet_seed"], "size": info["size"], "dims": info["dims"],
               "tol": cfg["tol"], "probe_tol": cfg["probe_tol"]}
    return model, trained


def load_probe(folder: str | Path = TABLE1) -> pd.DataFrame:
    """The ODE-Nets' per-epoch NFE probe of the Table 1 run, every seed."""
    path = Path(folder) / "history.csv"
    try:
        hist = pd.read_csv(path)
    except FileNotFoundError:
        raise DataFileError(f"{path} not found: run dvc repro chen_table1") from None
    hist = hist[hist.model == "odenet"]
    return hist[["seed", "epoch", "nfe_forward", "nfe_backward"]].reset_index(drop=True)


def held_out_batch(trained: dict, n: int):
    """The first ``n`` test inputs of the Table 1 data set, (n, 1, L) or (n, 1, H, W)."""
    if trained["dataset"] == "mnist1d":
        s = load_mnist1d(trained.get("mnist1d_path", "data/mnist1d/mnist1d.npz"))
        return s.x_test[:n], s.y_test[:n]
    x, y = load_mnist("data/raw", "test")
    return (x[:n].float() / 255.0).unsqueeze(1), y[:n]


def _train_step_nfe(model, blk, x, y) -> tuple[int, int]:
    """(forward, backward) NFE of one training step (loss and gradient)."""
    model.zero_grad(set_to_none=True)
    blk.reset_nfe()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    f_train = blk.nfe_forward
    loss.backward()
    model.zero_grad(set_to_none=True)
    return f_train, blk.nfe_backward


def tolerance_sweep(model, x, y, tols, repeats: int = 3) -> pd.DataFrame:
    """Per tolerance: forward NFE, relative error of the block's output, median forward
    wall and CPU seconds, and forward/backward NFE of one adjoint training step (with
    the block's own norm, and with each of ``NORMS`` under nnde's adjoint).

    Times: after one untimed pass over every tolerance (which also warms up), ``repeats``
    rounds time each tolerance once in turn (round robin, so that a change in the load of
    a shared machine hits every tolerance alike); the median wall time per tolerance, and
    the least CPU time of the process (``time.process_time``): what a busy machine
    disturbs least, since load only ever adds to it."""
    blk = ode_block(model)
    own_norm = blk.adjoint_norm
    with torch.no_grad():
        h0 = model[0](x)
        ref = solve(blk.func.field, h0, 0.0, blk.T, None, "dopri5", rtol=REF_TOL, atol=REF_TOL)
    rows = []
    for tol in tols:
        blk.rtol = blk.atol = tol
        with torch.no_grad():
            blk.reset_nfe()
            out = blk(h0)
            nfe_f = blk.nfe_forward
        err = float((out - ref).norm() / ref.norm())
        f_train, b_train = _train_step_nfe(model, blk, x, y)
        row = {"tol": tol, "nfe_forward": nfe_f, "rel_error": err,
               "train_nfe_forward": f_train, "train_nfe_backward": b_train}
        for norm in NORMS:
            if blk.adjoint_backend == "nnde" and blk.gradient == "adjoint":
                blk.adjoint_norm = norm
                row[f"train_nfe_backward_{norm}"] = _train_step_nfe(model, blk, x, y)[1]
            else:
                row[f"train_nfe_backward_{norm}"] = np.nan
        blk.adjoint_norm = own_norm
        rows.append(row)
    times: dict[float, list[float]] = {tol: [] for tol in tols}
    cpu: dict[float, list[float]] = {tol: [] for tol in tols}
    with torch.no_grad():
        for _ in range(repeats):
            for tol in tols:
                blk.rtol = blk.atol = tol
                t0, c0 = time.perf_counter(), time.process_time()
                blk(h0)
                cpu[tol].append(time.process_time() - c0)
                times[tol].append(time.perf_counter() - t0)
    for r in rows:
        r["seconds"] = statistics.median(times[r["tol"]])
        # the least-disturbed repeat: a busy machine only ever adds time
        r["cpu_seconds"] = min(cpu[r["tol"]])
    cols = ["tol", "nfe_forward", "rel_error", "seconds", "cpu_seconds", "train_nfe_forward",
            "train_nfe_backward"] + [f"train_nfe_backward_{n}" for n in NORMS]
    return pd.DataFrame(rows)[cols]


def run(cfg: Config, out: ResultsWriter) -> None:
    set_threads(cfg.threads)
    model, trained = load_trained()
    probe = load_probe()
    x, y = held_out_batch(trained, cfg.batch)
    sweep = tolerance_sweep(model, x, y, list(cfg.tols), cfg.repeats)
    out.frame("sweep", sweep)
    out.frame("probe", probe)
    blk = ode_block(model)
    out.json("trained", trained | {"adjoint_backend": blk.adjoint_backend,
                                   "adjoint_norm": blk.adjoint_norm})
    out.json("config", {**asdict(cfg), "ref_tol": REF_TOL})
