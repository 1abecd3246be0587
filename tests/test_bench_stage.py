"""The `benchmarks` stage of dvc.yaml at the tiny profile: it writes its section (no claims
file), its CSVs and figures, labelled with the machine; bad params fail early and clearly.
(The end-to-end pipeline test checks it runs under `dvc repro` and feeds the report.)"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from nnde.bench import stage as S

from .conftest import REPO, tool_env

SECTION = "data/benchmarks/catalog.section.json"


def _params(tmp_path, profile="tiny", **override):
    doc = yaml.safe_load((REPO / "params.yaml").read_text())
    doc["profile"] = profile
    doc["benchmarks"][profile].update(override)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


def _run(tmp_path):
    return subprocess.run([sys.executable, "-m", "nnde.bench.stage"], cwd=tmp_path,
                          env=tool_env(), capture_output=True, text=True, timeout=300)


def test_tiny_stage_writes_its_section_and_figures(tmp_path):
    _params(tmp_path)
    res = _run(tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    doc = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["benchmarks"]
    declared = [next(iter(o)) for o in doc["outs"] + doc.get("metrics", [])]
    missing = [p for p in declared if not (tmp_path / p).exists()]
    assert not missing, missing
    assert not list((tmp_path / "data/benchmarks").glob("*.claims.json"))
    sec = json.loads((tmp_path / SECTION).read_text())
    assert [f["path"] for f in sec["figures"]] == [
        f"reports/figures/benchmarks/catalog_{n}.png"
        for n in ("ratios", "memory", "work_precision", "compiled")
    ]
    assert "logical cores" in sec["text"] and "torch thread" in sec["text"]
    assert sec["machine"]["torch_threads"] == 1 and sec["machine"]["torch"]
    captions = [t["caption"] for t in sec["tables"]]
    assert any("hand-written loop" in c for c in captions)
    assert any("torchdiffeq" in c for c in captions)
    import pandas as pd

    loops = pd.read_csv(tmp_path / "data/benchmarks/catalog_loop_ratios.csv")
    assert set(loops.ours) == {"euler", "rk4"} and set(loops.pass_) == {"forward", "backward"}
    assert (loops.max_abs_diff <= 1e-4).all() and (loops.ratio > 0).all()
    peers = pd.read_csv(tmp_path / "data/benchmarks/catalog_peer_ratios.csv")
    assert "torchdiffeq.dopri5" in set(peers.peer)
    mem = pd.read_csv(tmp_path / "data/benchmarks/catalog_memory.csv")
    assert set(mem.gradient) == {"direct", "adjoint"} and set(mem.steps) == {4, 16}
    wp = pd.read_csv(tmp_path / "data/benchmarks/catalog_work_precision.csv")
    assert set(wp.method) == {"euler", "rk4", "dopri5", "torchdiffeq.dopri5"}
    rk4 = wp[wp.method == "rk4"].sort_values("nfe")
    assert rk4.error.iloc[-1] < rk4.error.iloc[0] / 10  # 4x the steps (float32 floor ~1e-6)
    comp = pd.read_csv(tmp_path / "data/benchmarks/catalog_compiled.csv")
    assert comp[["method", "width", "pass_"]].values.tolist() == [["euler", 16, "forward"]]
    assert (comp.max_abs_diff <= 1e-4).all() and (comp.compile_s > 0).all()
    assert comp.loc[0, "peer"] == "torchdiffeq.euler" and comp.vs_loop.notna().all()
    be = comp.break_even_calls.iloc[0]
    saving = comp.eager_ms.iloc[0] - comp.compiled_ms.iloc[0]
    assert be == pytest.approx(comp.compile_s.iloc[0] * 1e3 / saving if saving > 0
                               else float("inf"), rel=1e-6)
    assert "aot_eager" in sec["text"] and "not the compiled path's speed" in sec["text"]
    assert "RK-Net" in sec["text"] and "break-even" in sec["text"].lower()
    print(f"tiny benchmarks stage: {sec['wall_seconds']} s")


@pytest.mark.parametrize(
    "override, message",
    [
        ({"methods": ["dopri5"]}, "benchmarks.methods[0]"),
        ({"loop_problems": ["ode_block_direct"]}, "allowed: dense, antisymmetric"),
        ({"rounds": 0}, "benchmarks.rounds"),
        ({"size": "huge"}, "allowed: small, medium, large"),
    ],
)
def test_bad_params_fail_early_and_clearly(tmp_path, override, message):
    _params(tmp_path, **override)
    with pytest.raises(Exception, match=r"params: ") as exc:
        S.plan_from_params(_load(tmp_path))
    assert message in str(exc.value)


def _load(tmp_path):
    from nnde.stage import load_params

    return load_params("benchmarks", tmp_path / "params.yaml")


@pytest.mark.parametrize("profile", ["tiny", "small", "paper"])
def test_every_profile_reads(tmp_path, profile):
    _params(tmp_path, profile)
    plan = S.plan_from_params(_load(tmp_path))
    assert plan.loop_methods and plan.threads == 1
