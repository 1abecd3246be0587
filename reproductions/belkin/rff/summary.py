"""Summaries of the sweep that the claims and the figures share."""

from __future__ import annotations

import pandas as pd


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """Median, min and max over feature draws, per N."""
    cols = ["test_zero_one", "test_squared", "train_squared", "coef_norm", "cond"]
    g = df.groupby("N")[cols]
    return pd.concat(
        [g.median().add_suffix("_median"), g.min().add_suffix("_min"), g.max().add_suffix("_max")],
        axis=1,
    ).reset_index()
