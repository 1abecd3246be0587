"""Benchmark history from asv's result files, drawn for the offline report.

asv's own dashboard loads scripts from a CDN; the project's report is one offline file,
so this reads ``.asv/results/<machine>/<commit>-*.json`` with asv's reader and draws one
line per benchmark over the most recent commits (the geometric mean over the
benchmark's parameter combinations, divided by its value at the newest commit).
Runs no benchmark. With no results (no ``.asv/results``, or result files without a
usable value) there is no history yet: ``write_history_section`` writes nothing,
returns None, and ``nnde bench history`` prints one line saying how to record some
(``no_history_line``) and exits 0 — the report is left as it was, valid.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd

from nnde.bench.measure import in_dir
from nnde.errors import DataFileError

RESULTS = ".asv/results"
COLUMNS = ["machine", "commit", "date", "benchmark", "params", "value"]
HOW = (
    "Record history with asv (from the repository root): `asv machine --yes --machine "
    "nnde-local`, then `asv run --machine nnde-local HEAD~10..HEAD` (each commit in its own "
    "virtualenv), or for the checked-out commit in the current environment `asv run "
    "--python=same --set-commit-hash $(git rev-parse HEAD) --machine nnde-local` (without "
    "--set-commit-hash asv keeps no results); then `nnde bench history && nnde report`."
)


def no_history_line(results_dir=RESULTS) -> str:
    """The one line ``nnde bench history`` prints when there is nothing to draw."""
    return (
        f"no benchmark history yet: no usable asv results under {results_dir}; record "
        "some with `asv machine --yes --machine nnde-local && asv run --python=same "
        "--set-commit-hash $(git rev-parse HEAD) --machine nnde-local` (see README, "
        "Benchmarks), then run `nnde bench history` again"
    )


def load(results_dir=RESULTS) -> pd.DataFrame:
    """One row per (machine, commit, benchmark, parameter combination); empty (with
    these columns) when there are no results. A result file asv cannot read is a
    ``DataFileError`` naming the directory."""
    root = Path(results_dir)
    if not root.is_dir():
        return pd.DataFrame(columns=COLUMNS)
    try:
        rows = _rows(root)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataFileError(
            f"{root}: cannot read asv's result files ({exc.__class__.__name__}: {exc}); "
            "remove the broken file or re-record with `asv run`"
        ) from exc
    return pd.DataFrame(rows, columns=COLUMNS)


def _rows(root: Path) -> list[dict]:
    from asv.results import iter_results_for_machine

    rows = []
    for mdir in sorted(p for p in root.iterdir() if p.is_dir()):
        for res in iter_results_for_machine(str(root), mdir.name):
            for key in res.get_all_result_keys():
                params = res.get_result_params(key)
                values = res.get_result_value(key, params)
                combos = _combos(params)
                for combo, v in zip(combos, values, strict=False):
                    if v is None or (isinstance(v, float) and math.isnan(v)):
                        continue
                    rows.append(
                        {
                            "machine": mdir.name,
                            "commit": res.commit_hash[:8],
                            "date": res.date,
                            "benchmark": key,
                            "params": combo,
                            "value": float(v),
                        }
                    )
    return rows


def _combos(params):
    if not params:
        return [""]
    import itertools

    return [", ".join(c) for c in itertools.product(*params)]


def summarise(df: pd.DataFrame, last=10) -> pd.DataFrame:
    """Per machine, benchmark and commit: geometric mean over parameter combinations
    present at every commit drawn, relative to the newest commit."""
    out = []
    if df.empty:
        return pd.DataFrame(columns=["machine", "benchmark", "commit", "date", "value",
                                     "relative"])
    for (mach, bench), d in df.groupby(["machine", "benchmark"]):
        commits = d.groupby("commit")["date"].max().sort_values().index[-last:]
        d = d[d.commit.isin(commits)]
        common = set.intersection(*(set(g.params) for _, g in d.groupby("commit")))
        d = d[d.params.isin(common) & (d.value > 0)]
        if d.empty:
            continue
        g = d.groupby("commit").agg(date=("date", "max"), value=("value", _geomean))
        g = g.sort_values("date")
        g["relative"] = g["value"] / g["value"].iloc[-1]
        g["machine"], g["benchmark"] = mach, bench
        out.append(g.reset_index())
    cols = ["machine", "benchmark", "commit", "date", "value", "relative"]
    return pd.concat(out)[cols] if out else pd.DataFrame(columns=cols)


def _geomean(s):
    return float(math.exp(sum(math.log(v) for v in s) / len(s)))


def write_history_section(root=".", results_dir=RESULTS, last=10):
    """Write ``data/benchmarks/history.section.json`` and its figure; return its path,
    or None (writing nothing) when there is no usable history yet."""
    from nnde.stage import StageOutputs

    with in_dir(root):
        hist = summarise(load(results_dir), last)
        if hist.empty:
            return None
        with StageOutputs("benchmarks", "history", "Benchmarks: history over commits",
                          no_claims=True) as out:
            import matplotlib.pyplot as plt

            fig, ax = plt.subplots(figsize=(8, 4.5))
            for (_mach, bench), d in hist.groupby(["machine", "benchmark"]):
                ax.plot(range(len(d)), d["relative"], "o-", ms=3, label=bench)
            ax.set_xlabel(f"commit (oldest → newest, last {last})")
            ax.set_ylabel("value ÷ value at newest commit")
            ax.legend(fontsize=6, ncol=2)
            out.figure(
                "history",
                fig,
                "One line per asv benchmark (geometric mean over "
                "its parameters), relative to the newest commit.",
            )
            out.text(f"From asv's result files ({results_dir}). {HOW}")
            out.csv("history", hist, show=True, caption="history", max_rows=40)
    return os.path.join(root, "data/benchmarks/history.section.json")
