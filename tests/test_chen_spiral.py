"""Chen et al. (2018) spiral demo: the generated data obey the system's energy law, the
claim rules flip on data where the claims are false, bad parameters name their key, and
the stage runs end to end on a few iterations."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch

from nnde.errors import ParamError
from nnde.results import Results, ResultsWriter
from nnde.stage import StageOutputs
from reproductions.chen.spiral import claims, experiment, figures

from .conftest import stage_params

ROOT = Path(__file__).resolve().parents[1]


def params(section: str, profile: str = "small") -> dict:
    return stage_params("chen", section, profile)


pytestmark = pytest.mark.usefixtures("one_thread")


def _res(log, balance, ratio=0.5, iterations=10):
    return Results(frames={"loss": log},
                   records={"energy": {"dV": balance[0], "integral": balance[1]},
                            "config": {"loss_ratio": ratio, "iterations": iterations}})


def _v(res):
    return {c.id: c.verdict for c in claims.claim.judge(res)}


def _log(test_first, test_last, train_first, train_last):
    return pd.DataFrame({"test_loss": [test_first, test_last],
                         "train_loss": [train_first, train_last]})


# --------------------------------------------------------------------------- data
def test_spiral_data_obey_the_energy_law():
    """V = Σ y⁴/4 falls with dV/dt = −0.1 Σ y⁶ along the generated trajectory."""
    t, y = experiment.true_trajectory(2.0, 201)
    assert torch.allclose(y[0], torch.tensor([2.0, 0.0], dtype=y.dtype))
    dV, integral = experiment.energy_balance(t, y)
    assert dV < 0
    assert abs(dV - integral) <= 1e-3 * abs(dV)
    V = (y**4).sum(-1) / 4
    assert bool((V.diff() <= 1e-12).all())  # monotone decay


# --------------------------------------------------------------------------- claims
def test_spiral_claims_flip():
    log = pd.DataFrame({"iteration": [1, 10], "train_loss": [1.0, 0.1], "test_loss": [2.0, 0.5]})
    assert list(_v(_res(log, (-1.0, -1.0))).values()) == ["reproduced", "reproduced"]
    bad_log = log.assign(test_loss=[0.5, 2.0], train_loss=[0.1, 1.0])
    assert list(_v(_res(bad_log, (1.0, -1.0))).values()) == ["not reproduced",
                                                             "not reproduced"]


@pytest.mark.verdicts("chen.spiral.spiral_data_energy")
def test_spiral_energy_check_fails_when_the_balance_does_not_hold():
    log = _log(1.0, 0.1, 1.0, 0.1)
    ok = claims.claim.by_id(_res(log, (-2.0, -2.0005)), "spiral_data_energy")
    assert ok.verdict == "reproduced"
    assert ok.kind == "check"
    assert _v(_res(log, (-2.0, -2.5)))["spiral_data_energy"] == "not reproduced"
    assert _v(_res(log, (0.5, 0.5)))["spiral_data_energy"] == "not reproduced"  # must decay


@pytest.mark.verdicts("chen.spiral.spiral_fit")
def test_spiral_fit_fails_when_the_loss_does_not_fall():
    bal = (-2.0, -2.0)
    assert _v(_res(_log(1.0, 0.2, 1.0, 0.1), bal))["spiral_fit"] == "reproduced"
    assert _v(_res(_log(1.0, 0.9, 1.0, 0.1), bal))["spiral_fit"] == "partly"
    assert _v(_res(_log(1.0, 0.9, 1.0, 0.95), bal))["spiral_fit"] == "not reproduced"


# --------------------------------------------------------------------------- params
def test_bad_params_name_the_key():
    p = params("spiral")
    experiment.read_config(p)  # the shipped small profile is valid
    p["window"] = 0
    with pytest.raises(ParamError) as exc:
        experiment.read_config(p)
    assert exc.value.key.startswith("chen.spiral.window")


# --------------------------------------------------------------------------- end to end
def test_run_then_judge(tmp_path):
    """A few iterations on a short trajectory: run writes plain data, judge reads it."""
    cfg = replace(experiment.read_config(params("spiral", "tiny")), points=60, iterations=3,
                  log_every=2, threads=1)
    with ResultsWriter("chen", "spiral", root=tmp_path) as out:
        experiment.run(cfg, out)
    res = Results.load("chen", "spiral", root=tmp_path)
    assert list(res.frame("loss").iteration) == [1, 2, 3]
    assert len(res.frame("trajectory")) == 60
    with StageOutputs("chen", "spiral", "T", data_root=tmp_path / "out",
                      figure_root=tmp_path / "fig") as so:
        so.claims(claims.claim.judge(res))
        figures.write(res, so)
    assert (tmp_path / "fig/chen/spiral_fit.png").exists()
    assert (tmp_path / "out/chen/spiral_loss.csv").exists()
