"""Aggregating DVC experiments: the JSON of `dvc exp show` → mean ± std over seeds."""

from __future__ import annotations

import math

import pytest

from nnde.errors import NndeError
from nnde.sweeps import experiments_frame, summarise, write_sweeps

from .conftest import run


def exp(name, seed, width, err, metrics_ok=True):
    metrics = ({"data/he/degradation.metrics.json": {"data": {"test_error": err}}}
               if metrics_ok else
               {"data/he/degradation.metrics.json": {"error": {"type": "FileNotFoundError"}}})
    return {"revs": [{"rev": f"{name:0<40}", "name": name, "error": None,
                      "data": {"params": {"params.yaml": {"data": {
                          "profile": "small", "he": {"small": {"seed": seed, "width": width}}}}},
                               "metrics": metrics}}]}


def show(*exps):
    return [{"rev": "workspace", "name": None, "data": {}, "experiments": None},
            {"rev": "a" * 40, "name": "main", "data": {}, "experiments": list(exps)}]


def test_groups_by_everything_but_seeds():
    data = show(exp("e1", 1, 16, 0.10), exp("e2", 2, 16, 0.20), exp("e3", 3, 16, 0.30),
                exp("e4", 1, 32, 0.05), exp("e5", 2, 32, 0.07),
                exp("failed", 3, 32, None, metrics_ok=False))
    df = experiments_frame(data)
    assert list(df.experiment) == ["e1", "e2", "e3", "e4", "e5"]  # the failed one is skipped
    s = summarise(df).set_index("group")
    g16 = s.loc["he.small.width=16"]
    assert g16["n"] == 3 and math.isclose(g16["mean"], 0.2) and math.isclose(g16["std"], 0.1)
    g32 = s.loc["he.small.width=32"]
    assert g32["n"] == 2 and math.isclose(g32["mean"], 0.06)


def test_no_experiments_is_a_clear_error(tmp_path):
    with pytest.raises(NndeError, match="no finished DVC experiments"):
        write_sweeps(tmp_path, show())


@pytest.mark.e2e
def test_real_dvc_experiments_are_aggregated(pipeline_repo, tmp_path):
    import shutil

    repo = tmp_path / "repo"
    shutil.copytree(pipeline_repo, repo, symlinks=True)
    for h in ("0.05", "0.2"):
        run(["dvc", "exp", "run", "-q", "-S", f"haber_ruthotto.example1.h={h}"], repo)
    run(["nnde", "sweeps"], repo)
    import pandas as pd

    summary = pd.read_csv(repo / "data/sweeps/summary.csv")
    groups = set(summary.group)
    assert {"haber_ruthotto.example1.h=0.05", "haber_ruthotto.example1.h=0.2"} <= groups
    m = summary[(summary.metric == "M.K_plus.euler.N10")].set_index("group")["mean"]
    assert m["haber_ruthotto.example1.h=0.2"] > m["haber_ruthotto.example1.h=0.05"] > 1
    run(["nnde", "report"], repo)
    assert "Sweeps over DVC experiments" in (repo / "reports/index.html").read_text()
