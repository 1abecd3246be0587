"""The report: escaping, missing inputs, scorecard counts."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest

from nnde.errors import DataFileError
from nnde.report.build import render
from nnde.stage import StageOutputs, check


def tiny_png() -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"\x00\xff\x00\x00"
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def write_stage(root: Path, title="<b>T</b>", param="<script>alert(1)</script>"):
    with StageOutputs("belkin", "demo", title, data_root=root / "data",
                      figure_root=root / "reports/figures") as out:
        out.params({"label": param})
        out.text("first <i>para</i>\n\nsecond")
        out.image("fig", tiny_png(), "cap <x>")
        out.claims([check("c1", "peak <at> threshold", paper="x & y", ours="1",
                          rule="a < b", passed=True)])


def test_all_text_is_escaped(tmp_path):
    write_stage(tmp_path)
    html = render(tmp_path)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;T&lt;/b&gt;" in html
    assert "peak &lt;at&gt; threshold" in html
    assert "x &amp; y" in html
    assert "data:image/png;base64," in html
    assert 'class="verdict v-reproduced">reproduced: 1' in html


def test_missing_figure_names_the_path(tmp_path):
    write_stage(tmp_path)
    (tmp_path / "reports/figures/belkin/demo_fig.png").unlink()
    with pytest.raises(DataFileError, match="demo_fig.png"):
        render(tmp_path)


def test_invalid_verdict_is_rejected(tmp_path):
    write_stage(tmp_path)
    p = tmp_path / "data/belkin/demo.claims.json"
    d = json.loads(p.read_text())
    d["claims"][0]["verdict"] = "trust me"
    p.write_text(json.dumps(d))
    with pytest.raises(DataFileError, match="no valid verdict"):
        render(tmp_path)


def test_empty_report_says_so(tmp_path):
    html = render(tmp_path)
    assert "No claims yet" in html


def test_missing_or_empty_claims_of_a_paper_stage_is_an_error(tmp_path):
    write_stage(tmp_path)
    p = tmp_path / "data/belkin/demo.claims.json"
    p.write_text(json.dumps({"paper": "belkin", "stage": "demo", "claims": []}))
    with pytest.raises(DataFileError, match="demo.claims.json is empty"):
        render(tmp_path)
    p.unlink()
    with pytest.raises(DataFileError, match="demo.claims.json is missing"):
        render(tmp_path)


def test_a_stage_that_writes_no_claims_fails_and_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match="wrote no claims"):
        with StageOutputs("belkin", "quiet", "T", data_root=tmp_path / "data",
                          figure_root=tmp_path / "reports/figures") as out:
            out.text("no claims here")
    assert not list(tmp_path.rglob("*.json"))


def test_scorecard_counts_experiments_checks_and_inconclusive_apart(tmp_path):
    with StageOutputs("chen", "mix", "T", data_root=tmp_path / "data",
                      figure_root=tmp_path / "reports/figures") as out:
        out.claims([
            check("e1", "exp ok", paper="p", ours="o", rule="r", passed=True),
            check("e2", "exp below floor", paper="p", ours="o", rule="r", passed=True,
                  competent=False, floor="beats chance by 10 pp"),
            check("c1", "an identity", paper="p", ours="o", rule="r", passed=True,
                  kind="check"),
        ])
    claims = json.loads((tmp_path / "data/chen/mix.claims.json").read_text())["claims"]
    by = {c["id"]: c for c in claims}
    # below the floor the verdict is inconclusive although `passed` was True
    assert by["e2"]["verdict"] == "inconclusive" and "Floor: beats chance" in by["e2"]["rule"]
    assert by["c1"]["kind"] == "check" and by["e1"]["kind"] == "experiment"
    from nnde.report.build import collect_stages, scorecard

    _, counts = scorecard(collect_stages(tmp_path))
    assert counts["experiment"] == {"reproduced": 1, "partly": 0, "not reproduced": 0,
                                    "inconclusive": 1}
    assert counts["check"]["reproduced"] == 1 and sum(counts["check"].values()) == 1
    html = render(tmp_path)
    assert 'class="verdict v-inconclusive">inconclusive: 1' in html
    assert '<span class="kind">check</span> an identity' in html
    # the per-paper tally counts the kinds apart
    assert "experiments: " in html and "checks: " in html


def _stage_with(root, notes, stage="mix", long_ours=""):
    with StageOutputs("chen", stage, "T", data_root=root / "data",
                      figure_root=root / "reports/figures") as out:
        out.claims([check(f"e{i}", f"claim {i}", paper="p", ours=long_ours or f"o{i}",
                          rule=f"rule {i}", passed=True, note=n, subject="ODE-Net",
                          reference="ResNet")
                    for i, n in enumerate(notes)])


def test_scorecard_rows_are_short_link_both_ways_and_hold_the_details(tmp_path):
    long = "0.42 % " + "and a long explanation of the measurement " * 5
    _stage_with(tmp_path, ["Data: MNIST-1D (a long paragraph). Seed 2 failed.",
                           "Data: MNIST-1D (a long paragraph)."], long_ours=long)
    html = render(tmp_path)
    sc = html[html.index('<section id="scorecard">'):html.index('<section id="he"')
              if '<section id="he"' in html else html.index('<section id="chen"')]
    # the row: short "ours" with the full text one click away (a <details>, no script)
    assert "<details><summary>claim 0</summary>" in sc and "<script" not in html
    assert " …</td>" in sc and long.strip() in sc
    assert "<b>Subject:</b> ODE-Net; <b>reference:</b> ResNet" in sc
    # anchors both ways: scorecard row → claim in its section → back
    for i in range(2):
        assert f'href="#claim-chen-mix-e{i}"' in sc and f'id="sc-chen-mix-e{i}"' in sc
        assert f'id="claim-chen-mix-e{i}"' in html and f'href="#sc-chen-mix-e{i}"' in html
    # a note every claim repeats is said once per stage, not per row
    assert html.count("Data: MNIST-1D (a long paragraph).") == 1
    assert "On every claim of this stage:" in html and "Seed 2 failed." in sc
    assert 'id="how-to-read"' in html and "inconclusive" in html


def test_report_shows_a_second_runs_verdicts(tmp_path):
    from nnde.report.build import build

    _stage_with(tmp_path, ["", ""])
    other = tmp_path / "other"
    with StageOutputs("chen", "mix", "T", data_root=other / "data",
                      figure_root=other / "reports/figures") as out:
        out.claims([check("e0", "c", paper="p", ours="o", rule="r", passed=True),
                    check("e1", "c", paper="p", ours="o", rule="r", passed=False)])
    build(tmp_path, compare=str(other))
    html = (tmp_path / "reports/index.html").read_text()
    assert "experiments 1/2 verdicts agree" in html


def test_verdict_counts_are_written_beside_the_report(tmp_path):
    """``nnde report`` writes reports/verdicts/<paper>.json and total.json (DVC metrics),
    the same six keys in each: experiments by verdict, checks passed and failed."""
    from nnde.report.build import VERDICT_PAPERS, build

    write_stage(tmp_path)
    with StageOutputs("chen", "mix", "T", data_root=tmp_path / "data",
                      figure_root=tmp_path / "reports/figures") as out:
        out.claims([
            check("e1", "s", paper="p", ours="o", rule="r", passed=False),
            check("c1", "s", paper="p", ours="o", rule="r", passed=True, kind="check"),
            check("c2", "s", paper="p", ours="o", rule="r", passed=False, kind="check"),
        ])
    build(tmp_path)
    d = tmp_path / "reports/verdicts"
    assert sorted(p.stem for p in d.glob("*.json")) == sorted(("total", *VERDICT_PAPERS))
    total = json.loads((d / "total.json").read_text())
    assert total == {"reproduced": 1, "partly": 0, "not_reproduced": 1, "inconclusive": 0,
                     "checks_passed": 1, "checks_failed": 1}
    assert json.loads((d / "chen.json").read_text())["checks_failed"] == 1
    assert json.loads((d / "belkin.json").read_text())["reproduced"] == 1
    assert json.loads((d / "he.json").read_text()) == dict.fromkeys(total, 0)
    # every file has the same keys: one table in `dvc metrics show`
    assert {tuple(json.loads(p.read_text())) for p in d.glob("*.json")} == {tuple(total)}


def test_bad_claim_kind_is_rejected():
    with pytest.raises(ValueError, match="kind"):
        check("x", "s", paper="p", ours="o", rule="r", passed=True, kind="opinion")


def test_a_benchmark_section_has_no_claims_file_and_renders(tmp_path):
    """Benchmarks are measurements, not claims: such a section (``no_claims``) writes no
    claims file, the report shows it, and the scorecard counts nothing for it."""
    write_stage(tmp_path)
    with StageOutputs("benchmarks", "catalog", "Bench <m>", data_root=tmp_path / "data",
                      figure_root=tmp_path / "reports/figures", no_claims=True) as out:
        out.text("Measured on this machine")
        out.image("ratios", tiny_png(), "ratios")
    assert (tmp_path / "data/benchmarks/catalog.section.json").exists()
    assert not (tmp_path / "data/benchmarks/catalog.claims.json").exists()
    html = render(tmp_path)
    assert 'id="benchmarks-catalog"' in html and "Bench &lt;m&gt;" in html
    assert 'class="verdict v-reproduced">reproduced: 1' in html  # the paper stage's only


def test_a_no_claims_section_may_not_check_claims(tmp_path):
    with pytest.raises(ValueError, match="no_claims"):
        with StageOutputs("benchmarks", "x", "T", data_root=tmp_path / "data",
                          figure_root=tmp_path / "reports/figures", no_claims=True) as out:
            out.claims([check("c", "s", paper="p", ours="o", rule="r", passed=True)])
    assert not list(tmp_path.rglob("*.json"))


def test_only_project_sections_are_exempt_from_claims(tmp_path):
    """A paper's section without a claims file is an error even if it was written as a
    no-claims section; a project section (benchmarks, sweeps) is not."""
    with StageOutputs("belkin", "quiet", "T", data_root=tmp_path / "data",
                      figure_root=tmp_path / "reports/figures", no_claims=True) as out:
        out.text("no claims here")
    with pytest.raises(DataFileError, match="quiet.claims.json is missing"):
        render(tmp_path)
