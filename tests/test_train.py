"""The shared training loop: it learns, it is deterministic, and it stops on NaN."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnde.errors import DivergenceError, ParamError
from nnde.train import TrainConfig, check_finite, train_classifier


def blobs(n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 2, generator=g) * 0.5 + (y[:, None] * 2.0 - 1.0)
    return x, y


def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))


def test_learns_and_is_deterministic():
    x, y = blobs()
    cfg = TrainConfig(epochs=5, batch_size=32, lr=0.1, seed=3, progress=False)
    m1, m2 = model(), model()
    h1 = train_classifier(m1, x, y, cfg, evals={"val": blobs(100, 1)})
    h2 = train_classifier(m2, x, y, cfg, evals={"val": blobs(100, 1)})
    assert h1.records[-1]["train_error"] < 0.1
    assert h1.records[-1]["val_error"] < 0.15
    assert h1.records[0]["train_loss"] > h1.records[-1]["train_loss"]
    assert h1.records == h2.records
    for a, b in zip(m1.parameters(), m2.parameters(), strict=True):
        assert torch.equal(a, b)
    assert h1.iterations == 5 * 7


def test_nan_guard_names_stage_model_epoch_step():
    x, y = blobs()
    x[5] = float("nan")
    cfg = TrainConfig(epochs=2, batch_size=500, lr=0.1, stage="he.degradation",
                      model_name="plain-20", progress=False)
    with pytest.raises(DivergenceError, match=r"he\.degradation.*plain-20.*epoch 1, step 1"):
        train_classifier(model(), x, y, cfg)


def test_nan_guard_of_an_iteration_loop_names_the_iteration():
    check_finite(torch.tensor(1.5), step=3, stage="chen.cnf", model="cnf 32")  # finite: quiet
    with pytest.raises(DivergenceError, match=r"chen\.cnf, model cnf 32, iteration 7: lower"):
        check_finite(torch.tensor(float("nan")), step=7, stage="chen.cnf", model="cnf 32")


@pytest.mark.parametrize("kw", [{"epochs": 0}, {"batch_size": -1}, {"lr": 0.0},
                                {"optimizer": "lbfgs"}])
def test_bad_config(kw):
    base = {"epochs": 1, "batch_size": 8, "lr": 0.1}
    with pytest.raises(ParamError):
        TrainConfig(**{**base, **kw})


def test_eval_train_off_reports_running_loss():
    import math

    x, y = blobs()
    cfg = TrainConfig(epochs=2, batch_size=50, lr=0.1, progress=False, eval_train=False)
    h = train_classifier(model(), x, y, cfg)
    r = h.records[-1]
    assert math.isnan(r["train_error"]) and 0 < r["train_loss"] < 1.0


def test_train_eval_subset_changes_the_measurement_not_the_training():
    """Per-epoch training loss on a fixed subset: same weights as evaluating the whole set
    (evaluation draws no random numbers), records on the subset, the summary's final
    training loss and error on the whole set."""
    from nnde.train import evaluate

    x, y = blobs()
    runs = {}
    for k in (0, 37):
        torch.manual_seed(0)
        m = model()
        cfg = TrainConfig(epochs=3, batch_size=50, lr=0.1, progress=False,
                          train_eval_subset=k)
        runs[k] = (m, train_classifier(m, x, y, cfg))
    (m0, h0), (m1, h1) = runs[0], runs[37]
    for a, b in zip(m0.parameters(), m1.parameters(), strict=True):
        assert torch.equal(a, b)
    full = evaluate(m1, x, y)
    assert h1.summary()["final_train_loss"] == pytest.approx(full[0], rel=1e-6)
    assert h1.summary()["final_train_error"] == pytest.approx(full[1])
    assert h0.summary()["final_train_loss"] == pytest.approx(full[0], rel=1e-6)
    # the per-epoch record is the subset's, which is not the whole set's
    assert h1.records[-1]["train_loss"] != pytest.approx(full[0], rel=1e-6)
    assert h1.final_train is not None and h0.final_train is None


@pytest.mark.parametrize("bad", [-1, 2.5, True])
def test_train_eval_subset_rejects_bad_values(bad):
    with pytest.raises(ParamError, match="train_eval_subset"):
        TrainConfig(epochs=1, batch_size=8, lr=0.1, train_eval_subset=bad)


def test_stage_command_line_sets_checkpoint_and_resume(monkeypatch, tmp_path):
    from nnde.stage import run_main

    # set (not delete) so that monkeypatch restores the original state afterwards
    monkeypatch.setenv("NNDE_CHECKPOINT_DIR", "")
    monkeypatch.setenv("NNDE_RESUME", "0")
    seen = {}

    def main():
        cfg = TrainConfig(epochs=1, batch_size=8, lr=0.1, stage="s", model_name="m", seed=4)
        seen["checkpoint"], seen["resume"] = cfg.checkpoint, cfg.resume

    run_main(main, "s", ["--checkpoint-dir", str(tmp_path), "--resume"])
    assert seen == {"checkpoint": str(tmp_path / "s-m-seed4.pt"), "resume": True}
    with pytest.raises(SystemExit) as e:
        run_main(main, "s", ["--resum"])
    assert e.value.code == 2


def test_plateau_stops_and_records_convergence():
    from nnde.train import Plateau

    x, y = blobs()
    crit = Plateau(patience=2, rel=0.01, drops=1, factor=0.1, floor=0.0)
    cfg = TrainConfig(epochs=200, batch_size=32, lr=0.1, seed=0, progress=False,
                      plateau=crit)
    h = train_classifier(model(), x, y, cfg)
    s = h.summary()
    assert h.converged is True and h.stop_reason == "plateau"
    assert s["epochs_run"] == len(h.records) < 200
    losses = [r["train_loss"] for r in h.records]
    # the criterion holds at the stop: the last `patience` epochs did not improve by 1 %
    best_before = min(losses[: -crit.patience])
    assert all(v >= (1 - crit.rel) * best_before for v in losses[-crit.patience:])
    # one reduction of the learning rate happened on the way
    lrs = sorted({r["lr"] for r in h.records}, reverse=True)
    assert lrs == pytest.approx([0.1, 0.01])


def test_plateau_epoch_cap_is_not_convergence_and_floor_is():
    from nnde.train import Plateau

    x, y = blobs()
    capped = TrainConfig(epochs=2, batch_size=32, lr=0.1, progress=False,
                         plateau=Plateau(patience=5, floor=0.0))
    h = train_classifier(model(), x, y, capped)
    assert h.converged is False and h.stop_reason == "epoch cap" and len(h.records) == 2
    fitted = TrainConfig(epochs=50, batch_size=32, lr=0.1, progress=False,
                         plateau=Plateau(patience=50, floor=0.5))
    h = train_classifier(model(), x, y, fitted)
    assert h.converged is True and h.stop_reason == "floor"
    assert h.records[-1]["train_loss"] <= 0.5
    assert all(r["train_loss"] > 0.5 for r in h.records[:-1])
    fixed = train_classifier(model(), x, y, TrainConfig(epochs=1, batch_size=32, lr=0.1,
                                                        progress=False))
    assert fixed.converged is None and fixed.stop_reason == "fixed epochs"


def test_plateau_resume_gives_the_same_run(tmp_path):
    from nnde.train import Plateau

    x, y = blobs()
    crit = Plateau(patience=2, drops=1, floor=0.0)
    full = train_classifier(model(), x, y, TrainConfig(epochs=40, batch_size=32, lr=0.1,
                                                       progress=False, plateau=crit))
    ck = str(tmp_path / "c.pt")
    part = TrainConfig(epochs=3, batch_size=32, lr=0.1, progress=False, plateau=crit,
                       checkpoint=ck)
    train_classifier(model(), x, y, part)
    rest = TrainConfig(epochs=40, batch_size=32, lr=0.1, progress=False, plateau=crit,
                       checkpoint=ck, resume=True)
    h = train_classifier(model(), x, y, rest)
    assert h.records == full.records and h.converged == full.converged


@pytest.mark.parametrize("kw", [{"patience": 0}, {"rel": 1.5}, {"drops": -1},
                                {"factor": 2.0}, {"floor": -1.0}])
def test_bad_plateau(kw):
    from nnde.train import Plateau

    with pytest.raises(ParamError):
        Plateau(**kw)
    with pytest.raises(ParamError, match="unknown keys"):
        Plateau.from_params({"patiense": 3}, "x")


def test_plateau_excludes_milestones_and_needs_train_eval():
    from nnde.train import Plateau

    with pytest.raises(ParamError, match="milestones"):
        TrainConfig(epochs=3, batch_size=8, lr=0.1, milestones=(2,), plateau=Plateau())
    with pytest.raises(ParamError, match="eval_train"):
        TrainConfig(epochs=3, batch_size=8, lr=0.1, eval_train=False, plateau=Plateau())


def test_threads_auto_uses_the_available_cores(monkeypatch):
    from nnde import train

    monkeypatch.setattr(train, "available_cores", lambda: 4)
    assert train.resolve_threads("auto") == 4
    assert train.resolve_threads("auto", workers=2) == 2
    assert train.resolve_threads("auto", workers=8) == 1
    assert train.resolve_threads(3) == 3
    with pytest.raises(ParamError):
        train.resolve_threads("many")


def test_max_threads_caps_the_available_cores(monkeypatch):
    from nnde import train

    monkeypatch.delenv("NNDE_MAX_THREADS", raising=False)
    n = train.available_cores()
    monkeypatch.setenv("NNDE_MAX_THREADS", "1")
    assert train.available_cores() == 1
    monkeypatch.setenv("NNDE_MAX_THREADS", str(n + 5))  # a cap above the cores changes nothing
    assert train.available_cores() == n
    monkeypatch.setenv("NNDE_MAX_THREADS", "lots")  # not a count: ignored
    assert train.available_cores() == n


@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop"])
def test_make_optimizer_multi_tensor_update_equals_the_per_tensor_loop(name):
    """make_optimizer uses torch's foreach kernels: the same steps as the default loop."""
    from nnde.train import make_optimizer

    torch.manual_seed(0)
    a = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).double()
    b = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).double()
    b.load_state_dict(a.state_dict())
    cfg = TrainConfig(epochs=1, batch_size=4, lr=0.05, optimizer=name, momentum=0.9,
                      weight_decay=1e-3)
    fast = make_optimizer(a, cfg)
    kw = {"lr": 0.05, "weight_decay": 1e-3, "foreach": False}
    slow = {"sgd": lambda p: torch.optim.SGD(p, momentum=0.9, **kw),
            "adam": lambda p: torch.optim.Adam(p, **kw),
            "rmsprop": lambda p: torch.optim.RMSprop(p, **kw)}[name](b.parameters())
    assert fast.defaults["foreach"] is True
    x, y = torch.randn(16, 5, dtype=torch.float64), torch.randn(16, 3, dtype=torch.float64)
    for _ in range(5):
        for net, opt in ((a, fast), (b, slow)):
            opt.zero_grad()
            nn.functional.mse_loss(net(x), y).backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q)


def test_classifiers_side_by_side_refuse_what_would_change_their_training(tmp_path):
    """train_classifiers_side_by_side trains members as train_classifier would alone, or
    says why it cannot: a plateau criterion, checkpoints, or configs that differ in more
    than the seed and name. (Its equality with train_classifier: the He stage's test.)"""
    from nnde.train import Plateau, side_by_side_obstacle, train_classifiers_side_by_side

    base = TrainConfig(epochs=1, batch_size=4, lr=0.1)
    ok = [base, TrainConfig(epochs=1, batch_size=4, lr=0.1, seed=3, model_name="b")]
    assert side_by_side_obstacle(ok) is None
    bad = {
        "plateau": [TrainConfig(epochs=2, batch_size=4, lr=0.1,
                                plateau=Plateau(patience=1, rel=0.01, drops=1, factor=0.1))],
        "checkpoints": [TrainConfig(epochs=1, batch_size=4, lr=0.1,
                                    checkpoint=str(tmp_path / "c.pt"))],
        "differ in more": [base, TrainConfig(epochs=1, batch_size=4, lr=0.2, seed=1)],
    }
    x, y = torch.randn(8, 2, 5), torch.randint(0, 3, (8,))
    for why, cfgs in bad.items():
        assert why in side_by_side_obstacle(cfgs)
        with pytest.raises(ValueError, match=why):
            train_classifiers_side_by_side(nn.Conv1d(2, 6, 5, groups=2), x, y, cfgs)


def test_classifiers_side_by_side_name_the_member_that_diverged():
    from nnde.train import train_classifiers_side_by_side

    class Two(nn.Module):  # two linear classifiers side by side: (B, 2, 5) -> (B, 2, 3)
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(2, 6, 5, groups=2)

        def forward(self, x):
            return self.conv(x).view(len(x), 2, 3)

    net = Two()
    with torch.no_grad():
        net.conv.weight[3:] = float("nan")  # the second member's weights
    cfgs = [TrainConfig(epochs=1, batch_size=4, lr=0.1, seed=s, model_name=f"member-{s}",
                        progress=False) for s in (0, 1)]
    x, y = torch.randn(8, 1, 5), torch.randint(0, 3, (8,))
    with pytest.raises(DivergenceError, match="model member-1, epoch 1, step 1"):
        train_classifiers_side_by_side(net, x, y, cfgs)
