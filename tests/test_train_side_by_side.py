"""nnde.train.train_side_by_side: several models (one per seed) stepped as one batched
computation must train each member exactly as train_iterations trains it alone: the
same readings, the same plateau decisions (each member its own learning rate and stop),
the same weights and Adam moments; a stopped member is frozen; a diverging member is
named."""

from __future__ import annotations

import pytest
import torch

from nnde.errors import DivergenceError
from nnde.train import (
    Plateau,
    member_adam,
    member_optimizer_state,
    seed_everything,
    train_iterations,
    train_side_by_side,
)

SEEDS = (0, 1, 2, 3)
CRIT = Plateau(patience=2, rel=0.05, drops=1, factor=0.3, floor=0.0)


def _data(seed):
    """Each seed's own regression problem and batch stream (float64: the batched and the
    single computations then agree to rounding)."""
    gen = seed_everything(seed)
    x = torch.randn(64, 3, generator=gen, dtype=torch.float64)
    w = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64) * (1 + seed)
    y = x @ w + 0.3 * torch.randn(64, generator=gen, dtype=torch.float64)
    torch.manual_seed(seed)
    model = torch.nn.Linear(3, 1).double()
    return model, gen, x, y


def _alone(seed, max_iterations, keep_best=False):
    model, gen, x, y = _data(seed)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)

    def step_loss(_it):
        b = torch.randint(0, 48, (8,), generator=gen)
        return (model(x[b]).squeeze(-1) - y[b]).square().mean()

    def val():
        with torch.no_grad():
            return float((model(x[48:]).squeeze(-1) - y[48:]).square().mean())

    hist = train_iterations(model, opt, step_loss, val, max_iterations=max_iterations,
                            read_every=5, plateau=CRIT, monitor="val_mse",
                            keep_best=keep_best)
    return model, opt, hist


def _side_by_side(max_iterations, poison=None, keep_best=False):
    data = [_data(s) for s in SEEDS]
    models = [d[0] for d in data]
    opt = member_adam(models, 0.05)

    def batched(xs, active):
        w = torch.stack([models[e].weight for e in active])  # (E, 1, 3)
        b = torch.stack([models[e].bias for e in active])    # (E, 1)
        return torch.baddbmm(b.unsqueeze(1), xs, w.transpose(1, 2)).squeeze(-1)

    def step_loss(active, it):
        xs, ys = [], []
        for e in active:
            _, gen, x, y = data[e]
            b = torch.randint(0, 48, (8,), generator=gen)
            xs.append(x[b])
            ys.append(y[b])
        loss = (batched(torch.stack(xs), active) - torch.stack(ys)).square().mean(-1)
        if poison is not None and poison[0] in active and it == poison[1]:
            loss = loss * torch.tensor([float("nan") if e == poison[0] else 1.0
                                        for e in active], dtype=loss.dtype)
        return loss

    def read(active):
        with torch.no_grad():
            xs = torch.stack([data[e][2][48:] for e in active])
            ys = torch.stack([data[e][3][48:] for e in active])
            return (batched(xs, active) - ys).square().mean(-1).tolist()

    hists = train_side_by_side(models, opt, step_loss, read, max_iterations=max_iterations,
                               read_every=5, plateau=CRIT, monitor="val_mse",
                               stage="test", model_names=[f"seed {s}" for s in SEEDS],
                               keep_best=keep_best)
    return models, opt, hists


def test_each_member_trains_as_it_would_alone():
    models, opt, hists = _side_by_side(400)
    stops = set()
    for e, s in enumerate(SEEDS):
        model, opt1, hist = _alone(s, 400)
        h = hists[e]
        assert (h.iterations, h.converged, h.stop_reason) == \
            (hist.iterations, hist.converged, hist.stop_reason)
        assert [r["iteration"] for r in h.records] == [r["iteration"] for r in hist.records]
        assert [r["lr"] for r in h.records] == [r["lr"] for r in hist.records]
        for a, b in zip(h.records, hist.records, strict=True):
            assert a["val_mse"] == pytest.approx(b["val_mse"], rel=1e-9)
            assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-9)
        assert h.best == pytest.approx(hist.best, rel=1e-9)
        for p, q in zip(models[e].parameters(), model.parameters(), strict=True):
            torch.testing.assert_close(p, q, rtol=1e-9, atol=1e-12)
        # the member's optimiser state, taken out alone, is its own run's
        mine, theirs = member_optimizer_state(opt, e, models[e]), opt1.state_dict()
        assert mine["param_groups"][0]["lr"] == theirs["param_groups"][0]["lr"]
        for k in theirs["state"]:
            for key in ("exp_avg", "exp_avg_sq", "step"):
                torch.testing.assert_close(mine["state"][k][key], theirs["state"][k][key],
                                           rtol=1e-9, atol=1e-12)
        stops.add(h.iterations)
    # the members stop at different iterations: the frozen members are exercised
    assert len(stops) > 1 and all(h.converged for h in hists)


def test_keep_best_restores_each_members_best_reading():
    """keep_best: every member ends with the weights of its own lowest reading, as
    train_iterations(keep_best=True) leaves it alone; without it, the last weights."""
    models, _, hists = _side_by_side(400, keep_best=True)
    last, _, _ = _side_by_side(400)
    moved = 0
    for e, s in enumerate(SEEDS):
        model, _, hist = _alone(s, 400, keep_best=True)
        assert hists[e].best_iteration == hist.best_iteration
        for p, q in zip(models[e].parameters(), model.parameters(), strict=True):
            torch.testing.assert_close(p, q, rtol=1e-9, atol=1e-12)
        if hists[e].best_iteration < hists[e].iterations:
            moved += 1
            assert not torch.equal(models[e].weight, last[e].weight)
    assert moved  # at least one member's best reading was not its last


def test_a_stopped_member_is_frozen_and_the_cap_ends_the_rest():
    models, _, hists = _side_by_side(400)
    first = min(range(len(SEEDS)), key=lambda e: hists[e].iterations)
    frozen = [p.detach().clone() for p in models[first].parameters()]
    # the same members trained again to the same end: the early stopper's weights are
    # those it had when it stopped, although the others went on
    models2, _, hists2 = _side_by_side(hists[first].iterations)
    for p, q in zip(frozen, models2[first].parameters(), strict=True):
        torch.testing.assert_close(p, q.detach(), rtol=1e-9, atol=1e-12)
    capped = [h for h in hists2 if h.stop_reason == "iteration cap"]
    assert capped and all(h.converged is False for h in capped)


def test_a_diverging_member_is_named():
    with pytest.raises(DivergenceError, match=r"model seed 2, iteration 7"):
        _side_by_side(50, poison=(2, 7))


def test_one_parameter_group_per_member_is_required():
    models = [torch.nn.Linear(2, 1) for _ in range(3)]
    opt = torch.optim.Adam([q for m in models for q in m.parameters()], lr=0.1)
    with pytest.raises(ValueError, match="one per member"):
        train_side_by_side(models, opt, lambda a, i: torch.zeros(len(a)),
                           lambda a: [0.0] * len(a), max_iterations=3, read_every=1)
