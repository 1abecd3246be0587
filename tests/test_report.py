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
