"""The shared training loop: it learns, it is deterministic, and it stops on NaN."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnde.errors import DivergenceError, ParamError
from nnde.train import TrainConfig, train_classifier


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
