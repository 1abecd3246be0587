"""nnde.train.train_iterations: the iteration-based loop of the Chen Table 2, CNF and
spiral stages. It must be exactly the loop those stages wrote by hand (the same draws and
operations in the same order), read on its schedule, stop at a plateau, keep the best
weights and name a diverging run."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from nnde.errors import DivergenceError
from nnde.train import Plateau, PlateauState, seed_everything, train_iterations


def _problem(seed=0):
    """A small regression: model, optimiser, a batch-drawing loss and a validation loss."""
    gen = seed_everything(seed)
    x = torch.randn(64, 3, generator=gen)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(64, generator=gen)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)

    def step_loss(_it):
        b = torch.randint(0, 48, (8,), generator=gen)
        return (model(x[b]).squeeze(-1) - y[b]).square().mean()

    def val():
        with torch.no_grad():
            return float((model(x[48:]).squeeze(-1) - y[48:]).square().mean())

    return model, opt, step_loss, val


def _by_hand(model, opt, step_loss, val, crit, max_iterations, every):
    """The loop as the stages wrote it before (Table 2's, with its best-weights copy)."""
    state = PlateauState(crit)
    hist, it, running, best = [], 0, [], (float("inf"), None, 0)
    while it < max_iterations:
        it += 1
        loss = step_loss(it)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        running.append(float(loss.detach()))
        if it % every == 0 or it == max_iterations:
            v = val()
            hist.append({"iteration": it, "train_loss": float(np.mean(running)),
                         "val_mse": v, "lr": opt.param_groups[0]["lr"]})
            running = []
            if v < best[0]:
                best = (v, copy.deepcopy(model.state_dict()), it)
            if state.update(v, opt):
                break
    model.load_state_dict(best[1])
    return hist, it, best, state.reason


def test_same_as_the_hand_written_loop_bit_for_bit():
    crit = Plateau(patience=2, rel=0.05, drops=1, factor=0.3, floor=0.0)
    ref = _by_hand(*_problem(), crit, 200, 5)
    model, opt, step_loss, val = _problem()
    h = train_iterations(model, opt, step_loss, val, max_iterations=200, read_every=5,
                         plateau=crit, monitor="val_mse", keep_best=True)
    assert h.records == ref[0]  # floats compared exactly
    assert (h.iterations, h.best, h.best_iteration) == (ref[1], ref[2][0], ref[2][2])
    assert h.converged == bool(ref[3]) and h.stop_reason == (ref[3] or "iteration cap")
    for k, v in ref[2][1].items():
        assert torch.equal(model.state_dict()[k], v)  # the best reading's weights


def test_fixed_budget_reads_on_schedule():
    model, opt, step_loss, val = _problem()
    losses = []

    def logged(it):
        loss = step_loss(it)
        losses.append(float(loss.detach()))
        return loss

    h = train_iterations(model, opt, logged, val, max_iterations=12, read_every=5,
                         read_first=True, train_loss="last", monitor="test_loss")
    assert [r["iteration"] for r in h.records] == [1, 5, 10, 12]
    assert [r["train_loss"] for r in h.records] == [losses[i - 1] for i in (1, 5, 10, 12)]
    assert set(h.records[0]) == {"iteration", "train_loss", "test_loss"}  # no lr: no plateau
    assert h.iterations == 12 and h.converged is None and h.stop_reason == "fixed iterations"
    model, opt, step_loss, val = _problem()
    losses = []
    h = train_iterations(model, opt, logged, val, max_iterations=12, read_every=5)
    assert [r["iteration"] for r in h.records] == [5, 10, 12]
    assert h.records[1]["train_loss"] == float(np.mean(losses[5:10]))  # mean since last read


def test_plateau_lowers_the_lr_then_stops():
    model, opt, step_loss, _ = _problem()
    flat = iter([1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    h = train_iterations(model, opt, step_loss, lambda: next(flat), max_iterations=100,
                         read_every=1, plateau=Plateau(patience=2, rel=0.01, drops=1,
                                                       factor=0.5, floor=0.0))
    assert [r["lr"] for r in h.records] == [0.05, 0.05, 0.05, 0.025, 0.025]
    assert h.iterations == 5 and h.converged is True and h.stop_reason == "plateau"
    model, opt, step_loss, val = _problem()
    h = train_iterations(model, opt, step_loss, val, max_iterations=3, read_every=1,
                         plateau=Plateau(patience=50, rel=0.0, drops=0, factor=0.5, floor=0.0))
    assert h.converged is False and h.stop_reason == "iteration cap" and h.iterations == 3


def test_a_diverging_loss_names_stage_model_and_iteration():
    model, opt, step_loss, val = _problem()
    bad = lambda it: step_loss(it) * (math.nan if it == 4 else 1.0)  # noqa: E731
    with pytest.raises(DivergenceError, match=r"stage chen\.x, model m, iteration 4"):
        train_iterations(model, opt, bad, val, max_iterations=10, read_every=2,
                         stage="chen.x", model_name="m")
    with pytest.raises(ValueError, match="train_loss"):
        train_iterations(model, opt, step_loss, val, max_iterations=1, read_every=1,
                         train_loss="median")
