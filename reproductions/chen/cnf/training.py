"""One flow of the CNF stage: trained until its validation loss plateaus, then scored
(and pictured) on fresh samples."""

from __future__ import annotations

import numpy as np
import torch

from nnde.models.flows import CNF, PlanarFlow, make_target, square_grid
from nnde.results import Timer
from nnde.train import seed_everything, train_iterations

from . import PAPER, STAGE

#: the flows compared in density matching, in the order their runs are listed
KINDS = ("planar", "cnf")


def build(kind: str, size: int, cfg, seed: int):
    torch.manual_seed(seed)
    if kind == "cnf":
        return CNF(size, hyper=cfg.hyper, method=cfg.method, steps=cfg.steps)
    return PlanarFlow(size)


def kl_loss(model, target, z0):
    x, log_q = model.sample(len(z0), z0=z0)
    return (log_q - target.log_prob(x)).mean()


def train_job(task: str, target_name: str, kind: str, size: int, seed: int, cfg) -> dict:
    """Train one flow (task ``kl``: density matching; ``ml``: maximum likelihood)."""
    with Timer() as timer:
        res = _train_and_score(task, target_name, kind, size, seed, cfg)
    return res | {"seconds": timer.wall, "cpu_seconds": timer.cpu}


def _train_and_score(task: str, target_name: str, kind: str, size: int, seed: int,
                     cfg) -> dict:
    gen = seed_everything(seed)
    target = make_target(target_name, cfg.noise)
    model = build(kind, size, cfg, seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    vgen = torch.Generator().manual_seed(10_000 + seed)
    if task == "kl":
        z_val = torch.randn(cfg.eval_batch, 2, generator=vgen)

        def val_loss():
            with torch.no_grad():
                return float(kl_loss(model, target, z_val))

        def step_loss(_it: int) -> torch.Tensor:
            return kl_loss(model, target, torch.randn(cfg.batch, 2, generator=gen))
    else:
        x_train = target.sample(cfg.n_train, gen)
        x_val = target.sample(cfg.eval_batch, vgen)

        def val_loss():
            with torch.no_grad():
                return float(-model.log_prob(x_val).mean())

        def step_loss(_it: int) -> torch.Tensor:
            b = torch.randint(0, len(x_train), (cfg.batch,), generator=gen)
            return -model.log_prob(x_train[b]).mean()
    initial = val_loss()
    hist = train_iterations(model, opt, step_loss, val_loss, max_iterations=cfg.max_iterations,
                            read_every=cfg.eval_every, plateau=cfg.plateau,
                            monitor="val_loss", stage=f"{PAPER}.{STAGE}",
                            model_name=f"{kind} (size {size}) on {target_name}, task {task}")
    res = {"task": task, "target": target_name, "kind": kind, "size": size, "seed": seed,
           "params": sum(p.numel() for p in model.parameters()), "initial_loss": initial,
           "iterations": hist.iterations, "converged": hist.converged,
           "stop_reason": hist.stop_reason, "history": hist.records}
    tgen = torch.Generator().manual_seed(20_000 + seed)
    with torch.no_grad():
        z = torch.randn(cfg.test_batch, 2, generator=tgen)
        if task == "kl":
            res["kl_q_p"] = float(kl_loss(model, target, z))
        else:
            x_test = target.sample(cfg.test_batch, tgen)
            res["nll"] = float(-model.log_prob(x_test).mean())
            if kind == "cnf":
                res["kl_q_p"] = float(kl_loss(model, target, z))
                fine = float(-model.log_prob(x_test, steps=4 * cfg.steps).mean())
                res["nll_fine_solver"] = fine
        res["picture"] = picture(model, kind, task, cfg)
    return res


def picture(model, kind: str, task: str, cfg) -> dict:
    """What the figure shows of one model: samples (and, for the ML CNF, the density on
    a grid and the samples at t = 0, 1/2, 1)."""
    g = torch.Generator().manual_seed(30_000)
    z = torch.randn(cfg.picture_samples, 2, generator=g)
    x, _ = model.sample(len(z), z0=z)
    out = {"samples": x.numpy()}
    if kind == "cnf" and task == "ml":
        traj, _ = model.sample(len(z), z0=z, trajectory=True)
        out["transport"] = traj[[0, len(traj) // 2, -1]].numpy()
        out["density"] = np.exp(model.log_prob(square_grid(cfg.grid)).numpy()).reshape(
            cfg.grid, cfg.grid)
    return out
