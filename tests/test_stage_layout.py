"""The stage layout's library parts: claims collected from functions, results written all
or nothing and read back exactly, the run and judge steps of a stage package."""

from __future__ import annotations

import json
import math
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from nnde.claims import ClaimSet, check
from nnde.results import Results, ResultsWriter


def _claim(cid: str, passed: bool = True):
    return check(cid, "s", paper="p", ours="o", rule="r", passed=passed)


def test_claimset_lists_ids_from_functions_in_order():
    claim = ClaimSet()

    @claim
    def first(res):
        return _claim("first", res["ok"])

    @claim(ids=("many_a", "many_b"))
    def many(res):
        return [_claim("many_a"), _claim("many_b", False)]

    @claim
    def not_here(res):
        return None  # not applicable to this profile

    assert claim.ids == ("first", "many_a", "many_b", "not_here")
    got = claim.judge({"ok": False})
    assert [c.id for c in got] == ["first", "many_a", "many_b"]
    assert [c.verdict for c in got] == ["not reproduced", "reproduced", "not reproduced"]
    assert claim.by_id({"ok": True}, "first").verdict == "reproduced"


def test_claimset_rejects_an_undeclared_id_and_a_duplicate_function():
    claim = ClaimSet()

    @claim
    def named(res):
        return _claim("other_id")

    with pytest.raises(ValueError, match="other_id"):
        claim.judge(None)
    with pytest.raises(ValueError, match="defined twice"):
        claim(named)


def test_results_round_trip_exactly(tmp_path):
    x = np.random.default_rng(0).standard_normal(50)
    df = pd.DataFrame({"x": x, "x32": x.astype(np.float32), "name": ["a"] * 50})
    with ResultsWriter("p", "s", root=tmp_path) as out:
        out.frame("table", df)
        out.json("meta", {"n": 3, "v": np.float64(0.1)})
        out.arrays("w", k=np.arange(6.0).reshape(2, 3))
    res = Results.load("p", "s", root=tmp_path)
    back = res.frame("table")
    assert np.array_equal(back["x"].to_numpy(), x)  # 17 digits: every float64 bit
    assert np.array_equal(back["x32"].to_numpy(np.float32), x.astype(np.float32))
    assert res.record("meta") == {"n": 3, "v": 0.1}
    assert np.array_equal(res.arrays("w")["k"], np.arange(6.0).reshape(2, 3))
    with pytest.raises(KeyError, match="has no table 'missing'"):
        res.frame("missing")


def test_results_are_written_all_or_nothing(tmp_path):
    with ResultsWriter("p", "s", root=tmp_path) as out:
        out.json("meta", {"run": 1})
    with pytest.raises(RuntimeError), ResultsWriter("p", "s", root=tmp_path) as out:
        out.json("meta", {"run": 2})
        raise RuntimeError("diverged")
    assert Results.load("p", "s", root=tmp_path).record("meta") == {"run": 1}
    assert [f.name for f in (tmp_path / "p").iterdir()] == ["s"]  # no temporaries left
    with pytest.raises(TypeError, match="pickle"), ResultsWriter("p", "s", root=tmp_path) as out:
        out.arrays("bad", a=np.array([{}, 1], dtype=object))


def test_missing_results_name_the_step_to_run(tmp_path):
    from nnde.errors import NndeError

    with pytest.raises(NndeError, match="dvc repro p_s"):
        Results.load("p", "s", root=tmp_path)


def test_stage_package_runs_and_judges(tmp_path, monkeypatch):
    """A toy stage package through both steps, as dvc.yaml runs them."""
    pkg = tmp_path / "toystage"
    pkg.mkdir()
    files = {
        "__init__.py": 'PAPER, STAGE, TITLE = "toy", "stage", "Toy"\n',
        "experiment.py": """
            from dataclasses import dataclass
            import pandas as pd
            from nnde.stage import get_number

            @dataclass(frozen=True)
            class Config:
                n: int

            def read_config(p):
                return Config(get_number(p, "n", "toy.stage", kind=int, ge=1))

            def run(cfg, out):
                out.frame("values", pd.DataFrame({"i": range(cfg.n)}))
            """,
        "claims.py": """
            from nnde.claims import ClaimSet, check
            claim = ClaimSet()

            @claim
            def has_values(res):
                n = len(res.frame("values"))
                return check("has_values", "s", paper="3", ours=str(n), rule="n = 3",
                             passed=n == 3)
            """,
        "figures.py": """
            def write(res, out):
                out.text("toy")
                out.metrics({"n": len(res.frame("values"))})
            """,
        "__main__.py": "from nnde.stage import stage_main\nstage_main(__package__)\n",
    }
    for name, text in files.items():
        (pkg / name).write_text(textwrap.dedent(text))
    (tmp_path / "params.yaml").write_text("profile: small\ntoy:\n  stage: {n: 3}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    from nnde.stage import stage_main

    stage_main("toystage", ["run"])
    assert Results.load("toy", "stage").run_seconds["cpu"] >= 0
    stage_main("toystage", ["judge"])
    claims = json.loads((tmp_path / "data/toy/stage.claims.json").read_text())
    assert [c["verdict"] for c in claims["claims"]] == ["reproduced"]
    section = json.loads((tmp_path / "data/toy/stage.section.json").read_text())
    assert section["params"]["n"] == 3 and math.isfinite(section["wall_seconds"])
    # headline numbers apart from the DVC metrics, which count the verdicts
    assert json.loads((tmp_path / "data/toy/stage.numbers.json").read_text()) == {"n": 3}
    assert json.loads((tmp_path / "data/toy/stage.metrics.json").read_text()) == {
        "reproduced": 1, "partly": 0, "not_reproduced": 0, "inconclusive": 0,
        "checks_passed": 0, "checks_failed": 0}
    (tmp_path / "params.yaml").write_text("profile: small\ntoy:\n  stage: {n: 0}\n")
    with pytest.raises(SystemExit):
        stage_main("toystage", ["run"])
    assert len(Results.load("toy", "stage").frame("values")) == 3  # previous results kept
    for mod in [m for m in sys.modules if m.startswith("toystage")]:
        del sys.modules[mod]


#: judges that rebuild trained networks from their saved weights, and so need torch
JUDGES_WITH_TORCH = {"haber_ruthotto.architectures"}


def test_judges_start_without_torch():
    """A judge reads saved results only: its claims, figures and report section import no
    torch (whose import costs about a second in every one of the pipeline's judges), except
    those that rebuild networks. Run in a fresh interpreter."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    packages = sorted(f"{p.parent.parent.name}.{p.parent.name}"
                      for p in (root / "reproductions").glob("*/*/claims.py"))
    assert len(packages) >= 10
    code = textwrap.dedent("""
        import importlib, sys
        current = [None]
        class Watch:  # names the judge whose modules first import torch
            def find_spec(self, name, path=None, target=None):
                if name == "torch":
                    print(current[0])
                    sys.exit(0)
        sys.meta_path.insert(0, Watch())
        import nnde.stage  # StageOutputs, which writes the section
        import nnde.distributed
        nnde.distributed.is_main()  # the rank check of StageOutputs on leaving
        for pkg in sys.argv[1:]:
            current[0] = pkg
            for mod in ("claims", "figures"):
                importlib.import_module(f"reproductions.{pkg}.{mod}")
    """)
    light = [p for p in packages if p not in JUDGES_WITH_TORCH]
    out = subprocess.run([sys.executable, "-c", code, *light], cwd=root, capture_output=True,
                         text=True, check=True)
    assert out.stdout.split() == []
