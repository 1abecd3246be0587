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
from tests.verdict_cases import Case, verdict_test

from .conftest import stage_params

ROOT = Path(__file__).resolve().parents[1]


def params(section: str, profile: str = "small") -> dict:
    return stage_params("chen", section, profile)


pytestmark = pytest.mark.usefixtures("one_thread")


def _res(log, balance, ratio=0.5, iterations=10, origin=0.53):
    """``origin``: the mean |y| of the made-up trajectory (the floor of spiral_fit)."""
    traj = pd.DataFrame({"t": [0.0, 1.0], "y1": [origin, -origin], "y2": [origin, origin],
                         "y1_learned": [0.0, 0.0], "y2_learned": [0.0, 0.0]})
    return Results(frames={"loss": log, "trajectory": traj},
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
BAL = (-2.0, -2.0)
CASES = [
    Case("spiral_data_energy", "reproduced", lambda: _res(_log(1.0, 0.1, 1.0, 0.1),
                                                          (-2.0, -2.0005)), "balance holds"),
    Case("spiral_data_energy", "not reproduced",
         lambda: _res(_log(1.0, 0.1, 1.0, 0.1), (-2.0, -2.5)), "balance off by 25 %"),
    Case("spiral_data_energy", "not reproduced",
         lambda: _res(_log(1.0, 0.1, 1.0, 0.1), (0.5, 0.5)), "V must decay"),
    Case("spiral_fit", "reproduced", lambda: _res(_log(1.0, 0.2, 1.0, 0.1), BAL),
         "the rollout loss falls 5x, below the origin's"),
    Case("spiral_fit", "partly", lambda: _res(_log(1.0, 0.55, 1.0, 0.1), BAL, origin=0.6),
         "only the window loss falls by the ratio"),
    Case("spiral_fit", "not reproduced", lambda: _res(_log(1.0, 0.55, 1.0, 0.95), BAL,
                                                      origin=0.6), "nothing falls"),
    Case("spiral_fit", "not reproduced", lambda: _res(_log(2.49, 0.99, 0.08, 0.035), BAL),
         "subject below floor: the loss halves, yet the rollout is worse than predicting "
         "the origin (the small profile's run)"),
]
test_verdict_cases = verdict_test(claims.claim, CASES)


def test_spiral_claim_kinds():
    got = {c.id: c.kind for c in claims.claim.judge(_res(_log(1.0, 0.2, 1.0, 0.1), BAL))}
    assert got == {"spiral_data_energy": "check", "spiral_fit": "experiment"}


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
