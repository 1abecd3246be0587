"""Falsification tests of the Euler-limit stage's claim rules (he/euler_limit.py): made-up
tables on which each claim is false (verdict not "reproduced") and true ("reproduced").
Nothing is computed with the nets: the rule is fed its inputs directly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from .stages import load_stage

eul = load_stage("he", "euler_limit", "verdicts")

LAYERS = (4, 8, 16, 32, 64)


def table(order=1.0, alpha_one_growth=2.0, seeds=(0, 1, 2), order_per_seed=None):
    """A made-up ``run`` table: for α = T/L the error to the flow is L^(−order) (per seed
    ``order_per_seed[seed]`` if given) and the Cauchy differences shrink the same way; for
    α = 1 the Cauchy differences grow by ``alpha_one_growth`` per doubling of L."""
    rows = []
    for s in seeds:
        p = (order_per_seed or {}).get(s, order)
        for i, L in enumerate(LAYERS):
            last = i + 1 == len(LAYERS)
            rows.append({"seed": s, "layers": L, "alpha": "T/L", "error_vs_flow": 0.5 * L**-p,
                         "cauchy_next": np.nan if last else 0.5 * L**-p, "output_norm": 1.0})
            rows.append({"seed": s, "layers": L, "alpha": "1", "error_vs_flow": 10.0,
                         "cauchy_next": np.nan if last else alpha_one_growth**i,
                         "output_norm": 10.0})
    return pd.DataFrame(rows)


def verdicts(df, tol=0.2):
    return {c.id: c for c in eul.make_claims(df, eul.slopes(df), tol)}


def test_claim_ids_are_declared():
    assert set(verdicts(table())) == set(eul.CLAIM_IDS)


@pytest.mark.verdicts("he.euler_limit.euler_first_order")
def test_verdict_euler_first_order():
    ok = verdicts(table(order=1.0))["euler_first_order"]
    assert ok.verdict == "reproduced" and ok.kind == "check"
    assert verdicts(table(order=2.0))["euler_first_order"].verdict == "not reproduced"
    assert verdicts(table(order=0.5))["euler_first_order"].verdict == "not reproduced"
    # no convergence at all (error flat in L)
    assert verdicts(table(order=0.0))["euler_first_order"].verdict == "not reproduced"
    # one seed off, the mean still first order: partly
    mixed = verdicts(table(order_per_seed={0: 1.0, 1: 1.0, 2: 1.35}))["euler_first_order"]
    assert mixed.verdict == "partly"


@pytest.mark.verdicts("he.euler_limit.alpha_one_no_limit")
def test_verdict_alpha_one_no_limit():
    ok = verdicts(table(alpha_one_growth=2.0))["alpha_one_no_limit"]
    assert ok.verdict == "reproduced" and ok.kind == "check"
    # α = 1 converging as well (differences shrink): the claim is false
    assert verdicts(table(alpha_one_growth=0.5))["alpha_one_no_limit"].verdict \
        == "not reproduced"
    # α = T/L not converging either: the contrast the claim draws is gone
    df = table(alpha_one_growth=2.0)
    m = (df.alpha == "T/L") & df.cauchy_next.notna()
    df.loc[m, "cauchy_next"] = df.loc[m, "layers"] / 4.0
    assert verdicts(df)["alpha_one_no_limit"].verdict == "not reproduced"
