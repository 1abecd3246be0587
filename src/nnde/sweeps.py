"""Aggregate DVC experiments (seed and width sweeps) into a report section.

Sweeps run on DVC's experiment queue, not on a scheduler of ours::

    dvc exp run --queue -S he.degradation.small.seeds='[1]'
    dvc exp run --queue -S he.degradation.small.seeds='[2]'
    dvc queue start --jobs 2        # then `dvc queue status` until done
    nnde sweeps                      # aggregate: mean ± std over seeds
    nnde report

``nnde sweeps`` reads ``dvc exp show --json``, flattens each finished experiment's params,
its metrics (verdict counts per stage) and the headline numbers its stages committed
(``data/<paper>/<stage>.numbers.json``), groups experiments whose parameters agree
except for seeds, and writes
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


def _verdict_prefix(path: str) -> str:
    """``data/he/degradation.metrics.json`` → ``verdicts.he.degradation``;
    ``reports/verdicts/total.json`` → ``verdicts.total``."""
    p = Path(path)
    if p.name.endswith(".metrics.json"):
        return f"verdicts.{p.parent.name}.{p.name[: -len('.metrics.json')]}"
    return f"verdicts.{p.stem}"


def _metrics_data(block: dict | None) -> dict:
    """The DVC metrics of an experiment: every file holds verdict counts under the same
    keys, so each is prefixed by what it counts (``verdicts.he.degradation.reproduced``)."""
    flat = {}
    for path, payload in (block or {}).items():
        flat.update(_flatten((payload or {}).get("data") or {}, _verdict_prefix(path)))
    return flat


def _numbers_at(root: Path, rev: str) -> dict:
    """The stages' headline numbers (``data/<paper>/<stage>.numbers.json``, git-tracked
    like the claims) as committed in the experiment ``rev``; {} when ``rev`` is not a
    commit of ``root``."""
    def git(*args):
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True,
                              text=True, timeout=60)

    try:
        listing = git("ls-tree", "-r", "--name-only", rev, "data")
    except (OSError, subprocess.SubprocessError):
        return {}
    if listing.returncode != 0:
        return {}
    out = {}
    for name in listing.stdout.split("\n"):
        if name.endswith(".numbers.json") and name.count("/") == 2:
            shown = git("show", f"{rev}:{name}")
            if shown.returncode == 0:
                try:
                    out.update(_flatten(json.loads(shown.stdout)))
                except json.JSONDecodeError:
                    continue
    return out


def _walk_experiments(entries: Iterable[dict], root: Path | None = None):
    for entry in entries or []:
        for exp in entry.get("experiments") or []:
            for rev in exp.get("revs") or []:
                data = rev.get("data") or {}
                metrics = _metrics_data(data.get("metrics"))
                if rev.get("error") or not metrics:
                    continue  # queued, running or failed: not a finished experiment
                if root is not None and rev.get("rev"):
                    metrics.update(_numbers_at(root, rev["rev"]))
                yield {
                    "experiment": rev.get("name") or data.get("name") or rev.get("rev", "")[:7],
                    "rev": (rev.get("rev") or "")[:7],
                    "baseline": (entry.get("rev") or "")[:7],
                    "params": _file_data(data.get("params")),
                    "metrics": metrics,
                }


def experiments_frame(exp_show: list[dict], root: str | Path | None = None) -> pd.DataFrame:
    """One row per finished experiment: ``experiment``, ``param:<key>``, ``metric:<key>``
    (its verdict counts, and with ``root`` the stages' headline numbers it committed)."""
    rows = []
    for e in _walk_experiments(exp_show, None if root is None else Path(root)):
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
    exps = experiments_frame(exp_show if exp_show is not None else read_exp_show(root), root)
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
