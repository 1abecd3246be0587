"""Chen et al. (2018), memory and adjoint gradients (``reproductions/chen/memory``): the
measured memory against solver steps, the saved-tensor meter, the claims on synthetic
results, the run and judge steps at a toy size, and parameters."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from nnde.errors import ParamError
from nnde.models.chen import SavedTensorMeter
from nnde.results import Results, ResultsWriter
from nnde.stage import StageOutputs
from reproductions.chen.memory import claims, experiment, figures
from tests.verdict_cases import Case, verdict_test

ROOT = Path(__file__).resolve().parents[1]
IDS = ("adjoint_memory_flat", "direct_memory_linear", "adjoint_gradient_approximate")


pytestmark = pytest.mark.usefixtures("one_thread")


def _params():
    doc = yaml.safe_load((ROOT / "params.yaml").read_text())["chen"]["memory"]
    return {**doc["common"], **doc["small"]}


def _res(mem: pd.DataFrame, err: pd.DataFrame, flat=0.1, linear=0.8) -> Results:
    return Results(frames={"steps": mem, "gradient_error": err},
                   records={"config": {"flat_slope": flat, "linear_slope": linear}})


def _v(res):
    return {c.id: c.verdict for c in claims.claim.judge(res)}


# --------------------------------------------------------------------------- measurement
def test_memory_grows_with_steps_for_direct_not_adjoint():
    mem = experiment.memory_vs_steps([2, 8], dim=2, hidden=4, batch=4, seed=0)
    d = mem[mem.gradient == "direct"].set_index("steps").peak_saved_MB
    a = mem[mem.gradient == "adjoint"].set_index("steps").peak_saved_MB
    assert d[8] > 3 * d[2]
    assert a[8] == a[2]
    s = claims.slopes(mem)
    assert s["direct"] > 0.9 and abs(s["adjoint"]) < 1e-6


def test_meter_releases_after_backward():
    x = torch.randn(16, 4, requires_grad=True)
    with SavedTensorMeter() as m:
        y = torch.tanh(x @ torch.randn(4, 4)).exp().sum()
        peak_before = m.current
        y.backward()
    assert peak_before > 0 and m.current == 0 and m.peak >= peak_before


def test_memory_run_and_judge_at_a_toy_size(tmp_path):
    """Both steps on a toy block: the results read back exactly, the judge writes
    today's tables, figure and metrics."""
    p = {**_params(), "steps": [2, 4], "tols": [1e-2, 1e-4], "dim": 2, "hidden": 4,
         "batch": 4, "threads": 1}
    cfg = experiment.read_config(p)
    with ResultsWriter("chen", "memory", root=tmp_path / "data") as out:
        experiment.run(cfg, out)
    res = Results.load("chen", "memory", root=tmp_path / "data")
    mem = experiment.memory_vs_steps([2, 4], 2, 4, 4, 0)
    assert np.array_equal(res.frame("steps").peak_saved_MB, mem.peak_saved_MB)
    assert [c.id for c in claims.claim.judge(res)] == list(IDS)
    with StageOutputs("chen", "memory", "T", data_root=tmp_path / "data",
                      figure_root=tmp_path / "fig") as so:
        so.claims(claims.claim.judge(res))
        figures.write(res, so)
    for name in ("memory_steps.csv", "memory_gradient_error.csv", "memory.numbers.json",
                 "memory.metrics.json"):
        assert (tmp_path / "data/chen" / name).exists(), name
    numbers = json.loads((tmp_path / "data/chen/memory.numbers.json").read_text())
    assert set(numbers) == {"slope.direct", "slope.adjoint", "adjoint_rel_error.tol0.01",
                            "adjoint_rel_error.tol0.0001"}
    # the DVC metrics: the verdict counts, the same keys as every stage's
    metrics = json.loads((tmp_path / "data/chen/memory.metrics.json").read_text())
    assert metrics["checks_passed"] + metrics["checks_failed"] == len(claims.claim.ids)
    assert (tmp_path / "fig/chen/memory_scaling.png").exists()


# --------------------------------------------------------------------------- claims
def test_memory_declares_its_claims():
    assert claims.claim.ids == IDS


def _mem(adj_slope, direct_slope):
    steps = np.array([8, 32, 128, 512])
    rows = [{"gradient": g, "steps": int(s), "peak_saved_MB": float(s) ** k}
            for g, k in (("adjoint", adj_slope), ("direct", direct_slope)) for s in steps]
    return pd.DataFrame(rows)


def _err(errors):
    tols = [1e-2, 1e-3, 1e-4, 1e-5]
    return pd.DataFrame({"gradient": "adjoint", "tol": tols, "rel_error": errors})


GOOD_ERR = [1e-1, 1e-2, 1e-3, 1e-4]


def test_memory_claims_are_checks():
    """Saved-tensor counts of a construction and a property of the solver on an untrained
    field hold for any weights: checks, not experiments."""
    got = claims.claim.judge(_res(_mem(0.0, 1.0), _err(GOOD_ERR)))
    assert {c.id: c.kind for c in got} == dict.fromkeys(IDS, "check")


CASES = [
    Case("adjoint_memory_flat", "reproduced", lambda: _res(_mem(0.0, 1.0), _err(GOOD_ERR)),
         "flat adjoint memory"),
    Case("adjoint_memory_flat", "not reproduced",
         lambda: _res(_mem(1.0, 0.0), _err(GOOD_ERR)), "adjoint memory linear in the steps"),
    Case("direct_memory_linear", "reproduced", lambda: _res(_mem(0.0, 1.0), _err(GOOD_ERR)),
         "direct memory linear"),
    Case("direct_memory_linear", "not reproduced",
         lambda: _res(_mem(1.0, 0.0), _err(GOOD_ERR)), "direct memory flat"),
    Case("direct_memory_linear", "not reproduced",
         lambda: _res(_mem(0.0, 0.5), _err(GOOD_ERR)), "direct memory grows as √steps"),
    Case("adjoint_gradient_approximate", "reproduced",
         lambda: _res(_mem(0.0, 1.0), _err(GOOD_ERR)), "error falls with the tolerance"),
    Case("adjoint_gradient_approximate", "not reproduced",
         lambda: _res(_mem(0.0, 1.0), _err([1e-3] * 4)), "error ignores the tolerance"),
    Case("adjoint_gradient_approximate", "partly",
         lambda: _res(_mem(0.0, 1.0), _err([1e-1, 1e-2, 1e-3, 0.0])),
         "an exact gradient at the tightest tolerance: not approximate"),
]
test_verdict_cases = verdict_test(claims.claim, CASES)


# --------------------------------------------------------------------------- params
def test_bad_params_name_the_key():
    p = _params()
    experiment.read_config(p)  # the shipped small profile is valid
    p["steps"] = [8, 0]
    with pytest.raises(ParamError) as exc:
        experiment.read_config(p)
    assert exc.value.key.startswith("chen.memory.steps")
