"""End to end: a real `dvc repro` in a fresh copy of the repository (tiny profile)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from markupsafe import escape as html_escape  # the escaping jinja2 applies

from .conftest import run

pytestmark = pytest.mark.e2e


def declared_outputs(root: Path) -> list[str]:
    doc = yaml.safe_load((root / "dvc.yaml").read_text())
    paths = []
    for stage in doc["stages"].values():
        for key in ("outs", "metrics", "plots"):
            for item in stage.get(key, []):
                paths.append(next(iter(item)) if isinstance(item, dict) else item)
    return paths


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.imgs: list[dict] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "img":
            self.imgs.append(a)
        for k in ("src", "href"):
            if k in a:
                self.refs.append((tag, k, a[k] or ""))


def test_every_declared_output_exists(pipeline_repo):
    missing = [p for p in declared_outputs(pipeline_repo) if not (pipeline_repo / p).exists()]
    assert not missing, f"declared but not produced: {missing}"


def test_report_is_self_contained_and_embeds_figures(pipeline_repo):
    html = (pipeline_repo / "reports/index.html").read_text()
    parser = _Refs()
    parser.feed(html)
    external = [r for r in parser.refs if not (r[2].startswith("#") or r[2].startswith("data:"))]
    assert not external, f"external references in the report: {external[:5]}"
    assert parser.scripts == 0
    srcs = [i.get("src", "") for i in parser.imgs]
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    # Figure 1 of Haber & Ruthotto is there, with its scorecard rows.
    assert "Example 1 / Figure 1" in html
    assert re.search(r'id="scorecard"', html)
    for path in sorted(pipeline_repo.glob("data/*/*.claims.json")):
        claims = json.loads(path.read_text())
        assert claims["claims"], f"{path} has no claims"
        for c in claims["claims"]:
            assert str(html_escape(c["statement"])) in html, (path.name, c["id"])
            assert c["verdict"] in ("reproduced", "partly", "not reproduced", "inconclusive")
            assert c.get("kind", "experiment") in ("experiment", "check")
    assert "No claims yet" not in html
    # every figure a stage lists is in the report, inlined
    listed = [f for sec in pipeline_repo.glob("data/*/*.section.json")
              for f in json.loads(sec.read_text())["figures"]]
    assert listed and len(parser.imgs) == len(listed)
    for f in listed:
        assert str(html_escape(f["path"])) in html, f["path"]
    # models' convergence records and each stage's wall time are shown
    assert "Training to convergence" in html
    assert "Wall time of each stage" in html


def test_report_has_the_benchmarks_section_and_only_papers_have_claims(pipeline_repo):
    """The `benchmarks` stage feeds the report: ratio tables (hand-written loop and
    torchdiffeq), memory figure and work-precision diagram, labelled with the machine.
    It is a measurement, not a paper: it has no claims file, while every paper's stage
    has a non-empty one."""
    from nnde.report.build import PROJECT_SECTIONS

    html = (pipeline_repo / "reports/index.html").read_text()
    assert 'id="benchmarks-catalog"' in html
    for text in ("ours ÷ hand-written loop", "ours ÷ torchdiffeq", "logical cores",
                 "catalog_memory.png", "catalog_work_precision.png", "catalog_ratios.png"):
        assert str(html_escape(text)) in html, text
    sections = sorted(pipeline_repo.glob("data/*/*.section.json"))
    papers = {s.parent.name for s in sections}
    assert "benchmarks" in papers and papers - set(PROJECT_SECTIONS)
    for sec in sections:
        claims = sec.with_name(sec.name.replace(".section.json", ".claims.json"))
        if sec.parent.name in PROJECT_SECTIONS:
            assert not claims.exists(), claims
        else:
            assert json.loads(claims.read_text())["claims"], claims


def test_mnist1d_is_generated_by_its_own_stage(pipeline_repo):
    meta = json.loads((pipeline_repo / "data/mnist1d/mnist1d.json").read_text())
    assert meta["shapes"]["x_train"] == [4000, 40] and meta["shapes"]["x_test"] == [1000, 40]
    lock = yaml.safe_load((pipeline_repo / "dvc.lock").read_text())
    users = [name for name, st in lock["stages"].items()
             if any(d["path"] == "data/mnist1d/mnist1d.npz" for d in st.get("deps", []))]
    assert {"chen_table1", "he_degradation"} <= set(users), users


def test_second_repro_is_a_no_op(pipeline_repo):
    out = run(["dvc", "repro"], pipeline_repo)
    assert "Running stage" not in out.stdout, out.stdout
    status = run(["dvc", "status"], pipeline_repo)
    assert "changed" not in status.stdout, status.stdout


def test_metrics_and_plots_are_declared(pipeline_repo):
    out = run(["dvc", "metrics", "show", "--json"], pipeline_repo)
    data = json.loads(out.stdout)
    files = next(iter(data.values()))["data"]
    # every metrics file holds verdict counts under the same keys: one short table
    keys = {tuple(sorted(f["data"])) for f in files.values()}
    assert keys == {tuple(sorted(("reproduced", "partly", "not_reproduced", "inconclusive",
                                  "checks_passed", "checks_failed")))}, keys
    assert "reports/verdicts/total.json" in files
    # the headline numbers beside them
    numbers = json.loads((pipeline_repo / "data/haber_ruthotto/example1.numbers.json")
                         .read_text())
    assert "M.K_plus.euler.N10" in numbers
    plots = run(["dvc", "plots", "show", "--json"], pipeline_repo)
    assert "example1_stability.csv" in plots.stdout
