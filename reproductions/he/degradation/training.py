"""Training one net of the degradation stage: the data, the paper's per-iteration learning
rate schedule (with ResNet-110's warm-up) and :func:`train_one`."""

from __future__ import annotations

import collections
import math
import time
from typing import TYPE_CHECKING

import torch

from nnde.data.augment import crop_flip_fn
from nnde.models.he import ResponseRecorder, cifar_net
from nnde.train import TrainConfig, count_parameters, seed_everything, set_threads, train_classifier

from . import PAPER, STAGE

if TYPE_CHECKING:
    from .experiment import Config


def load_data(cfg: Config):
    """``(x_train, y_train, x_test, y_test)``: float32 signals ``(N, 1, 40)`` (MNIST-1D)
    or images ``(N, C, H, W)``, normalised per channel with the training set's mean and
    std (the paper subtracts the per-pixel mean)."""
    if cfg.dataset == "mnist1d":
        from nnde.data import load_mnist1d

        s = load_mnist1d(cfg.mnist1d_path)
        xtr, ytr, xte, yte = s.x_train, s.y_train, s.x_test, s.y_test
    elif cfg.dataset == "digits":
        from nnde.data import digits_split

        s = digits_split(cfg.split_seed, val_frac=0.0, test_frac=cfg.test_frac)
        xtr, ytr, xte, yte = s.x_train, s.y_train, s.x_test, s.y_test
    else:
        from nnde.data import load_cifar10

        xtr, ytr = load_cifar10(cfg.data_root, "train")
        xte, yte = load_cifar10(cfg.data_root, "test")
        xtr, xte = xtr.float() / 255.0, xte.float() / 255.0
    if cfg.train_subset:
        g = torch.Generator().manual_seed(cfg.split_seed)
        idx = torch.randperm(len(xtr), generator=g)[: cfg.train_subset].sort().values
        xtr, ytr = xtr[idx], ytr[idx]
    axes = (0, *range(2, xtr.ndim))  # all but the channels
    mean = xtr.mean(dim=axes, keepdim=True)
    std = xtr.std(dim=axes, keepdim=True).clamp_min(1e-6)
    return (xtr - mean) / std, ytr, (xte - mean) / std, yte


class LrSchedule:
    """Per-iteration learning rate, an ``on_step`` hook of :func:`train_classifier`.

    Iteration ``s`` (counting from 1) trains at ``lr · gamma^k``, k the number of entries
    of ``drops`` below ``s`` (the paper: 0.1, ÷10 after 32k and 48k iterations). With
    ``warmup_lr`` the net starts at that rate instead and keeps it until the training
    error of the last ``warmup_window`` mini-batches (in train mode, as a training log
    reports it) is below ``warmup_error`` (or the schedule's drops go below it); then it
    follows the schedule (He et al. 2016,
    §4.2, ResNet-110: 0.01 "until the training error is below 80 % (about 400
    iterations)"). ``changes`` lists ``(first iteration, lr)`` at every change;
    ``warmup_end`` is the iteration after which the warm-up ended (None: none, or not
    yet). Under torchrun the error is all-reduced, so every rank switches together."""

    def __init__(self, lr: float, drops=(), gamma: float = 0.1, warmup_lr: float | None = None,
                 warmup_error: float = 0.8, warmup_window: int = 50):
        self.base, self.drops, self.gamma = lr, tuple(sorted(drops)), gamma
        self.warmup_lr, self.warmup_error = warmup_lr, warmup_error
        self.warming = warmup_lr is not None
        self._errors: collections.deque = collections.deque(maxlen=warmup_window)
        self.warmup_end: int | None = None
        self.current = warmup_lr if self.warming else lr
        self.changes: list[tuple[int, float]] = [(1, self.current)]
        self._first = True

    def scheduled(self, step: int) -> float:
        """The learning rate of iteration ``step`` once any warm-up is over."""
        return self.base * self.gamma ** sum(step > d for d in self.drops)

    def __call__(self, opt: torch.optim.Optimizer, step: int, logits: torch.Tensor,
                 targets: torch.Tensor) -> None:
        if self._first and step > 1:  # resumed from a checkpoint: was the warm-up over?
            self.warming = self.warming and opt.param_groups[0]["lr"] == self.warmup_lr
            self.current = opt.param_groups[0]["lr"]
        self._first = False
        if self.warming:
            counts = torch.tensor([float((logits.argmax(1) != targets).sum()), len(targets)])
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                torch.distributed.all_reduce(counts)
            self._errors.append(counts)
            wrong, n = torch.stack(list(self._errors)).sum(0).tolist()
            if wrong / n < self.warmup_error:
                self.warming, self.warmup_end = False, step
        # during the warm-up the schedule's drops still cap the rate
        lr = (min(self.warmup_lr, self.scheduled(step + 1)) if self.warming
              else self.scheduled(step + 1))
        if lr != self.current:
            for g in opt.param_groups:
                g["lr"] = lr
            self.current = lr
            self.changes.append((step + 1, lr))


def epochs_for(cfg: Config, n_train: int) -> tuple[int, int]:
    """(epochs, iterations per epoch): the fixed schedule's iterations rounded to whole
    epochs, or the plateau profile's epoch cap."""
    per_epoch = math.ceil(n_train / cfg.batch_size)
    if cfg.plateau is not None:
        return cfg.max_epochs, per_epoch
    return max(1, round(cfg.iterations / per_epoch)), per_epoch


def train_one(kind: str, depth: int, seed: int, cfg: Config, data=None,
              workers: int = 1) -> dict:
    """Train one net; return its history records, run summary, response stds and
    parameter count. ``workers``: processes sharing the cores (for ``threads: auto``)."""
    set_threads(cfg.threads, workers)
    cpu0 = time.process_time()
    xtr, ytr, xte, yte = data if data is not None else load_data(cfg)
    epochs, _ = epochs_for(cfg, len(xtr))
    seed_everything(seed)  # same seed → same initial weights for plain and residual
    net = cifar_net(kind, depth, in_channels=xtr.shape[1], num_classes=int(ytr.max()) + 1,
                    dims=xtr.ndim - 2, widths=cfg.widths)
    sched = None
    if cfg.plateau is None:  # the paper's schedule, per iteration
        warm = depth in cfg.warmup_depths
        sched = LrSchedule(cfg.lr, cfg.lr_drops, 0.1,
                           warmup_lr=cfg.warmup_lr if warm else None,
                           warmup_error=cfg.warmup_error, warmup_window=cfg.warmup_window)
    tc = TrainConfig(
        epochs=epochs, batch_size=cfg.batch_size,
        lr=sched.current if sched is not None else cfg.lr, optimizer="sgd",
        momentum=cfg.momentum, weight_decay=cfg.weight_decay, milestones=(),
        seed=seed, device=cfg.device, stage=f"{PAPER}.{STAGE}",
        model_name=f"{kind}-{depth}", eval_batch_size=cfg.eval_batch_size,
        plateau=cfg.plateau,
        train_eval_subset=cfg.train_eval_subset,
    )
    augment = crop_flip_fn(cfg.pad) if cfg.augment == "crop_flip" else None
    hist = train_classifier(
        net, xtr, ytr, tc, evals={"test": (xte, yte)}, augment=augment, on_step=sched,
        on_epoch=(lambda m, e: {"lr": sched.current}) if sched is not None else None)
    net.eval()
    device = next(net.parameters()).device
    with torch.no_grad(), ResponseRecorder(net) as rec:
        for i in range(0, len(xte), cfg.eval_batch_size):
            net(xte[i : i + cfg.eval_batch_size].to(device))
    last = hist.records[-1]
    return {
        "kind": kind, "depth": depth, "seed": seed, "params": count_parameters(net),
        "records": hist.records, "stds": rec.stds(),
        "summary": {**hist.summary(), "final_test_error": last["test_error"],
                    "iterations": hist.iterations,
                    "warmup_end": sched.warmup_end if sched is not None else None,
                    "seconds": hist.seconds, "cpu_seconds": time.process_time() - cpu0},
        "lr_changes": sched.changes if sched is not None else [],
    }
