"""Summaries of the ridge sweep that the claims and the figures share."""

from __future__ import annotations

import pandas as pd


def ridge_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Median and inter-quartile range of the test risk over seeds, per λ and M."""
    g = df.groupby(["lam", "M"])["test_risk"]
    return pd.DataFrame(
        {"median": g.median(), "q25": g.quantile(0.25), "q75": g.quantile(0.75)}
    ).reset_index()
