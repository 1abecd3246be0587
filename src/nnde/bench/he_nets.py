"""Workloads of the He nets' training step on MNIST-1D-shaped signals (the degradation
stage's small profile: widths 8/16/32, batch 128, length 40, SGD with momentum): one step
of E residual nets, either each alone in turn (``one_by_one``) or the E nets side by side
as one grouped computation (``side_by_side``, :meth:`nnde.models.he.CifarNet.side_by_side`),
and, for reference, each alone in turn built from torch's own Conv1d and BatchNorm1d
(``conv1d``) instead of the channels-last layers the 1-D nets use. asv
(``benchmarks/bench_he_nets.py``) and pytest-benchmark (``tests/perf/test_perf_he_nets.py``)
time the same step, so that a regression of the layers or of the grouping's gain shows."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

DEPTHS = (20, 44)
MEMBERS = (1, 3)
MODES = ("conv1d", "one_by_one", "side_by_side")
WIDTHS = (8, 16, 32)
BATCH = 128
LENGTH = 40


def _torch_layers(net: nn.Module) -> nn.Module:
    """``net`` with every channels-last 1-D layer replaced by torch's Conv1d/BatchNorm1d
    holding the same weights."""
    from nnde.models import he

    for name, m in list(net.named_modules()):
        if isinstance(m, getattr(he, "SignalConv", ())):
            ref = nn.Conv1d(m.in_channels, m.out_channels, 3, m.stride, 1, bias=False)
            ref.weight.data.copy_(m.weight.data)
        elif isinstance(m, getattr(he, "SignalBatchNorm", ())):
            ref = nn.BatchNorm1d(m.num_features)
            ref.load_state_dict(m.state_dict())
        else:
            continue
        parent, _, leaf = name.rpartition(".")
        setattr(net.get_submodule(parent) if parent else net, leaf, ref)
    return net


def he_step(depth: int, members: int, mode: str, batch: int = BATCH) -> Callable[[], float]:
    """A callable that takes one SGD step of ``members`` residual nets of ``depth`` layers
    on random signals and labels and returns the summed loss (a float, so that the step's
    work is done when it returns). NotImplementedError (asv: skipped) where this checkout
    has no side-by-side nets."""
    if mode not in MODES or members < 1 or (depth - 2) % 6:
        raise ValueError(f"mode {mode!r} (one of {MODES}), members {members!r} (>= 1), "
                         f"depth {depth!r} (6n + 2)")
    from nnde.models.he import CifarNet, cifar_net

    if mode == "side_by_side" and not hasattr(CifarNet, "side_by_side"):
        raise NotImplementedError("this checkout has no side-by-side He nets")
    nets = []
    for s in range(members):
        torch.manual_seed(s)
        net = cifar_net("residual", depth, 1, 10, dims=1, widths=WIDTHS)
        nets.append(_torch_layers(net) if mode == "conv1d" else net)
    gen = torch.Generator().manual_seed(0)

    def sgd(params):
        return torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-4)

    def draw():  # every member's batch, in the same order in every mode
        return [(torch.randn(batch, 1, LENGTH, generator=gen),
                 torch.randint(0, 10, (batch,), generator=gen)) for _ in range(members)]

    if mode != "side_by_side":
        opts = [sgd(m.parameters()) for m in nets]

        def step() -> float:
            total = 0.0
            for m, opt, (x, y) in zip(nets, opts, draw(), strict=True):
                loss = nn.functional.cross_entropy(m(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach())
            return total
        return step

    big = CifarNet.side_by_side(nets) if members > 1 else nets[0]
    opt = sgd(big.parameters())

    def step() -> float:
        xs, ys = zip(*draw(), strict=True)
        x, y = torch.cat(xs, 1), torch.stack(ys, 1)
        out = big(x).reshape(batch, members, 10)
        loss = nn.functional.cross_entropy(out.flatten(0, 1), y.flatten(),
                                           reduction="none").view(batch, members).mean(0).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())
    return step
