"""Aggregate DVC experiments (seed and width sweeps) into a report section.

Sweeps run on DVC's experiment queue, not on a scheduler of ours::

    dvc exp run --queue -S he.degradation.small.seeds='[1]'
    dvc exp run --queue -S he.degradation.small.seeds='[2]'
    dvc queue start --jobs 2        # then `dvc queue status` until done
    nnde sweeps                      # aggregate: mean ± std over seeds
    nnde report

``nnde sweeps`` reads ``dvc exp show --json``, flattens each finished experiment's params
and metrics, groups experiments whose parameters agree except for seeds, and writes
``data/sweeps/experiments.csv`` (one row per experiment) and
``data/sweeps/summary.csv`` (mean, std and count per group and metric), plus a section
that the report shows.
"""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from .errors import NndeError

SEED_WORDS = ("seed", "seeds")


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in (d or {}).items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(_flatten(v, key))
        else:
            out[key] = v
    return out


def _file_data(block: dict | None) -> dict:
    """``{"params.yaml": {"data": {...}}}`` → one flat dict (file names dropped for params)."""
    flat = {}
    for _file, payload in (block or {}).items():
        flat.update(_flatten((payload or {}).get("data") or {}))
    return flat


def _walk_experiments(entries: Iterable[dict]):
    for entry in entries or []:
        for exp in entry.get("experiments") or []:
            for rev in exp.get("revs") or []:
                data = rev.get("data") or {}
                metrics = _file_data(data.get("metrics"))
                if rev.get("error") or not metrics:
                    continue  # queued, running or failed: not a finished experiment
                yield {
                    "experiment": rev.get("name") or data.get("name") or rev.get("rev", "")[:7],
                    "rev": (rev.get("rev") or "")[:7],
                    "baseline": (entry.get("rev") or "")[:7],
                    "params": _file_data(data.get("params")),
                    "metrics": metrics,
                }


def experiments_frame(exp_show: list[dict]) -> pd.DataFrame:
    """One row per finished experiment: ``experiment``, ``param:<key>``, ``metric:<key>``."""
    rows = []
    for e in _walk_experiments(exp_show):
        row = {"experiment": e["experiment"], "rev": e["rev"], "baseline": e["baseline"]}
        row.update({f"param:{k}": json.dumps(v) if isinstance(v, list) else v
                    for k, v in e["params"].items()})
        row.update({f"metric:{k}": v for k, v in e["metrics"].items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool)})
        rows.append(row)
    return pd.DataFrame(rows)


def _is_seed(col: str) -> bool:
    return col.startswith("param:") and col.rsplit(".", 1)[-1] in SEED_WORDS


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """Mean, std (ddof=1) and count of every metric over experiments that differ only
    in seed parameters. Long format: group, metric, mean, std, n."""
    if df.empty:
        return pd.DataFrame(columns=["group", "metric", "mean", "std", "n"])
    params = [c for c in df.columns if c.startswith("param:") and not _is_seed(c)]
    varying = [c for c in params if df[c].astype(str).nunique() > 1]
    metrics = [c for c in df.columns if c.startswith("metric:")]
    keyed = df.assign(group=df[varying].astype(str).agg(
        lambda r: ", ".join(f"{c[6:]}={v}" for c, v in r.items()), axis=1)
        if varying else "all")
    out = []
    for group, sub in keyed.groupby("group", sort=True):
        for m in metrics:
            vals = sub[m].dropna().astype(float)
            if vals.empty:
                continue
            std = float(vals.std(ddof=1)) if len(vals) > 1 else math.nan
            out.append({"group": group, "metric": m[7:], "mean": float(vals.mean()),
                        "std": std, "n": int(len(vals))})
    return pd.DataFrame(out)


def read_exp_show(root: str | Path = ".") -> list[dict]:
    try:
        out = subprocess.run(["dvc", "exp", "show", "--json"], cwd=root, capture_output=True,
                             text=True, timeout=300)
    except (OSError, subprocess.SubprocessError) as exc:
        raise NndeError(f"cannot run `dvc exp show --json`: {exc}") from exc
    if out.returncode != 0:
        raise NndeError(f"`dvc exp show --json` failed: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout or "[]")


def write_sweeps(root: str | Path = ".", exp_show: list[dict] | None = None) -> pd.DataFrame:
    """Aggregate the finished experiments and write ``data/sweeps/*`` (atomically)."""
    from .stage import StageOutputs

    root = Path(root)
    exps = experiments_frame(exp_show if exp_show is not None else read_exp_show(root))
    if exps.empty:
        raise NndeError("no finished DVC experiments found: queue some with "
                        "`dvc exp run --queue -S ...` and run `dvc queue start`")
    summary = summarise(exps)
    with StageOutputs("sweeps", "experiments", "Sweeps over DVC experiments",
                      data_root=root / "data", figure_root=root / "reports/figures",
                      no_claims=True) as out:
        out.text(
            f"{len(exps)} finished DVC experiments, grouped by the parameters that vary "
            "between them except seeds; each metric as mean ± std (ddof = 1) over the "
            "experiments of a group (n of them). Re-make with `nnde sweeps`."
        )
        out.csv("experiments", exps)
        out.csv("summary", summary, show=True, caption="Mean ± std over seeds", max_rows=60)
    return summary
