"""Log-log slopes of the error against depth: computed by the run step (per seed) and
drawn by the figure (of the mean over seeds)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def fit_slope(L, err) -> float:
    """Least-squares slope of log(err) against log(L)."""
    return float(np.polyfit(np.log(np.asarray(L, float)), np.log(np.asarray(err, float)), 1)[0])


def slopes(df: pd.DataFrame) -> pd.DataFrame:
    """Per seed: the log-log slope of the α = T/L error against L."""
    rows = []
    for seed, g in df[df.alpha == "T/L"].groupby("seed"):
        g = g.sort_values("layers")
        rows.append({"seed": seed, "slope": fit_slope(g.layers, g.error_vs_flow)})
    return pd.DataFrame(rows)
