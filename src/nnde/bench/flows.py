"""Workloads of the flows' training step: one Adam step of E density-matching flows
(planar flows of K = 32 layers or CNFs of M = 32 units, batch 128, 8 rk4 steps: the CNF
stage's small profile), either each flow alone in turn (``one_by_one``) or the E flows
side by side as one batched computation (``side_by_side``, :class:`nnde.models.flows.
Stacked`). asv (``benchmarks/bench_flows.py``) and pytest-benchmark
(``tests/perf/test_perf_flows.py``) time the same step, so that a regression of either
path, or of the batching's gain, shows."""

from __future__ import annotations

from collections.abc import Callable

import torch

KINDS = ("planar", "cnf")
MEMBERS = (1, 8)
MODES = ("one_by_one", "side_by_side")
SIZE = 32
BATCH = 128


def flow_step(kind: str, members: int, mode: str, size: int = SIZE,
              batch: int = BATCH) -> Callable[[], float]:
    """A callable that takes one training step of ``members`` flows and returns the summed
    loss (a float, so that the step's work is finished when it returns). The loss is
    density matching against a standard normal target: KL(q‖N(0, I)) up to a constant.
    NotImplementedError (asv: skipped) where this checkout has no stacked flows."""
    if kind not in KINDS or mode not in MODES or members < 1:
        raise ValueError(f"kind {kind!r} (one of {KINDS}), mode {mode!r} (one of {MODES}), "
                         f"members {members!r} (>= 1)")
    try:
        from nnde.models import flows
    except ImportError as exc:  # a checkout from before the flows
        raise NotImplementedError(f"this checkout has no flows: {exc}") from None
    if mode == "side_by_side" and not hasattr(flows, "Stacked"):
        raise NotImplementedError("this checkout has no stacked flows")
    models = []
    for s in range(members):
        torch.manual_seed(s)
        models.append(flows.PlanarFlow(size) if kind == "planar"
                      else flows.CNF(size, steps=8))
    gen = torch.Generator().manual_seed(0)

    def kl(x, log_q):
        return (log_q + 0.5 * x.square().sum(-1)).mean(-1)

    if mode == "one_by_one":
        opts = [torch.optim.Adam(m.parameters(), lr=1e-3) for m in models]

        def step() -> float:
            total = 0.0
            for m, opt in zip(models, opts, strict=True):
                loss = kl(*m.sample(batch, z0=torch.randn(batch, 2, generator=gen)))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach())
            return total
        return step

    stacked = flows.Stacked(models)
    opt = torch.optim.Adam([{"params": list(m.parameters())} for m in models], lr=1e-3)

    def step() -> float:
        loss = kl(*stacked.sample(torch.randn(members, batch, 2, generator=gen))).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())
    return step
