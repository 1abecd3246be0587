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

ROOT = Path(__file__).resolve().parents[1]
IDS = ("nfe_grows_with_tolerance", "nfe_proportional_time", "backward_half_forward",
       "nfe_grows_in_training")

SWEEP = pd.DataFrame({
    "tol": [1e-1, 1e-2, 1e-3],
    "nfe_forward": [14, 20, 32],
    "rel_error": [1e-2, 1e-3, 1e-4],
    "seconds": [1.4, 2.0, 3.2],
    "train_nfe_forward": [14, 20, 32],
    "train_nfe_backward": [7, 10, 16],
})
PROBE = pd.DataFrame({"seed": 0, "epoch": [1, 2], "nfe_forward": [20, 26],
                      "nfe_backward": [10, 13]})


def _res(sweep=SWEEP, probe=PROBE) -> Results:
    return Results(frames={"sweep": sweep, "probe": probe},
                   records={"trained": {"dataset": "mnist1d", "seed": 0, "dims": 1,
                                        "tol": 0.1, "probe_tol": 1e-3},
                            "config": {"tols": list(sweep.tol), "batch": 8, "repeats": 3,
                                       "threads": 1, "ref_tol": 1e-7}})


def test_fig3_declares_its_claims():
    assert claims.claim.ids == IDS


@pytest.mark.verdicts("chen.fig3.nfe_grows_with_tolerance", "chen.fig3.nfe_proportional_time",
                      "chen.fig3.backward_half_forward", "chen.fig3.nfe_grows_in_training")
def test_fig3_claims_flip():
    assert all(c.verdict == "reproduced" for c in claims.claim.judge(_res()))
    sweep2 = SWEEP.assign(
        nfe_forward=[32, 20, 14],
        rel_error=[1e-4, 1e-3, 1e-2],
        seconds=[1.0, 3.0, 1.0],
        train_nfe_backward=[40, 50, 70],
    )
    probe2 = PROBE.assign(nfe_forward=[26, 20], nfe_backward=[60, 50])
    assert all(c.verdict == "not reproduced" for c in claims.claim.judge(_res(sweep2, probe2)))


def test_fig3_verdict_rests_on_the_saved_seed_and_notes_the_others():
    """Panel (d) is judged on the saved seed's probe; another seed's is only reported."""
    other = PROBE.assign(seed=1, nfe_forward=[30, 22])
    got = claims.claim.by_id(_res(probe=pd.concat([PROBE, other])), "nfe_grows_in_training")
    assert got.verdict == "reproduced" and "seed 1: 30 → 22" in got.note


def test_fig3_judge_writes_tables_figure_and_metrics(tmp_path):
    res = _res()
    with StageOutputs("chen", "fig3", "T", data_root=tmp_path / "data",
                      figure_root=tmp_path / "fig") as out:
        out.claims(claims.claim.judge(res))
        figures.write(res, out)
    ratio = pd.read_csv(tmp_path / "data/chen/fig3_ratio.csv")
    assert list(ratio["where"]) == ["tolerance sweep"] * 3 + ["training (probe)"] * 2
    assert ratio.ratio.tolist() == pytest.approx([0.5] * 5)
    metrics = json.loads((tmp_path / "data/chen/fig3.metrics.json").read_text())
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
