"""The training loops of the reproductions: :func:`train_classifier` (epochs over a data
set; seeded, device-aware, with a progress bar), :func:`train_iterations` (optimiser
steps on batches a stage draws itself) and :func:`train_side_by_side` (several small
models, say one per seed, stepped as one batched computation), all with a NaN/inf guard
that names the stage, model and step, and all stopping at a :class:`Plateau`
criterion."""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import distributed
from .errors import DivergenceError, ParamError
from .plateau import Plateau  # noqa: F401  (re-exported: the training loops follow it)

OPTIMIZERS = ("sgd", "adam", "rmsprop")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, numpy and torch; return a torch generator for data order."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    g = torch.Generator()
    g.manual_seed(seed)
    return g


#: the data stream of a continued run: its seed moved by this much (a fresh stream)
RESUME_STREAM = 7_919


def warm_restart(model: nn.Module, opt: torch.optim.Optimizer, resume: dict | None,
                 lr: float) -> int:
    """Continue a stopped run, if ``resume`` is given (a run's result holding ``state`` =
    {"model", "opt"} state dicts and its ``iterations``): load its weights and the
    optimiser's moments and set the learning rate back to ``lr`` (a warm restart: a run
    that stopped at a plateau had lowered it). Returns the iterations already done (0
    for a new run). Seed the continued run's data from ``seed + RESUME_STREAM``."""
    if resume is None:
        return 0
    model.load_state_dict(resume["state"]["model"])
    opt.load_state_dict(resume["state"]["opt"])
    for g in opt.param_groups:
        g["lr"] = lr
    return int(resume["iterations"])


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS has one),
    at most ``NNDE_MAX_THREADS`` when that is set (a shared machine, or processes run
    side by side, such as the test suite's workers)."""
    try:
        n = max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        n = max(1, os.cpu_count() or 1)
    cap = os.environ.get("NNDE_MAX_THREADS", "")
    return min(n, int(cap)) if cap.isdigit() and int(cap) > 0 else n


def resolve_threads(n: int | str | None, workers: int = 1) -> int:
    """``"auto"`` (or 0) → the available cores shared evenly by ``workers`` processes (at
    least 1 each); an integer > 0 is taken as it is."""
    if n in ("auto", 0, None):
        return max(1, available_cores() // max(1, int(workers)))
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ParamError("threads", f"is {n!r}", "auto or an integer > 0")
    return n


def set_threads(n: int | str | None, workers: int = 1) -> int:
    """Fix torch's intra-op thread count (results and timings depend on it); ``"auto"``
    uses every available core (shared by ``workers`` processes). Returns the count set."""
    k = resolve_threads(n, workers)
    torch.set_num_threads(k)
    return k


class PlateauState:
    """The running state of a :class:`Plateau` criterion: call :meth:`update` with each
    reading of the monitored loss (an epoch's training loss, or a validation loss read
    every few iterations); it lowers the learning rate and says when to stop."""

    def __init__(self, crit: Plateau):
        self.crit = crit
        self.best = math.inf
        self.since = 0
        self.drops_done = 0
        self.reason = ""

    def state_dict(self) -> dict:
        return {"best": self.best, "since": self.since, "drops_done": self.drops_done,
                "reason": self.reason}

    def load_state_dict(self, d: dict) -> None:
        self.best, self.since = d["best"], d["since"]
        self.drops_done, self.reason = d["drops_done"], d["reason"]

    def update(self, loss: float, opt: torch.optim.Optimizer) -> bool:
        """Record one epoch's training loss; True when training should stop."""
        c = self.crit
        if loss <= c.floor:
            self.reason = "floor"
            return True
        if loss < (1 - c.rel) * self.best:
            self.best, self.since = loss, 0
            return False
        self.best = min(self.best, loss)
        self.since += 1
        if self.since < c.patience:
            return False
        if self.drops_done < c.drops:
            self.drops_done += 1
            self.since = 0
            for g in opt.param_groups:
                g["lr"] *= c.factor
            return False
        self.reason = "plateau"
        return True


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` → cuda if available, else cpu; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ParamError("device", f"is {name!r} but no CUDA device is available", "auto, cpu")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise ParamError("device", f"is {name!r}", "auto, cpu, cuda, cuda:N")
    return torch.device(name)


@dataclass
class TrainConfig:
    epochs: int
    batch_size: int
    lr: float
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 0.0
    milestones: tuple[int, ...] = ()  # epochs at which the lr is multiplied by gamma
    gamma: float = 0.1
    seed: int = 0
    device: str = "cpu"
    stage: str = ""
    model_name: str = ""
    progress: bool | None = None  # None: a bar only when stderr is a terminal
    eval_batch_size: int = 1024
    checkpoint: str | None = None  # saved (atomically, by rank 0) after every epoch
    resume: bool = False  # continue from `checkpoint` if it exists
    eval_train: bool = True  # re-evaluate the training set after every epoch
    # > 0: the per-epoch training loss/error (and the plateau criterion reading it) come
    # from a fixed random subset of that many training examples, drawn from ``seed``
    # without touching the global RNG; the whole set is evaluated once after the last
    # epoch for the run's final numbers (History.summary). 0: the whole set every epoch.
    train_eval_subset: int = 0
    # Train to a plateau of the training loss (``epochs`` is then the cap); None: a fixed
    # number of epochs. Needs eval_train and no milestones.
    plateau: Plateau | None = None
    # Data-parallel runs (torchrun): True synchronises BatchNorm statistics over all
    # processes (nn.SyncBatchNorm, GPUs only), so every process normalises with the global
    # batch's statistics as a single-process run does. False (default): each process
    # normalises with its own shard's statistics. NNDE_SYNC_BATCHNORM=1 (or a stage's
    # --sync-batchnorm) turns it on for every model a stage trains.
    sync_batchnorm: bool = False

    def __post_init__(self):
        for key in ("epochs", "batch_size", "eval_batch_size"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ParamError(key, f"is {v!r}", "an integer > 0")
        v = self.train_eval_subset
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ParamError("train_eval_subset", f"is {v!r}", "an integer >= 0 (0: the "
                             "whole training set)")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ParamError("lr", f"is {self.lr!r}", "a number > 0")
        if self.optimizer not in OPTIMIZERS:
            raise ParamError("optimizer", f"is {self.optimizer!r}", ", ".join(OPTIMIZERS))
        if self.plateau is not None:
            if not self.eval_train:
                raise ParamError("plateau", "needs the training loss of every epoch",
                                 "eval_train=True")
            if self.milestones:
                raise ParamError("milestones", "cannot be combined with a plateau criterion "
                                 "(the plateau lowers the learning rate itself)", "[]")
        # Long runs: NNDE_CHECKPOINT_DIR turns on per-epoch checkpoints for every model a
        # stage trains, NNDE_RESUME=1 continues each from its last checkpoint.
        ck_dir = os.environ.get("NNDE_CHECKPOINT_DIR")
        if self.checkpoint is None and ck_dir:
            name = f"{self.stage or 'run'}-{self.model_name or 'model'}-seed{self.seed}.pt"
            self.checkpoint = str(Path(ck_dir) / name.replace("/", "_"))
        if os.environ.get("NNDE_RESUME", "") not in ("", "0"):
            self.resume = True
        if os.environ.get("NNDE_SYNC_BATCHNORM", "") not in ("", "0"):
            self.sync_batchnorm = True


@dataclass
class History:
    """Per-epoch records (one dict per evaluation) plus totals."""

    records: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    iterations: int = 0
    #: with a plateau criterion: whether it was met ("plateau"/"floor" reached before the
    #: epoch cap); None when training ran a fixed number of epochs
    converged: bool | None = None
    stop_reason: str = ""  # "plateau", "floor", "epoch cap" or "fixed epochs"
    #: (loss, error) on the whole training set after the last epoch, when the per-epoch
    #: records were taken on a subset (TrainConfig.train_eval_subset); None otherwise
    final_train: tuple[float, float] | None = None

    def summary(self) -> dict:
        """Final training loss and error (on the whole training set), epochs run, and the
        convergence record."""
        last = self.records[-1] if self.records else {}
        loss, err = self.final_train or (last.get("train_loss", math.nan),
                                         last.get("train_error", math.nan))
        return {
            "final_train_loss": loss,
            "final_train_error": err,
            "epochs_run": last.get("epoch", 0),
            "converged": self.converged,
            "stop_reason": self.stop_reason,
        }

    def frame(self):
        import pandas as pd

        return pd.DataFrame(self.records)


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The optimiser of ``cfg``, updating all parameters with one multi-tensor (foreach)
    kernel per operation: the same update as the per-tensor loop, which torch picks on
    CPUs by default and which costs ~1 ms a step for a net of a hundred tensors."""
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                               weight_decay=cfg.weight_decay, foreach=True)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay,
                                foreach=True)
    return torch.optim.RMSprop(params, lr=cfg.lr, weight_decay=cfg.weight_decay,
                               foreach=True)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024,
             device: torch.device | str = "cpu") -> tuple[float, float]:
    """Mean cross-entropy and error rate (fraction misclassified) of ``model`` on (x, y)."""
    was_training = model.training
    model.eval()
    total_loss, wrong = 0.0, 0
    for i in range(0, len(x), batch_size):
        xb, yb = x[i : i + batch_size].to(device), y[i : i + batch_size].to(device)
        out = model(xb)
        total_loss += float(nn.functional.cross_entropy(out, yb, reduction="sum"))
        wrong += int((out.argmax(1) != yb).sum())
    model.train(was_training)
    n = max(len(x), 1)
    return total_loss / n, wrong / n


def check_finite(loss: torch.Tensor, cfg: TrainConfig | None = None, epoch: int | None = None,
                 step: int = 0, *, stage: str = "", model: str = "") -> None:
    """Raise :class:`DivergenceError` if ``loss`` is not finite, naming the stage and model
    (``cfg``'s, or ``stage``/``model`` for loops without a TrainConfig) and where: epoch
    and step, or for an iteration-based loop (``epoch=None``) the iteration ``step``."""
    if not torch.isfinite(loss):
        stage = stage or (cfg.stage if cfg else "") or "?"
        model = model or (cfg.model_name if cfg else "") or "?"
        where = f"epoch {epoch}, step {step}" if epoch is not None else f"iteration {step}"
        raise DivergenceError(
            f"loss is {float(loss)} in stage {stage}, model {model}, {where}: lower the "
            "learning rate or check the inputs"
        )


def _save_checkpoint(path: str, state: dict) -> None:
    import tempfile

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=target.parent)
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _epoch_order(n: int, epoch: int, cfg: TrainConfig, d: distributed.DistInfo) -> torch.Tensor:
    """This process's sample indices for ``epoch``. A DistributedSampler draws one
    permutation from ``seed + epoch`` and gives rank r every world-size-th index, so the
    global batch k of a run on W processes holds exactly the samples of batch k of a
    single-process run (for n divisible by W; otherwise the sampler pads)."""
    from torch.utils.data.distributed import DistributedSampler

    sampler = DistributedSampler(
        range(n), num_replicas=d.world_size, rank=d.rank, shuffle=True, seed=cfg.seed,
        drop_last=False,
    )
    sampler.set_epoch(epoch)
    return torch.tensor(list(iter(sampler)), dtype=torch.long)


def _fit_set(x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig):
    """What the per-epoch training loss and error are measured on: the training set, or
    (``cfg.train_eval_subset``) a fixed random subset of it drawn from the seed."""
    n = len(x)
    if not 0 < cfg.train_eval_subset < n:
        return x, y
    pick = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed + 104729))
    pick = pick[: cfg.train_eval_subset].sort().values
    return x[pick], y[pick]


def train_classifier(
    model: nn.Module,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    cfg: TrainConfig,
    *,
    evals: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    on_epoch: Callable[[nn.Module, int], dict] | None = None,
    loss_fn: Callable | None = None,
    on_step: Callable[[torch.optim.Optimizer, int, torch.Tensor, torch.Tensor], None]
    | None = None,
) -> History:
    """Train with mini-batch SGD/Adam/RMSprop and cross-entropy (or ``loss_fn``).

    After every epoch the model is evaluated (no augmentation) on the training set and on
    each entry of ``evals`` (e.g. ``{"val": (x, y), "test": (x, y)}``); records carry
    ``epoch, iteration, train_loss, train_error, <name>_loss, <name>_error`` and whatever
    ``on_epoch`` returns. Data order is drawn from ``cfg.seed`` and the epoch.

    ``on_step(optimizer, step, logits, targets)``, if given, is called after every
    optimiser step (``step`` counts from 1; ``logits`` detached, this process's shard of
    the batch): a per-iteration learning-rate schedule sets ``param_groups[i]["lr"]``
    there for the next step (use it with ``milestones=()``, which leaves the lr alone).

    Launched by ``torchrun`` the same call trains data-parallel: the model is wrapped in
    DistributedDataParallel, each process takes its shard of every global batch of
    ``cfg.batch_size`` samples, and only rank 0 shows progress and writes checkpoints.
    With ``cfg.checkpoint`` a checkpoint is written after every epoch; with
    ``cfg.resume`` a run continues from it to the same result as an uninterrupted run.
    """
    d = distributed.init(cfg.device)
    device = distributed.device_for(d, resolve_device(cfg.device))
    local_batch = distributed.check_batch(cfg.batch_size, d)
    gen = seed_everything(cfg.seed + 7919 * d.rank)  # augmentation draws differ per rank
    model.to(device)
    net: nn.Module = model
    if d.enabled:
        from torch.nn.parallel import DistributedDataParallel

        if cfg.sync_batchnorm and any(isinstance(m, nn.modules.batchnorm._BatchNorm)
                                      for m in model.modules()):
            if device.type != "cuda":
                raise ParamError("sync_batchnorm", "needs CUDA devices (torch's SyncBatchNorm "
                                 "runs on GPUs only)", "leave it off on CPUs: each process "
                                 "then keeps its own BatchNorm statistics")
            # converted in place of its BatchNorm layers; the weights stay the same tensors
            # the caller's ``model`` holds, so what it saves is what was trained
            net = nn.SyncBatchNorm.convert_sync_batchnorm(model)
            model = net
        net = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda"
                                      else None)
    opt = make_optimizer(model, cfg)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, list(cfg.milestones), cfg.gamma)
    loss_fn = loss_fn or nn.functional.cross_entropy
    evals = evals or {}
    hist = History()
    plateau = PlateauState(cfg.plateau) if cfg.plateau is not None else None
    first_epoch, step = 1, 0
    if cfg.resume and cfg.checkpoint and Path(cfg.checkpoint).exists():
        state = torch.load(cfg.checkpoint, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        hist.records = list(state["records"])
        first_epoch, step = state["epoch"] + 1, state["step"]
        if plateau is not None and state.get("plateau"):
            plateau.load_state_dict(state["plateau"])
            if plateau.reason:  # the saved run had already stopped
                first_epoch = cfg.epochs + 1
    n = len(x_train)
    x_fit, y_fit = _fit_set(x_train, y_train, cfg)
    subset = len(x_fit) < n
    show = cfg.progress if cfg.progress is not None else sys.stderr.isatty()
    bar = None
    if show and d.is_main and not os.environ.get("NNDE_NO_PROGRESS"):
        from tqdm import tqdm

        bar = tqdm(total=cfg.epochs, initial=first_epoch - 1,
                   desc=f"{cfg.stage}:{cfg.model_name}", leave=False)
    start = time.perf_counter()
    for epoch in range(first_epoch, cfg.epochs + 1):
        model.train()
        order = _epoch_order(n, epoch, cfg, d)
        epoch_loss, batches = 0.0, 0
        for i in range(0, len(order), local_batch):
            idx = order[i : i + local_batch]
            xb, yb = x_train[idx], y_train[idx]
            if augment is not None:
                xb = augment(xb, gen)
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            opt.zero_grad(set_to_none=True)
            out = net(xb)
            loss = loss_fn(out, yb)
            step += 1
            finite = loss.detach()
            if d.enabled:  # every rank must stop together, or the others hang in backward
                finite = finite.clone()
                torch.distributed.all_reduce(finite)
            check_finite(finite, cfg, epoch, step)
            loss.backward()
            opt.step()
            if on_step is not None:
                on_step(opt, step, out.detach(), yb)
            if not cfg.eval_train:
                epoch_loss += float(finite) / d.world_size
                batches += 1
        sched.step()
        rec = {"epoch": epoch, "iteration": step}
        if cfg.eval_train:
            rec["train_loss"], rec["train_error"] = evaluate(model, x_fit, y_fit,
                                                             cfg.eval_batch_size, device)
        else:  # the running mean of the epoch's mini-batch losses (no error rate)
            rec["train_loss"], rec["train_error"] = epoch_loss / max(batches, 1), math.nan
        for name, (xe, ye) in evals.items():
            rec[f"{name}_loss"], rec[f"{name}_error"] = evaluate(model, xe, ye,
                                                                 cfg.eval_batch_size, device)
        if on_epoch is not None:
            rec.update(on_epoch(model, epoch))
        if not math.isfinite(rec["train_loss"]):
            check_finite(torch.tensor(rec["train_loss"]), cfg, epoch, step)
        if plateau is not None:
            rec["lr"] = opt.param_groups[0]["lr"]
        stop = plateau is not None and plateau.update(rec["train_loss"], opt)
        hist.records.append(rec)
        if cfg.checkpoint and d.is_main:
            _save_checkpoint(cfg.checkpoint, {
                "model": model.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "generator": gen.get_state(),
                "torch_rng": torch.get_rng_state(), "records": hist.records,
                "epoch": epoch, "step": step,
                "plateau": plateau.state_dict() if plateau is not None else None,
            })
        distributed.barrier()
        if bar is not None:
            bar.set_postfix(train_err=f"{rec['train_error']:.3f}")
            bar.update(1)
        if stop:
            break
    if bar is not None:
        bar.close()
    if subset and cfg.eval_train and hist.records:
        hist.final_train = evaluate(model, x_train, y_train, cfg.eval_batch_size, device)
    hist.seconds = time.perf_counter() - start
    hist.iterations = step
    if plateau is None:
        hist.stop_reason = "fixed epochs"
    else:
        hist.converged = bool(plateau.reason)
        hist.stop_reason = plateau.reason or "epoch cap"
    return hist


def side_by_side_obstacle(cfgs: list[TrainConfig]) -> str | None:
    """Why :func:`train_classifiers_side_by_side` cannot train models with these configs
    as :func:`train_classifier` would train each alone, or None when it can."""
    if distributed.info().enabled:
        return "a data-parallel (torchrun) run"
    for c in cfgs:
        if c.plateau is not None:
            return "a plateau criterion (each model would stop at its own epoch)"
        if c.checkpoint or c.resume:
            return "checkpoints"
    base = dataclasses.replace(cfgs[0], seed=0, model_name="")
    if any(dataclasses.replace(c, seed=0, model_name="") != base for c in cfgs):
        return "configs that differ in more than the seed and name"
    return None


def train_classifiers_side_by_side(
    net: nn.Module,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    cfgs: list[TrainConfig],
    *,
    evals: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    on_epoch: Callable[[nn.Module, int], dict] | None = None,
    on_step: Callable[[torch.optim.Optimizer, int, torch.Tensor, torch.Tensor], None]
    | None = None,
) -> list[History]:
    """Train E classifiers held as one module ``net`` (input ``(B, E·C, …)``, member e's
    channels in its block; output ``(B, E, classes)``; e.g.
    :meth:`nnde.models.he.CifarNet.side_by_side`), member e exactly as
    :func:`train_classifier` trains it alone under ``cfgs[e]``: its own data order,
    augmentation stream and training-set evaluation subset, drawn from its seed; one
    optimiser (``cfgs[0]``'s) over the whole module, whose steps act elementwise, so that
    each member's are its own. The configs may differ only in seed and name
    (:func:`side_by_side_obstacle` says what else rules it out). ``on_step`` and
    ``on_epoch`` as there (``on_step`` sees ``(B, E, classes)`` logits and ``(B, E)``
    targets). Returns one :class:`History` per member; each is given an equal share of
    the time."""
    why = side_by_side_obstacle(cfgs)
    if why is not None:
        raise ValueError(f"train_classifiers_side_by_side cannot train {why}; "
                         "use train_classifier for each model")
    cfg, E, n = cfgs[0], len(cfgs), len(x_train)
    d = distributed.info()
    device = resolve_device(cfg.device)
    net.to(device)
    gens = [seed_everything(c.seed) for c in cfgs]  # train_classifier's augmentation draws
    opt = make_optimizer(net, cfg)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, list(cfg.milestones), cfg.gamma)
    fits = [_fit_set(x_train, y_train, c) for c in cfgs]
    evals = evals or {}
    hists = [History() for _ in cfgs]
    start, step = time.perf_counter(), 0
    for epoch in range(1, cfg.epochs + 1):
        net.train()
        orders = [_epoch_order(n, epoch, c, d) for c in cfgs]
        for i in range(0, n, cfg.batch_size):
            xs, ys = [], []
            for e in range(E):
                idx = orders[e][i : i + cfg.batch_size]
                xb = x_train[idx]
                xs.append(augment(xb, gens[e]) if augment is not None else xb)
                ys.append(y_train[idx])
            xb, yb = torch.cat(xs, 1).to(device), torch.stack(ys, 1).to(device)
            opt.zero_grad(set_to_none=True)
            out = net(xb)
            losses = nn.functional.cross_entropy(
                out.flatten(0, 1), yb.flatten(), reduction="none").view(yb.shape).mean(0)
            step += 1
            per = losses.detach()
            if not bool(torch.isfinite(per).all()):  # name the first member that diverged
                j = int((~torch.isfinite(per)).nonzero()[0])
                check_finite(per[j], cfgs[j], epoch, step)
            losses.sum().backward()
            opt.step()
            if on_step is not None:
                on_step(opt, step, out.detach(), yb)
        sched.step()
        fit = evaluate_members(net, [f[0] for f in fits], [f[1] for f in fits],
                               cfg.eval_batch_size, device)
        measured = {name: evaluate_members(net, [xe] * E, [ye] * E, cfg.eval_batch_size,
                                           device)
                    for name, (xe, ye) in evals.items()}
        extra = on_epoch(net, epoch) if on_epoch is not None else {}
        for e, h in enumerate(hists):
            rec = {"epoch": epoch, "iteration": step, "train_loss": fit[e][0],
                   "train_error": fit[e][1]}
            for name, m in measured.items():
                rec[f"{name}_loss"], rec[f"{name}_error"] = m[e]
            h.records.append(rec | extra)
    if any(len(f[0]) < n for f in fits):
        full = evaluate_members(net, [x_train] * E, [y_train] * E, cfg.eval_batch_size, device)
        for h, f in zip(hists, full, strict=True):
            h.final_train = f
    seconds = (time.perf_counter() - start) / E
    for h in hists:
        h.seconds, h.iterations, h.stop_reason = seconds, step, "fixed epochs"
    return hists


@torch.no_grad()
def evaluate_members(net: nn.Module, xs, ys, batch_size: int = 1024,
                     device: torch.device | str = "cpu") -> list[tuple[float, float]]:
    """:func:`evaluate` of every member of a side-by-side classifier (see
    :func:`train_classifiers_side_by_side`), member e on ``(xs[e], ys[e])`` (sets of one
    size): one (mean cross-entropy, error rate) per member."""
    was = net.training
    net.eval()
    E, m = len(xs), len(xs[0])
    loss = torch.zeros(E, dtype=torch.float64, device=device)
    wrong = torch.zeros(E, dtype=torch.long, device=device)
    for i in range(0, m, batch_size):
        xb = torch.cat([x[i : i + batch_size] for x in xs], 1).to(device)
        yb = torch.stack([y[i : i + batch_size] for y in ys], 1).to(device)
        out = net(xb)
        loss += nn.functional.cross_entropy(out.flatten(0, 1), yb.flatten(),
                                            reduction="none").view(yb.shape).double().sum(0)
        wrong += (out.argmax(2) != yb).sum(0)
    net.train(was)
    return [(float(loss[e]) / max(m, 1), int(wrong[e]) / max(m, 1)) for e in range(E)]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# --------------------------------------------------------------------------- iterations
@dataclass
class IterationHistory:
    """What :func:`train_iterations` did: one record per reading, plus the totals."""

    #: one dict per reading: ``iteration``, ``train_loss``, the monitored value under its
    #: name (``monitor``) and, with a plateau criterion, the ``lr`` it was read at
    records: list[dict] = field(default_factory=list)
    iterations: int = 0
    #: with a plateau criterion: whether it was met before the iteration cap; None for a
    #: fixed number of iterations
    converged: bool | None = None
    stop_reason: str = ""  # "plateau", "floor", "iteration cap" or "fixed iterations"
    #: the lowest reading and the iteration it was read at (inf and 0 before any reading)
    best: float = math.inf
    best_iteration: int = 0


def train_iterations(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    step_loss: Callable[[int], torch.Tensor],
    read: Callable[[], float],
    *,
    max_iterations: int,
    read_every: int,
    plateau: Plateau | None = None,
    monitor: str = "val_loss",
    stage: str = "",
    model_name: str = "",
    read_first: bool = False,
    train_loss: str = "mean",
    keep_best: bool = False,
) -> IterationHistory:
    """Train ``model`` for up to ``max_iterations`` optimiser steps (the iteration-based
    counterpart of :func:`train_classifier`, for stages that draw their own batches).

    Each iteration ``i`` (from 1) computes ``loss = step_loss(i)`` (the stage's forward
    pass on a batch it draws itself, with its own generator), stops with a
    :class:`~nnde.errors.DivergenceError` naming ``stage``, ``model_name`` and ``i`` if
    the loss is not finite, then takes one step of ``opt``. Every ``read_every``-th
    iteration, at the last (``max_iterations``) and, with ``read_first``, at the first,
    ``read()`` measures the monitored quantity (say a validation loss) and a record is
    kept with ``train_loss``: the mean of the mini-batch losses since the previous
    reading (``train_loss="mean"``) or the loss of the reading's own iteration
    (``"last"``). With a ``plateau`` criterion each reading feeds a
    :class:`PlateauState`, which lowers the learning rate and ends training;
    without one, training runs all ``max_iterations``. ``keep_best`` restores, at the
    end, the weights of the lowest reading (deep copies of the state dict, taken when a
    reading is a new best).

    Nothing here draws random numbers: the run is exactly the stage's own loop."""
    if train_loss not in ("mean", "last"):
        raise ValueError(f"train_loss is {train_loss!r}: 'mean' or 'last'")
    readings = _Readings(model, opt, plateau, monitor, keep_best)
    running: list[float] = []
    it = 0
    while it < max_iterations:
        it += 1
        loss = step_loss(it)
        check_finite(loss.detach(), step=it, stage=stage, model=model_name)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        running.append(float(loss.detach()))
        if it % read_every == 0 or it == max_iterations or (read_first and it == 1):
            mean = float(np.mean(running)) if train_loss == "mean" else running[-1]
            running = []
            if readings.add(it, mean, read()):
                break
    return readings.finish(it)


class _Readings:
    """One model's readings during :func:`train_iterations` or :func:`train_side_by_side`:
    the records, the best reading (and, with ``keep_best``, its weights), the plateau
    criterion, which lowers the learning rates of ``opt`` (an optimiser, or one member's
    parameter group seen as one), and the history at the end."""

    def __init__(self, model: nn.Module, opt, plateau: Plateau | None, monitor: str,
                 keep_best: bool):
        self.model, self.opt, self.monitor, self.keep_best = model, opt, monitor, keep_best
        self.state = PlateauState(plateau) if plateau is not None else None
        self.hist = IterationHistory()
        self.best_state: dict | None = None

    def add(self, it: int, train_loss: float, value: float) -> bool:
        """Record the reading ``value`` at iteration ``it``; True when training stops."""
        rec = {"iteration": it, "train_loss": train_loss, self.monitor: value}
        if self.state is not None:
            rec["lr"] = self.opt.param_groups[0]["lr"]
        self.hist.records.append(rec)
        if value < self.hist.best:
            self.hist.best, self.hist.best_iteration = value, it
            if self.keep_best:
                self.best_state = copy.deepcopy(self.model.state_dict())
        return self.state is not None and self.state.update(value, self.opt)

    def finish(self, it: int) -> IterationHistory:
        """The history of a model that stopped at iteration ``it`` (with ``keep_best``,
        its best weights restored)."""
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        h = self.hist
        h.iterations = it
        if self.state is None:
            h.stop_reason = "fixed iterations"
        else:
            h.converged = bool(self.state.reason)
            h.stop_reason = self.state.reason or "iteration cap"
        return h


def member_adam(members, lr: float) -> torch.optim.Adam:
    """One Adam over the modules ``members`` with a parameter group per member, in order:
    the optimiser of :func:`train_side_by_side`, in which each member's learning rate is
    its own (Adam acts elementwise, so each member's steps are those of its own Adam)."""
    return torch.optim.Adam([{"params": list(m.parameters())} for m in members], lr=lr)


def member_optimizer_state(opt: torch.optim.Adam, index: int, member: nn.Module) -> dict:
    """The state dict of an Adam over ``member`` alone holding what ``opt`` (a
    :func:`member_adam`) holds for it (group ``index``: learning rate, moments, step
    counts): what :func:`warm_restart` continues the member from, on its own."""
    single = torch.optim.Adam(member.parameters(), lr=opt.param_groups[index]["lr"])
    for q in member.parameters():
        if q in opt.state:
            single.state[q] = {k: v.clone() if torch.is_tensor(v) else v
                               for k, v in opt.state[q].items()}
    return single.state_dict()


class _GroupView:
    """One parameter group of an optimiser, seen as an optimiser by
    :meth:`PlateauState.update` (which lowers the learning rates of ``param_groups``)."""

    def __init__(self, group: dict):
        self.param_groups = [group]


def train_side_by_side(
    members,
    opt: torch.optim.Optimizer,
    step_loss: Callable[[list, int], torch.Tensor],
    read: Callable[[list], list],
    *,
    max_iterations: int,
    read_every: int,
    plateau: Plateau | None = None,
    monitor: str = "val_loss",
    stage: str = "",
    model_names=None,
    keep_best: bool = False,
) -> list[IterationHistory]:
    """Train the models ``members`` side by side, each as :func:`train_iterations` would
    train it alone, with one batched computation per step.

    ``opt`` has one parameter group per member, in order (:func:`member_adam`). Each
    iteration ``i`` calls ``step_loss(active, i)``, which returns the losses of the members
    ``active`` (a list of indices) as one tensor (len(active),), each from that member's
    own batch and weights alone; their sum is back-propagated and ``opt`` steps. Every
    ``read_every``-th iteration and at the last, ``read(active)`` returns the monitored
    value of each active member. Each member has its own :class:`PlateauState`, which
    lowers its group's learning rate and stops it; a stopped member leaves ``active``:
    it takes no part in later steps, its gradients stay unset and the optimiser leaves
    its weights and moments as they were. Training ends when every member has stopped
    or at ``max_iterations``. ``keep_best`` restores, at the end, each member's weights of
    its lowest reading (as :func:`train_iterations` does for one model). Returns one
    :class:`IterationHistory` per member."""
    n = len(members)
    if len(opt.param_groups) != n:
        raise ValueError(f"opt has {len(opt.param_groups)} parameter groups for {n} "
                         "members: one per member (nnde.train.member_adam)")
    names = list(model_names) if model_names is not None else [f"member {e}"
                                                               for e in range(n)]
    readings = [_Readings(m, _GroupView(g), plateau, monitor, keep_best)
                for m, g in zip(members, opt.param_groups, strict=True)]
    hists: list[IterationHistory | None] = [None] * n
    running: list[list[float]] = [[] for _ in range(n)]
    active = list(range(n))
    it = 0
    while active and it < max_iterations:
        it += 1
        losses = step_loss(active, it)
        per = losses.detach()
        if not bool(torch.isfinite(per).all()):
            j = int((~torch.isfinite(per)).nonzero()[0])
            check_finite(per[j], step=it, stage=stage, model=names[active[j]])
        opt.zero_grad(set_to_none=True)
        losses.sum().backward()
        opt.step()
        for e, v in zip(active, per.tolist(), strict=True):
            running[e].append(v)
        if it % read_every == 0 or it == max_iterations:
            for e, value in zip(active, read(active), strict=True):
                mean, running[e] = float(np.mean(running[e])), []
                if readings[e].add(it, mean, float(value)):
                    hists[e] = readings[e].finish(it)  # stopped: frozen from here on
            active = [e for e in active if hists[e] is None]
    for e in active:
        hists[e] = readings[e].finish(it)
    return hists
