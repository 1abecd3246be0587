"""Multi-process training with ``torch.distributed``, launched by ``torchrun``.

A stage script runs single-process when started normally. Started with
``torchrun --nproc_per_node N script.py`` the environment carries ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK``; :func:`init` then joins the process group (NCCL on GPUs,
gloo on CPUs), and the training loop wraps the model in DistributedDataParallel and
shards every global batch with a DistributedSampler. Only rank 0 writes files and
logs (see :func:`is_main`).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ParamError

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ParamError(name, f"is {raw!r} in the environment", "an integer") from None


def _group():
    """``torch.distributed`` while a process group is up, else None. A process that has
    not imported torch (a stage's judge) has no group, and this does not import it."""
    if "torch" not in sys.modules:
        return None
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def info() -> DistInfo:
    """Rank and world size: from the process group if initialised, else from torchrun's
    environment variables, else single-process."""
    g = _group()
    if g is not None:
        return DistInfo(g.get_rank(), g.get_world_size(), _env_int("LOCAL_RANK", 0))
    return DistInfo(_env_int("RANK", 0), _env_int("WORLD_SIZE", 1), _env_int("LOCAL_RANK", 0))


def is_main() -> bool:
    """True in a single-process run and on rank 0 of a distributed one."""
    return info().is_main


def init(device: str = "auto") -> DistInfo:
    """Join the process group if launched by torchrun (idempotent); return the ranks."""
    d = info()
    if not d.enabled or _group() is not None:
        return d
    if d.world_size < 1 or not 0 <= d.rank < d.world_size:
        raise ParamError("RANK", f"is {d.rank} with WORLD_SIZE {d.world_size}",
                         "0 <= RANK < WORLD_SIZE (launch with torchrun)")
    import torch
    import torch.distributed as dist

    use_cuda = torch.cuda.is_available() and device != "cpu"
    if use_cuda:
        torch.cuda.set_device(d.local_rank)
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return info()


def device_for(d: DistInfo, requested: torch.device) -> torch.device:
    """One GPU per process: rank-local CUDA device; CPU stays CPU."""
    if requested.type == "cuda" and d.enabled:
        import torch

        return torch.device("cuda", d.local_rank)
    return requested


def check_batch(global_batch: int, d: DistInfo) -> int:
    """Per-process batch size; the global batch must split evenly across processes."""
    if global_batch % d.world_size:
        raise ParamError(
            "batch_size",
            f"is {global_batch}, which {d.world_size} processes cannot share evenly",
            f"a multiple of the world size {d.world_size} (or launch with another "
            "--nproc_per_node)",
        )
    return global_batch // d.world_size


def barrier() -> None:
    g = _group()
    if g is not None:
        g.barrier()


def shutdown() -> None:
    g = _group()
    if g is not None:
        g.destroy_process_group()
