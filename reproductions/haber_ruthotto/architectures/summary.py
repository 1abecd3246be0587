"""Tables the claims and figures share, computed from the saved results: the sweep at
the depths every architecture ran, medians per (architecture, depth), gradient ratios,
the majority-class floor and the seed noise of a gap."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nnde.results import Results

from .model import STABLE

#: Columns the run computes in float32 (gradient norms of the float32 networks). The CSV
#: holds their exact values; they are read back as float32 so that ratios and medians
#: are computed exactly as on the in-memory tables.
FLOAT32 = ("grad_first_init", "grad_last_init", "grad_first", "grad_last")


def table(res: Results, name: str) -> pd.DataFrame | None:
    """Result table ``name`` (``cells``, ``levels``, ``refine``) with its float32 columns
    restored; None if the run wrote none (no multi-level architectures)."""
    if not res.has(name):
        return None
    df = res.frame(name)
    return df.astype({c: "float32" for c in FLOAT32 if c in df})


@dataclass(frozen=True)
class Sweep:
    """The depth sweep as the claims compare it."""

    df: pd.DataFrame  # rows at the depths every architecture ran
    extra: pd.DataFrame  # the deeper cells the multi-level comparison adds for some
    depths: list[int]
    summary: pd.DataFrame  # :func:`summary` of ``df``
    archs: set[str]
    stable: list[str]  # the stable architectures that ran, in STABLE's order

    def series(self, arch: str, col: str) -> list[tuple[int, float]]:
        """[(N, summary value)] of one architecture, by depth."""
        t = self.summary[self.summary.arch == arch].sort_values("depth")
        return list(zip(t.depth, t[col], strict=True))


#: what the convergence table's loss column holds
CONV_LOSS = "final training objective (Σ over members)"


def convergence_rows(df: pd.DataFrame, archs=None) -> list[dict]:
    """One convergence row per (architecture, depth) cell of ``df`` (of ``archs``, default
    all): its members train together on one objective, so the plateau criterion is the
    cell's. Empty for results without the training record."""
    if df is None or "steps_run" not in df:
        return []
    rows = []
    for (a, n), t in df.groupby(["arch", "depth"], sort=False):
        if archs is not None and a not in archs:
            continue
        conv = t.converged.iloc[0]
        rows.append({"model": f"{a} N={n} ({len(t)} members)",
                     "final_train_loss": float(t.final_objective.iloc[0]),
                     "final_train_error": float(1 - t.train_acc.mean()),
                     "epochs_run": int(t.steps_run.iloc[0]),
                     "converged": None if conv is None or conv != conv else bool(conv),
                     "stop_reason": str(t.stop_reason.iloc[0])})
    return rows


def sweep(res: Results) -> Sweep:
    full = table(res, "cells")
    archs = set(full.arch)
    depths = sorted(set.intersection(*(set(full.depth[full.arch == a]) for a in archs)))
    df = full[full.depth.isin(depths)]
    return Sweep(df, full[~full.depth.isin(depths)], depths, summary(df), archs,
                 [a for a in STABLE if a in archs])


def spearman(a, b) -> float:
    a, b = pd.Series(a).rank(), pd.Series(b).rank()
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Median over data sets and seeds per (architecture, depth)."""
    g = df.groupby(["arch", "depth"], sort=False)
    out = g.agg(h=("h", "first"), val_acc=("val_acc", "median"), train_acc=("train_acc", "median"),
                M=("M", "median"), M_max=("M", "max"), M_typical=("M_median", "median"),
                M_min=("M_min", "median"),
                grad_first=("grad_first", "median"), grad_last=("grad_last", "median"),
                grad_ratio_init=("grad_first_init", "median"),
                frac_outside=("frac_outside_region", "median"),
                predicted_growth=("predicted_growth", "median"),
                seconds=("seconds_cell", "first")).reset_index()
    gi = df.assign(r=df.grad_first_init / df.grad_last_init).groupby(["arch", "depth"], sort=False)
    out["grad_ratio_init"] = gi["r"].median().to_numpy()
    sd = (df.groupby(["arch", "depth", "seed"], sort=False).val_acc.mean()
          .groupby(["arch", "depth"], sort=False).std())
    out.insert(3, "val_acc_sd", sd.reindex(pd.MultiIndex.from_frame(out[["arch", "depth"]]))
               .to_numpy())
    return out


def breakdown(df: pd.DataFrame, tol: float = 0.01) -> pd.DataFrame:
    """Where each integrator breaks: per architecture, the depths (steps h = T/N) at which
    more than ``tol`` of the layer eigenvalues h λ lie outside the integrator's stability
    region (median over data sets and seeds), and the smallest depth where all are in."""
    s = summary(df)
    rows = []
    for a, t in s.groupby("arch", sort=False):
        t = t.sort_values("depth")
        bad = t[t.frac_outside > tol]
        ok = t[t.frac_outside <= tol]
        rows.append({
            "arch": a, "integrator": df[df.arch == a].integrator.iloc[0],
            "outside_at_depths": ", ".join(f"N={n} (h={h:.3g}, {f:.0%})" for n, h, f in
                                           zip(bad.depth, bad.h, bad.frac_outside,
                                               strict=True)) or "none",
            "first_stable_depth": int(ok.depth.min()) if len(ok) else None,
            "max_abs_hlam_median": float(df[df.arch == a].groupby("depth")
                                         .max_abs_hlam.median().max()),
        })
    return pd.DataFrame(rows)


def majority_baseline(df: pd.DataFrame) -> pd.Series:
    """Per row, the validation accuracy of predicting the majority class: the stage's
    ``majority_val`` column, or 1/classes (5 for peaks, else 2) for tables without it."""
    chance = df.dataset.map(lambda d: 1 / 5 if d == "peaks" else 1 / 2).astype(float)
    if "majority_val" in df:
        return df.majority_val.fillna(chance).clip(lower=chance)
    return chance


def seed_means(d: pd.DataFrame, col: str = "val_acc") -> pd.Series:
    """Per seed, the mean of ``col`` over data sets."""
    return d.groupby("seed")[col].mean()


def gap_noise(a: pd.Series, b: pd.Series) -> tuple[float, float]:
    """mean(a) − mean(b) and the standard error of that difference over seeds (0 with
    one seed)."""
    se = 0.0
    if len(a) > 1 and len(b) > 1:
        se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return float(a.mean() - b.mean()), se


def grad_ratios(df: pd.DataFrame) -> pd.DataFrame:
    """Per (architecture, depth): median over members of ‖∇θ_first‖ / ‖∇θ_last‖ at
    initialisation and after training."""
    with np.errstate(all="ignore"):
        d = df.assign(r_init=df.grad_first_init / df.grad_last_init,
                      r_trained=df.grad_first / df.grad_last)
    return d.groupby(["arch", "depth"], sort=False)[["r_init", "r_trained"]].median()


def within(r: float, factor: float) -> bool:
    return bool(math.isfinite(r) and r > 0 and abs(math.log10(r)) <= math.log10(factor))
