"""A tiny training run used by tests/test_distributed.py, single-process or via torchrun.

Writes, through the stage conventions (only rank 0 writes), the final weights to
``<out>/weights_rank<r>.pt`` and a section file naming the writer's rank.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from torch import nn

from nnde import distributed
from nnde.stage import StageOutputs, run_main
from nnde.train import TrainConfig, train_classifier


def blobs(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    centres = torch.tensor([[1.0, 0.0], [-0.5, 0.8], [-0.5, -0.8]])
    return centres[y] + 0.4 * torch.randn(n, 2, generator=g), y


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--n", type=int, default=192)
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--sleep", type=float, default=0.0)
    ap.add_argument("--nan", action="store_true")
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--batchnorm", action="store_true")
    ap.add_argument("--sync-batchnorm", action="store_true")
    a = ap.parse_args()
    x, y = blobs(a.n, 0)
    if a.nan:
        x[3] = float("nan")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 32), nn.BatchNorm1d(32) if a.batchnorm else nn.Identity(),
                          nn.Tanh(), nn.Dropout(a.dropout), nn.Linear(32, 3))
    cfg = TrainConfig(epochs=a.epochs, batch_size=a.batch, lr=0.05, seed=1, progress=False,
                      stage="tests.ddp", model_name="mlp", checkpoint=a.checkpoint,
                      resume=a.resume, sync_batchnorm=a.sync_batchnorm)
    hist = train_classifier(model, x, y, cfg, on_epoch=lambda m, e: time.sleep(a.sleep) or {})
    d = distributed.info()
    with StageOutputs("ddp", "tiny", "tiny", data_root=Path(a.out),
                      figure_root=Path(a.out) / "figures", no_claims=True) as out:
        torch.save(model.state_dict(), out.path(Path(a.out) / f"weights_rank{d.rank}.pt"))
        out.text(f"written by rank {d.rank} of {d.world_size}; "
                 f"final train error {hist.records[-1]['train_error']:.4f}")
    distributed.shutdown()


if __name__ == "__main__":
    run_main(main, "tests.ddp", argv=[])
