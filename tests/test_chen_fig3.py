"""Chen et al. (2018), Figure 3 (``reproductions/chen/fig3``): the claims on synthetic
tolerance sweeps and probes, the judge step, parameters, and the message when the Table
1 results are missing. (The sweep on a trained ODE-Net is run in
``test_chen_table1.py::test_table1_run_on_tiny_mnist1d``.)"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from nnde.errors import DataFileError, ParamError
from nnde.results import Results
from nnde.stage import StageOutputs
from reproductions.chen.fig3 import claims, experiment, figures

from .verdict_cases import Case, verdict_test

ROOT = Path(__file__).resolve().parents[1]
IDS = ("nfe_grows_with_tolerance", "nfe_proportional_time", "backward_half_forward",
       "nfe_grows_in_training")

SWEEP = pd.DataFrame({
    "tol": [1e-1, 1e-2, 1e-3],
    "nfe_forward": [14, 20, 32],
    "rel_error": [1e-2, 1e-3, 1e-4],
    "seconds": [1.4, 2.0, 3.2],
    "cpu_seconds": [1.4, 2.0, 3.2],
    "train_nfe_forward": [14, 20, 32],
    "train_nfe_backward": [7, 10, 16],
    "train_nfe_backward_mixed": [14, 26, 50],
    "train_nfe_backward_seminorm": [7, 10, 16],
    "train_nfe_backward_rms": [7, 10, 16],
})
#: three seeds' ODE-Nets, each probed after two epochs; the NFE grows in every one
PROBE = pd.DataFrame({"seed": [0, 0, 1, 1, 2, 2], "epoch": [1, 2] * 3,
                      "nfe_forward": [20, 26, 20, 32, 14, 20],
                      "nfe_backward": [10, 13, 10, 16, 7, 10]})


def _res(sweep=SWEEP, probe=PROBE) -> Results:
    return Results(frames={"sweep": sweep, "probe": probe},
                   records={"trained": {"dataset": "mnist1d", "seed": 0, "dims": 1,
                                        "tol": 0.1, "probe_tol": 1e-3},
                            "config": {"tols": list(sweep.tol), "batch": 8, "repeats": 3,
                                       "threads": 1, "ref_tol": 1e-7}})


def test_fig3_declares_its_claims():
    assert claims.claim.ids == IDS


def _probe(changes):
    """A probe whose seed s goes from 20 evaluations to 20 + changes[s]."""
    rows = []
    for sd, ch in enumerate(changes):
        rows += [{"seed": sd, "epoch": 1, "nfe_forward": 20, "nfe_backward": 10},
                 {"seed": sd, "epoch": 5, "nfe_forward": 20 + ch, "nfe_backward": 10}]
    return pd.DataFrame(rows)


def _curves(curves):
    """A probe with seed s's forward NFE after each epoch as given in curves[s]."""
    return pd.DataFrame([{"seed": sd, "epoch": e + 1, "nfe_forward": v, "nfe_backward": 10}
                         for sd, c in enumerate(curves) for e, v in enumerate(c)])


CASES = [
    Case("nfe_grows_with_tolerance", "reproduced", lambda: _res()),
    Case("nfe_grows_with_tolerance", "not reproduced",
         lambda: _res(SWEEP.assign(nfe_forward=[32, 20, 14], rel_error=[1e-4, 1e-3, 1e-2]))),
    Case("nfe_proportional_time", "reproduced", lambda: _res()),
    Case("nfe_proportional_time", "reproduced",
         lambda: _res(SWEEP.assign(seconds=[1.0, 3.0, 1.0])),
         "the wall time disturbed by a busy machine; the CPU time proportional"),
    Case("nfe_proportional_time", "not reproduced",
         lambda: _res(SWEEP.assign(cpu_seconds=[3.0, 1.0, 1.0]))),
    Case("backward_half_forward", "reproduced", lambda: _res(), "rms norm: 0.5"),
    Case("backward_half_forward", "not reproduced",
         lambda: _res(SWEEP.assign(train_nfe_backward_rms=[14, 20, 32])),
         "with the 2018 release's norm the ratio is 1, whatever the other norms give"),
    Case("backward_half_forward", "reproduced",
         lambda: _res(SWEEP.drop(columns=["train_nfe_backward_mixed",
                                          "train_nfe_backward_seminorm",
                                          "train_nfe_backward_rms"])),
         "no per-norm measurement: the block's own norm and the probe"),
    Case("nfe_grows_in_training", "reproduced", lambda: _res(), "every seed grows"),
    Case("nfe_grows_in_training", "not reproduced", lambda: _res(probe=_probe([-6, -8, -6])),
         "every seed's NFE falls"),
    Case("nfe_grows_in_training", "not reproduced", lambda: _res(probe=_probe([0, 0, 0])),
         "constant in every seed"),
    Case("nfe_grows_in_training", "inconclusive", lambda: _res(probe=_probe([12, -6, -4])),
         "one seed grows, two fall: within the seed spread"),
    Case("nfe_grows_in_training", "reproduced",
         lambda: _res(probe=_curves([
             [20, 20, 20, 26, 26, 26, 26, 20], [20, 20, 26, 26, 26, 26, 26, 26],
             [20, 20, 20, 20, 26, 26, 26, 26]])),
         "seed 0 steps back to 20 in its last epoch only: the trend over the epochs, not "
         "the last reading"),
    Case("nfe_grows_in_training", "not reproduced",
         lambda: _res(probe=_curves([[20, 26] * 4, [26, 20] * 4, [20, 26, 20, 26] * 2])),
         "a step back and forth with no trend: the quarters' means do not grow"),
]
test_verdict_cases = verdict_test(claims.claim, CASES)


def test_fig3_solver_properties_are_checks():
    """Fig. 3a/b hold for dopri5 on any field (an untrained one too): checks."""
    kinds = {c.id: c.kind for c in claims.claim.judge(_res())}
    assert kinds["nfe_grows_with_tolerance"] == kinds["nfe_proportional_time"] == "check"
    assert kinds["backward_half_forward"] == kinds["nfe_grows_in_training"] == "experiment"


def test_fig3_backward_claim_names_every_norm():
    note = claims.claim.by_id(_res(), "backward_half_forward").note
    assert "per-part norm" in note and "seminorm" in note and "2018 release" in note


def test_fig3_judge_writes_tables_figure_and_metrics(tmp_path):
    res = _res()
    with StageOutputs("chen", "fig3", "T", data_root=tmp_path / "data",
                      figure_root=tmp_path / "fig") as out:
        out.claims(claims.claim.judge(res))
        figures.write(res, out)
    ratio = pd.read_csv(tmp_path / "data/chen/fig3_ratio.csv")
    # the sweep with the block's own norm and each of three norms; the saved seed's probe
    assert list(ratio["where"]) == ["tolerance sweep"] * 12 + ["training (probe)"] * 2
    own = ratio[ratio["norm"] == "the block's own"]
    assert own.ratio.tolist() == pytest.approx([0.5] * 5)
    metrics = json.loads((tmp_path / "data/chen/fig3.numbers.json").read_text())
    assert metrics["nfe_forward.tol0.001"] == 32 and metrics["nfe_backward.tol0.1"] == 7
    assert (tmp_path / "fig/chen/fig3_nfe.png").exists()


def test_fig3_without_table1_results_names_the_stage(tmp_path):
    with pytest.raises(DataFileError, match="chen_table1"):
        experiment.load_trained(tmp_path / "data/chen/table1")
    with pytest.raises(DataFileError, match="chen_table1"):
        experiment.load_probe(tmp_path / "data/chen/table1")


def test_bad_params_name_the_key():
    doc = yaml.safe_load((ROOT / "params.yaml").read_text())["chen"]["fig3"]
    p = {**doc["common"], **doc["small"]}
    experiment.read_config(p)  # the shipped small profile is valid
    p["tols"] = []
    with pytest.raises(ParamError) as exc:
        experiment.read_config(p)
    assert exc.value.key.startswith("chen.fig3.tols")
