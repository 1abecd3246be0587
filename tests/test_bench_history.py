"""`nnde bench history`: no asv results yet is not an error (one line, exit 0, nothing
written, the report still renders); bad input is one line and exit 2; results are drawn
into a section the report shows."""

from __future__ import annotations

import pandas as pd
import pytest

from nnde.bench import history as H
from nnde.cli import main
from nnde.report.build import render


def _history(tmp_path, *args):
    return main(["bench", "history", "--root", str(tmp_path), *args])


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


@pytest.mark.parametrize("layout", ["no results dir", "empty results dir", "machine only"])
def test_no_history_yet_is_one_line_and_exit_0(tmp_path, capsys, layout):
    if layout != "no results dir":
        (tmp_path / ".asv/results").mkdir(parents=True)
    if layout == "machine only":  # `asv machine` ran, no benchmark did
        (tmp_path / ".asv/results/nnde-local").mkdir()
        (tmp_path / ".asv/results/nnde-local/machine.json").write_text(
            '{"machine": "nnde-local", "version": 1}')
    assert _history(tmp_path) == 0
    out = capsys.readouterr()
    line = _one_line(out.out)
    assert line.startswith("no benchmark history yet") and "asv run" in line
    assert out.err == ""
    assert not (tmp_path / "data").exists()  # nothing written, nothing half-written
    assert "No claims yet" in render(tmp_path)  # the report is still valid


@pytest.mark.parametrize(
    "args, message",
    [
        (["--results", "no/such/dir"], "--results"),
        (["--last", "0"], "--last must be an integer >= 1"),
        (["--last", "ten"], "--last must be an integer >= 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    assert _history(tmp_path, *args) == 2
    out = capsys.readouterr()
    assert message in _one_line(out.err) and out.out == ""


def test_bad_root_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["bench", "history", "--root", str(tmp_path / "missing")]) == 2
    assert "--root" in _one_line(capsys.readouterr().err)


def test_a_broken_result_file_is_skipped_and_is_no_history(tmp_path, capsys):
    """asv's reader skips a result file it cannot parse (with its own warning): with no
    other results there is still no history, which is not an error."""
    d = tmp_path / ".asv/results/nnde-local"
    d.mkdir(parents=True)
    (d / "machine.json").write_text('{"machine": "nnde-local", "version": 1}')
    (d / "0123abcd-virtualenv-py3.12.json").write_text("{not json")
    assert _history(tmp_path) == 0
    assert _one_line(capsys.readouterr().out).startswith("no benchmark history yet")


def test_history_is_drawn_and_shown_in_the_report(tmp_path, capsys, monkeypatch):
    rows = [
        {"machine": "m", "commit": c, "date": d, "benchmark": b, "params": p, "value": v}
        for c, d, f in (("aaaa1111", 1, 1.0), ("bbbb2222", 2, 0.8))
        for b in ("bench_integrators.Solve.time_run", "bench_peers.LoopRatio.track_ratio_vs_loop")
        for p, v in (("euler, dense", 2e-4 * f), ("rk4, dense", 6e-4 * f))
    ]
    monkeypatch.setattr(H, "load", lambda results_dir: pd.DataFrame(rows, columns=H.COLUMNS))
    assert _history(tmp_path) == 0
    assert "history.section.json" in capsys.readouterr().out
    assert not list((tmp_path / "data/benchmarks").glob("*.claims.json"))
    html = render(tmp_path)
    assert "Benchmarks: history over commits" in html
    assert "bench_peers.LoopRatio.track_ratio_vs_loop" in html


def test_summarise_of_no_results_is_empty():
    assert H.summarise(H.load("/nonexistent")).empty
    assert H.summarise(pd.DataFrame(columns=H.COLUMNS)).empty
