"""Chen et al. (2018), memory and adjoint gradients: the run step. Saves, in
``data/chen/memory/``:

- ``steps.csv``           per (gradient method, steps): peak saved-tensor memory of one
  forward + backward pass (and the CUDA peak on a GPU), NFE;
- ``gradient_error.csv``  per (tolerance, gradient method): relative error of the
  parameter gradient against the reference, NFE;
- ``config.json``         this :class:`Config`, and ``ref_tol``, the reference's tolerance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from nnde.layers import ODEBlock
from nnde.models.chen import SavedTensorMeter
from nnde.results import ResultsWriter
from nnde.stage import get_list, get_number, get_threads, positive_float, positive_int
from nnde.train import seed_everything, set_threads

from . import PAPER, STAGE

REF_TOL = 1e-11


@dataclass(frozen=True)
class Config:
    """``chen.memory`` of params.yaml, checked."""

    steps: tuple[int, ...]
    dim: int
    hidden: int
    batch: int
    tols: tuple[float, ...]
    field_scale: float
    flat_slope: float
    linear_slope: float
    seed: int
    threads: int | str


def read_config(p: dict) -> Config:
    sec = f"{PAPER}.{STAGE}"
    return Config(
        steps=tuple(get_list(p, "steps", positive_int, sec)),
        dim=get_number(p, "dim", sec, kind=int, gt=0),
        hidden=get_number(p, "hidden", sec, kind=int, gt=0),
        batch=get_number(p, "batch", sec, kind=int, gt=0),
        tols=tuple(get_list(p, "tols", positive_float, sec)),
        field_scale=get_number(p, "field_scale", sec, gt=0),
        flat_slope=get_number(p, "flat_slope", sec, gt=0),
        linear_slope=get_number(p, "linear_slope", sec, gt=0),
        seed=get_number(p, "seed", sec, kind=int, ge=0),
        threads=get_threads(p, "threads", sec),
    )


class MLPField(nn.Module):
    """f(t, y) = W₂ tanh(W₁ y + b₁) + b₂, (B, d) -> (B, d)."""

    def __init__(self, dim: int, hidden: int, scale: float = 1.0):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, dim))
        with torch.no_grad():  # larger weights: a stiffer, less trivial flow
            for lin in (self.net[0], self.net[2]):
                lin.weight.mul_(scale)

    def forward(self, t, y):
        return self.net(y)


def _block(field, gradient, **kw):
    return ODEBlock(field, T=1.0, gradient=gradient, **kw)


def memory_vs_steps(
    steps_list, dim: int, hidden: int, batch: int, seed: int, device: str = "cpu"
) -> pd.DataFrame:
    """Peak memory of one forward + backward pass per (gradient method, steps)."""
    seed_everything(seed)
    field = MLPField(dim, hidden).to(device)
    y0 = torch.randn(batch, dim, device=device)
    rows = []
    for gradient in ("direct", "adjoint"):
        for steps in steps_list:
            blk = _block(field, gradient, method="rk38", steps=steps)
            field.zero_grad(set_to_none=True)
            cuda = device.startswith("cuda")
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                base = torch.cuda.memory_allocated()
            with SavedTensorMeter() as meter:
                loss = blk(y0.requires_grad_(False)).square().mean()
                loss.backward()
                del loss
            rows.append(
                {
                    "gradient": gradient,
                    "steps": steps,
                    "peak_saved_MB": meter.peak / 2**20,
                    "cuda_peak_MB": (torch.cuda.max_memory_allocated() - base) / 2**20
                    if cuda
                    else np.nan,
                    "nfe_forward": blk.nfe_forward,
                    "nfe_backward": blk.nfe_backward,
                }
            )
    return pd.DataFrame(rows)


def _grads(field, blk, y0, target):
    field.zero_grad(set_to_none=True)
    loss = (blk(y0) - target).square().mean()
    loss.backward()
    return torch.cat([p.grad.reshape(-1) for p in field.parameters()])


def gradient_error(
    tols, dim: int, hidden: int, batch: int, seed: int, scale: float = 1.0
) -> pd.DataFrame:
    """Relative error of the adjoint (and of the direct) gradient at each tolerance
    against the reference gradient, float64."""
    seed_everything(seed)
    field = MLPField(dim, hidden, scale).double()
    y0 = torch.randn(batch, dim, dtype=torch.float64)
    target = torch.randn(batch, dim, dtype=torch.float64)
    ref = _grads(
        field, _block(field, "direct", method="dopri5", rtol=REF_TOL, atol=REF_TOL), y0, target
    )
    rows = []
    for tol in tols:
        for gradient in ("adjoint", "direct"):
            blk = _block(field, gradient, method="dopri5", rtol=tol, atol=tol)
            g = _grads(field, blk, y0, target)
            rows.append(
                {
                    "gradient": gradient,
                    "tol": tol,
                    "rel_error": float((g - ref).norm() / ref.norm()),
                    "nfe_forward": blk.nfe_forward,
                    "nfe_backward": blk.nfe_backward,
                }
            )
    return pd.DataFrame(rows)


def run(cfg: Config, out: ResultsWriter) -> None:
    set_threads(cfg.threads)
    mem = memory_vs_steps(list(cfg.steps), cfg.dim, cfg.hidden, cfg.batch, cfg.seed)
    err = gradient_error(list(cfg.tols), cfg.dim, cfg.hidden, cfg.batch, cfg.seed,
                         cfg.field_scale)
    out.frame("steps", mem)
    out.frame("gradient_error", err)
    out.json("config", {**asdict(cfg), "ref_tol": REF_TOL})
