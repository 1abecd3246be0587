"""Summaries of the sweep that the claims and the figures share."""

from __future__ import annotations

import pandas as pd

from nnde.results import Results


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """Median and inter-quartile range over seeds, per basis and M."""
    cols = ["train_risk", "test_risk", "coef_norm", "cond"]
    g = df.groupby(["basis", "M"])[cols]
    med = g.median().add_suffix("_median")
    lo = g.quantile(0.25).add_suffix("_q25")
    hi = g.quantile(0.75).add_suffix("_q75")
    return pd.concat([med, lo, hi], axis=1).reset_index()


def summary(res: Results) -> pd.DataFrame:
    """:func:`summarise` of the results' sweep."""
    return summarise(res.frame("sweep"))


def at(summ, basis, M, col) -> float:
    """Column ``col`` of the summary row (basis, M)."""
    return float(summ[(summ.basis == basis) & (summ.M == M)][col].iloc[0])


def constant_risk(summ_basis: pd.DataFrame) -> float:
    """Median test risk of the constant fit (M = 1: the mean of the training labels), the
    trivial baseline of the floors; NaN (so no floor is met) if the sweep lacks M = 1."""
    one = summ_basis[summ_basis.M == 1]
    return float(one.test_risk_median.iloc[0]) if len(one) else float("nan")
