"""One flow of the CNF stage: trained until its validation loss plateaus, then scored
(and pictured) on fresh samples."""

from __future__ import annotations

import numpy as np
import torch

from nnde.models.flows import CNF, PlanarFlow, Stacked, make_target, square_grid
from nnde.results import Timer
from nnde.train import (
    RESUME_STREAM,
    member_adam,
    member_optimizer_state,
    seed_everything,
    train_iterations,
    train_side_by_side,
    warm_restart,
)

from . import PAPER, STAGE

#: the flows compared in density matching, in the order their runs are listed
KINDS = ("planar", "cnf")


def build(kind: str, size: int, cfg, seed: int, task: str = "kl"):
    torch.manual_seed(seed)
    if kind == "cnf" and task == "ml":
        ml = cfg.ml
        return CNF(size, hyper=cfg.hyper, method=cfg.method, steps=ml.steps, t1=ml.t1,
                   base_std=ml.base_var ** 0.5, average=ml.average)
    if kind == "cnf":
        return CNF(size, hyper=cfg.hyper, method=cfg.method, steps=cfg.steps)
    return PlanarFlow(size)


def kl_loss(model, target, z0, steps: int | None = None):
    """KL(q‖p) up to Monte Carlo error: the mean of log q − log p over the flow's samples
    of the noise ``z0``; ``steps`` (a CNF's) solves with that many steps instead of its
    own."""
    kw = {} if steps is None else {"steps": steps}
    x, log_q = model.sample(len(z0), z0=z0, **kw)
    return (log_q - target.log_prob(x)).mean()


def train_job(task: str, target_name: str, kind: str, size: int, seed: int, cfg,
              resume: dict | None = None) -> dict:
    """Train one flow (task ``kl``: density matching; ``ml``: maximum likelihood).

    ``resume`` (a previous density-matching result of this function: its ``state``,
    ``iterations``, ``history`` and ``initial_loss``) continues that run: its weights and
    Adam's moments, the learning rate set back to ``cfg.lr`` (a warm restart: the failed
    run had lowered it at its plateau), batches from a fresh stream of the same seed,
    iterations counted on from where it stopped, up to ``cfg.max_iterations`` in all."""
    with Timer() as timer:
        res = _train_and_score(task, target_name, kind, size, seed, cfg, resume)
    return res | {"seconds": timer.wall, "cpu_seconds": timer.cpu}


def train_seeds(task: str, target_name: str, kind: str, size: int, seeds, cfg) -> list[dict]:
    """The runs of one flow, size, target and task, one per seed, trained side by side
    (:func:`nnde.train.train_side_by_side` on :class:`nnde.models.flows.Stacked`): each
    seed draws its initial weights, batches and validation data from the streams it would
    use alone (:func:`train_job`), has its own Adam moments and learning rate and, in
    density matching, follows its own plateau criterion; only the arithmetic is batched.
    Returns one result per seed, as :func:`train_job`'s; the seeds share the time they
    took, which is split evenly among them."""
    seeds = list(seeds)
    with Timer() as timer:
        target = make_target(target_name, cfg.noise)
        gens, models = [], []
        for s in seeds:
            gens.append(seed_everything(s))
            models.append(build(kind, size, cfg, s, task))
        flows = Stacked(models)
        vgens = [torch.Generator().manual_seed(10_000 + s) for s in seeds]
        if task == "kl":
            lr, plateau = cfg.lr, cfg.plateau
            iterations = max(cfg.max_iterations, cfg.eval_every)  # as train_job's
            val = torch.stack([torch.randn(cfg.eval_batch, 2, generator=g) for g in vgens])

            def loss(data, active):  # KL(q‖p) on base noise (E, B, 2)
                x, log_q = flows.sample(data, active)
                log_p = target.log_prob(x.reshape(-1, x.shape[-1])).reshape(log_q.shape)
                return (log_q - log_p).mean(-1)

            def draw(e):
                return torch.randn(cfg.batch, 2, generator=gens[e])
        else:
            # the authors' example: fresh target samples every iteration, fixed iterations
            lr, iterations, plateau = cfg.ml.lr, cfg.ml.iterations, None
            val = torch.stack([target.sample(cfg.eval_batch, g) for g in vgens])

            def loss(data, active):  # NLL of target samples (E, B, 2)
                return -flows.log_prob(data, active).mean(-1)

            def draw(e):
                return target.sample(cfg.ml.batch, gens[e])
        opt = member_adam(models, lr)

        def read(active):
            with torch.no_grad():
                return loss(val[active], active).tolist()

        def step_loss(active, _it):
            return loss(torch.stack([draw(e) for e in active]), active)

        initial = read(list(range(len(seeds))))
        hists = train_side_by_side(
            models, opt, step_loss, read, max_iterations=iterations,
            read_every=cfg.eval_every, plateau=plateau, monitor="val_loss",
            stage=f"{PAPER}.{STAGE}",
            model_names=[f"{kind} (size {size}) on {target_name}, task {task}, seed {s}"
                         for s in seeds])
        out = []
        for e, (s, model, hist) in enumerate(zip(seeds, models, hists, strict=True)):
            res = {"task": task, "target": target_name, "kind": kind, "size": size,
                   "seed": s, "params": sum(q.numel() for q in model.parameters()),
                   "initial_loss": initial[e], "iterations": hist.iterations,
                   "converged": hist.converged if task == "kl" else True,
                   "stop_reason": hist.stop_reason, "history": hist.records}
            if task == "kl":  # what a continued run starts from
                res["state"] = {
                    "model": {k: v.clone() for k, v in model.state_dict().items()},
                    "opt": member_optimizer_state(opt, e, model)}
            out.append(res | score(model, kind, task, target, s, cfg))
    share = {"seconds": timer.wall / len(seeds), "cpu_seconds": timer.cpu / len(seeds)}
    return [r | share for r in out]


def _train_and_score(task: str, target_name: str, kind: str, size: int, seed: int,
                     cfg, resume: dict | None = None) -> dict:
    if resume is not None and task != "kl":
        raise ValueError("only density-matching runs are continued")
    gen = seed_everything(seed if resume is None else seed + RESUME_STREAM)
    target = make_target(target_name, cfg.noise)
    model = build(kind, size, cfg, seed, task)
    lr = cfg.lr if task == "kl" else cfg.ml.lr
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    done = warm_restart(model, opt, resume, lr)
    vgen = torch.Generator().manual_seed(10_000 + seed)
    if task == "kl":
        z_val = torch.randn(cfg.eval_batch, 2, generator=vgen)

        def val_loss():
            with torch.no_grad():
                return float(kl_loss(model, target, z_val))

        def step_loss(_it: int) -> torch.Tensor:
            return kl_loss(model, target, torch.randn(cfg.batch, 2, generator=gen))
    else:
        # the authors' example: fresh samples of the target at every iteration
        x_val = target.sample(cfg.eval_batch, vgen)

        def val_loss():
            with torch.no_grad():
                return float(-model.log_prob(x_val).mean())

        def step_loss(_it: int) -> torch.Tensor:
            return -model.log_prob(target.sample(cfg.ml.batch, gen)).mean()
    initial = val_loss() if resume is None else resume["initial_loss"]
    if task == "kl":
        hist = train_iterations(model, opt, step_loss, val_loss,
                                max_iterations=max(cfg.max_iterations - done, cfg.eval_every),
                                read_every=cfg.eval_every,
                                plateau=cfg.plateau, monitor="val_loss",
                                stage=f"{PAPER}.{STAGE}",
                                model_name=f"{kind} (size {size}) on {target_name}, task kl")
    else:
        # the authors' fixed iteration count, no plateau criterion (their example's)
        hist = train_iterations(model, opt, step_loss, val_loss,
                                max_iterations=cfg.ml.iterations, read_every=cfg.eval_every,
                                monitor="val_loss", stage=f"{PAPER}.{STAGE}",
                                model_name=f"{kind} (size {size}) on {target_name}, task ml")
    records = [r | {"iteration": r["iteration"] + done} for r in hist.records]
    res = {"task": task, "target": target_name, "kind": kind, "size": size, "seed": seed,
           "params": sum(p.numel() for p in model.parameters()), "initial_loss": initial,
           "iterations": hist.iterations + done,
           "converged": hist.converged if task == "kl" else True,
           "stop_reason": hist.stop_reason if task == "kl" else "fixed iterations",
           "history": (resume["history"] if resume is not None else []) + records}
    if task == "kl":  # what a continued run starts from
        res["state"] = {"model": {k: v.clone() for k, v in model.state_dict().items()},
                        "opt": opt.state_dict()}
    return res | score(model, kind, task, target, seed, cfg)


def score(model, kind: str, task: str, target, seed: int, cfg) -> dict:
    """A trained flow's final losses on fresh samples of its seed's test stream (and,
    for the first seed, its :func:`picture`)."""
    res = {}
    tgen = torch.Generator().manual_seed(20_000 + seed)
    with torch.no_grad():
        z = torch.randn(cfg.test_batch, 2, generator=tgen)
        if task == "kl":
            # judged under a finer solve; the training solve's value is the check
            res["kl_q_p_train_solve"] = float(kl_loss(model, target, z))
            res["kl_q_p"] = (float(kl_loss(model, target, z, cfg.fine_factor * cfg.steps))
                             if kind == "cnf" else res["kl_q_p_train_solve"])
        else:
            x_test = target.sample(cfg.test_batch, tgen)
            log_p = target.log_prob(x_test).double()
            coarse = model.log_prob(x_test).double()
            res["nll"] = float(-coarse.mean())
            res["kl_q_p"] = float(kl_loss(model, target, z))
            # the solver check: the same flow under a finer solve; the claim is judged on
            # it, with its Monte Carlo error over the test samples
            fine = model.log_prob(x_test, steps=cfg.ml.fine_factor * cfg.ml.steps).double()
            res["nll_fine_solver"] = float(-fine.mean())
            res["kl_p_q_fine"] = float((log_p - fine).mean())
            res["kl_p_q_fine_se"] = float((log_p - fine).std() / len(x_test) ** 0.5)
        # the figure shows the first seed's flows: the others are not pictured
        first = (cfg.seeds if task == "kl" else cfg.ml.seeds)[0]
        res["picture"] = picture(model, kind, task, cfg, seed) if seed == first else {}
    return res


def picture(model, kind: str, task: str, cfg, seed: int) -> dict:
    """What the figure shows of one model: samples (and, for the ML CNF, the density on
    a grid and the samples at t = 0, 1/2, 1)."""
    g = torch.Generator().manual_seed(30_000 + seed)
    z = torch.randn(cfg.picture_samples, 2, generator=g)
    x, _ = model.sample(len(z), z0=z)
    out = {"samples": x.numpy()}
    if kind == "cnf" and task == "ml":
        traj, _ = model.sample(len(z), z0=z, trajectory=True)
        out["transport"] = traj[[0, len(traj) // 2, -1]].numpy()
        out["density"] = np.exp(model.log_prob(square_grid(cfg.grid)).numpy()).reshape(
            cfg.grid, cfg.grid)
    return out
