"""The lecture's ResNet-as-Euler limit (reproductions/he/euler_limit/): the residual MLP is
forward Euler and converges at first order, the results round trip, and falsification
tests of the claim rules on made-up tables (nothing computed with the nets)."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest
import torch

from nnde.errors import ParamError
from nnde.results import Results, ResultsWriter
from nnde.stage import StageOutputs
from reproductions.he.euler_limit import TITLE, claims, experiment, figures
from reproductions.he.euler_limit.nets import ResidualMLP, SmoothWeights
from reproductions.he.euler_limit.slopes import fit_slope, slopes
from tests.verdict_cases import Case, verdict_test


def euler_cfg(**kw):
    p = dict(T=1.0, layers=[8, 16, 32, 64], features=4, examples=8, modes=3, scale=2.0,
             reference_steps=512, seeds=[0], slope_tolerance=0.2, threads=1)
    p.update(kw)
    return experiment.read_config(p)


def results(df: pd.DataFrame, tol: float = 0.2) -> Results:
    """What the judge reads: the distance table, its slopes and the tolerance."""
    return Results(frames={"distances": df, "slopes": slopes(df)},
                   records={"config": {"slope_tolerance": tol}})


def verdicts(df, tol=0.2):
    return {c.id: c for c in claims.claim.judge(results(df, tol))}


# --------------------------------------------------------------------------- the nets
def test_euler_view_is_first_order():
    df = experiment.distances(euler_cfg())
    tl = df[df.alpha == "T/L"].sort_values("layers")
    ratios = tl.error_vs_flow.to_numpy()[:-1] / tl.error_vs_flow.to_numpy()[1:]
    assert np.all(np.abs(ratios - 2) < 0.2)  # halving the step halves the error
    assert abs(fit_slope(tl.layers, tl.error_vs_flow) + 1) < 0.05
    assert {k: c.verdict for k, c in verdicts(df).items()} == {
        "euler_first_order": "reproduced", "alpha_one_no_limit": "reproduced"}


def test_residual_mlp_is_forward_euler():
    from nnde.integrators import solve

    cfg = euler_cfg()
    w = SmoothWeights(4, 1.0, 3, 2.0, seed=1)
    y0 = torch.randn(5, 4, dtype=torch.float64)
    L = 16
    net = ResidualMLP(w, L, 1.0 / L)

    def f(t, y):
        W, b = w(t)
        return torch.tanh(y @ W.T + b)

    torch.testing.assert_close(net(y0), solve(f, y0, 0.0, 1.0, steps=L, method="euler"))
    assert cfg.layers == (8, 16, 32, 64)


def test_run_and_judge_through_saved_results(tmp_path):
    cfg = euler_cfg()
    with ResultsWriter("he", "euler_limit", root=tmp_path) as out:
        experiment.run(cfg, out)
    res = Results.load("he", "euler_limit", root=tmp_path)
    mem = experiment.distances(cfg)
    pd.testing.assert_frame_equal(res.frame("distances"), mem)  # every float64 bit
    assert claims.claim.judge(res) == claims.claim.judge(results(mem))
    tr = res.arrays("trajectory")
    assert [int(v) for v in tr["layers"]] == [8, 32, 64] and len(tr["tl_64"]) == 65
    assert res.record("config") == {**dataclasses.asdict(cfg), "layers": [8, 16, 32, 64],
                                    "seeds": [0]}
    with StageOutputs("he", "euler_limit", TITLE, data_root=tmp_path / "out",
                      figure_root=tmp_path / "fig") as so:
        so.claims(claims.claim.judge(res))
        figures.write(res, so)
    assert {p.name for p in (tmp_path / "out/he").iterdir()} == {
        "euler_limit.csv", "euler_limit_slopes.csv", "euler_limit.claims.json",
        "euler_limit.section.json", "euler_limit.metrics.json", "euler_limit.numbers.json"}
    assert len(list((tmp_path / "fig/he").glob("euler_limit_*.png"))) == 2


def test_euler_claims_flip_when_data_flip():
    df = experiment.distances(euler_cfg())
    flipped = df.copy()
    m = flipped.alpha == "T/L"
    flipped.loc[m, "error_vs_flow"] = 1.0 / flipped.loc[m, "layers"] ** 2  # second order
    flipped.loc[flipped.alpha == "1", "cauchy_next"] = 1.0 / flipped.loc[
        flipped.alpha == "1", "layers"]
    assert {k: c.verdict for k, c in verdicts(flipped).items()} == {
        "euler_first_order": "not reproduced", "alpha_one_no_limit": "not reproduced"}


@pytest.mark.parametrize("key,value,allowed", [
    ("layers", [4, 8], "at least three"),
    ("T", 0, "> 0"),
    ("reference_steps", 16, ">= 4"),
    ("seeds", ["a"], ">= 0"),
])
def test_euler_bad_params_name_the_key(key, value, allowed):
    with pytest.raises(ParamError, match=re.escape(allowed)) as e:
        euler_cfg(**{key: value})
    assert e.value.key.startswith(f"he.euler_limit.{key}")


# --------------------------------------------------------------------------- verdicts
LAYERS = (4, 8, 16, 32, 64)


def table(order=1.0, alpha_one_growth=2.0, seeds=(0, 1, 2), order_per_seed=None):
    """A made-up ``distances`` table: for α = T/L the error to the flow is L^(−order) (per
    seed ``order_per_seed[seed]`` if given) and the Cauchy differences shrink the same
    way; for α = 1 the Cauchy differences grow by ``alpha_one_growth`` per doubling of L."""
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


def test_claim_ids_are_declared():
    assert tuple(verdicts(table())) == claims.claim.ids


def _tl_diverging():
    df = table(alpha_one_growth=2.0)
    m = (df.alpha == "T/L") & df.cauchy_next.notna()
    df.loc[m, "cauchy_next"] = df.loc[m, "layers"] / 4.0
    return results(df)


CASES = [
    Case("euler_first_order", "reproduced", lambda: results(table(order=1.0)),
         "error ∝ 1/L for every seed"),
    Case("euler_first_order", "not reproduced", lambda: results(table(order=2.0)),
         "second order: not forward Euler"),
    Case("euler_first_order", "not reproduced", lambda: results(table(order=0.5)),
         "half order"),
    Case("euler_first_order", "not reproduced", lambda: results(table(order=0.0)),
         "no convergence at all (error flat in L)"),
    Case("euler_first_order", "partly",
         lambda: results(table(order_per_seed={0: 1.0, 1: 1.0, 2: 1.35})),
         "one seed off, the mean still first order"),
    Case("alpha_one_no_limit", "reproduced", lambda: results(table(alpha_one_growth=2.0)),
         "α = 1 differences grow, α = T/L shrink"),
    Case("alpha_one_no_limit", "not reproduced",
         lambda: results(table(alpha_one_growth=0.5)),
         "α = 1 converging as well: the claim is false"),
    Case("alpha_one_no_limit", "not reproduced", _tl_diverging,
         "α = T/L not converging either: the contrast the claim draws is gone"),
]
test_verdict_cases = verdict_test(claims.claim, CASES)


def test_both_claims_are_checks():
    """Nothing is trained: the weights are random smooth functions of time, and both
    statements hold for any such weights (Euler's convergence theorem; L bounded
    increments), so by KIND_CRITERION they are checks."""
    assert {c.kind for c in verdicts(table()).values()} == {"check"}
