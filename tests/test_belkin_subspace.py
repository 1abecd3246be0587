"""Belkin et al. (2019) / the lecture: gradient descent picks the sub-space, ridge
flattens the peak — the linear algebra, the claim rules on made-up tables
(falsification, no fitting) and bad params."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nnde.errors import ParamError
from nnde.results import Results, ResultsWriter
from reproductions.belkin.polynomial import experiment as polynomial
from reproductions.belkin.subspace import claims, experiment

N_PTS = 10


def problem(M, seed=0):
    x, y = experiment.sample(N_PTS, 0.2, seed)
    return experiment.design(x, M), y


def judge(gd_sum: pd.DataFrame, ridge: pd.DataFrame, iterations: int, n: int = N_PTS) -> dict:
    """The claims judged on a gradient-descent summary and a ridge table, by id."""
    res = Results(frames={"gd_summary": gd_sum, "ridge": ridge},
                  records={"config": {"n": n, "gd_iterations": iterations}})
    return {c.id: c for c in claims.claim.judge(res)}


def test_ridge_limits():
    A, y = problem(3 * N_PTS)
    np.testing.assert_allclose(experiment.ridge_fit(A, y, 0.0), np.linalg.pinv(A) @ y,
                               atol=1e-10)
    lam = 0.3
    w = experiment.ridge_fit(A, y, lam)
    np.testing.assert_allclose((A.T @ A + lam * np.eye(A.shape[1])) @ w, A.T @ y, atol=1e-10)
    assert np.linalg.norm(w) < np.linalg.norm(np.linalg.pinv(A) @ y)


# --------------------------------------------------------------------------- gradient descent
def test_gd_from_zero_reaches_min_norm_and_random_start_keeps_null_part():
    A, y = problem(4 * N_PTS)
    w_star = np.linalg.pinv(A) @ y
    w, snaps = experiment.gradient_descent(A, y, np.zeros(A.shape[1]), 5000, [0, 10, 5000])
    assert np.linalg.norm(w - w_star) < 1e-8 * np.linalg.norm(w_star)
    d = [np.linalg.norm(snaps[t] - w_star) for t in (0, 10, 5000)]
    assert d[0] > d[1] > d[2]
    w0 = np.random.default_rng(3).standard_normal(A.shape[1])
    w, _ = experiment.gradient_descent(A, y, w0, 5000, [])
    limit = w_star + experiment.null_projector(A) @ w0
    assert np.linalg.norm(w - limit) < 1e-8 * np.linalg.norm(w_star)
    assert np.linalg.norm(w - w_star) > 1.0  # it did not reach the min-norm solution


def test_gd_experiment_summary():
    traj, summ = experiment.gd_experiment(N_PTS, 0.2, [0], 4 * N_PTS, 3000, 1.0)
    z = summ[(summ.basis == "legendre") & (summ.start == "zero")]
    assert float(z.final_rel_dist_min_norm.iloc[0]) < 1e-8
    r = summ[(summ.basis == "legendre") & (summ.start == "random")]
    assert float(r.final_rel_dist_limit.iloc[0]) < 1e-8
    assert abs(float(r.final_dist_min_norm.iloc[0]) - float(r.norm_null_start.iloc[0])) < 1e-8
    assert set(traj.start) == {"zero", "random"}


def test_subspace_uses_the_polynomial_stage_data():
    """Both stages draw their data from one library module."""
    from nnde.data import poly1d

    assert experiment.sample is polynomial.sample is poly1d.sample
    assert experiment.design is polynomial.design is poly1d.design


def test_run_writes_plain_data_and_judges_the_same(tmp_path):
    """run → CSV/JSON → Results.load gives the same claims as the tables in memory."""
    cfg = experiment.read_config({"n": N_PTS, "noise": 0.2, "seed": 0, "repeats": 2,
                                  "gd_repeats": 1, "gd_factor": 4, "gd_iterations": 3000,
                                  "init_scale": 1.0, "max_factor": 3, "lambdas": [0.1],
                                  "test_points": 101})
    with ResultsWriter("belkin", "subspace", root=tmp_path) as out:
        experiment.run(cfg, out)
    res = Results.load("belkin", "subspace", root=tmp_path)
    traj, gd_sum = experiment.gd_experiment(N_PTS, 0.2, [0], 4 * N_PTS, 3000, 1.0)
    ridge = experiment.ridge_sweep(N_PTS, 0.2, [0, 1], list(range(1, 31)), [0.1], 101)
    for name, df in (("gd", traj), ("gd_summary", gd_sum), ("ridge", ridge)):
        pd.testing.assert_frame_equal(res.frame(name), df)
    assert claims.claim.judge(res) == list(judge(gd_sum, ridge, 3000).values())


# --------------------------------------------------------------------------- claims flip
def test_subspace_claims_flip():
    _, summ = experiment.gd_experiment(N_PTS, 0.2, [0], 4 * N_PTS, 3000, 1.0)
    # M = 1 (the constant fit, risk 5) is the floor of the ridge comparison (new rule): the
    # ridge fits (risk 2) beat it by the stated factor.
    ridge = pd.DataFrame(
        [
            {"seed": 0, "M": M, "lam": lam, "test_risk": r, "train_risk": 0.0, "coef_norm": 1.0}
            for M in (1, 5, 10, 20)
            for lam, r in (
                (0.0, {1: 5.0, 10: 10.0}.get(M, 1.0)),
                (0.1, 5.0 if M == 1 else 2.0),
            )
        ]
    )
    ok = {k: c.verdict for k, c in judge(summ, ridge, 3000).items()}
    assert set(ok.values()) == {"reproduced"}, ok
    short = experiment.gd_experiment(N_PTS, 0.2, [1], 4 * N_PTS, 5, 1.0)[1]  # 5 steps
    ridge.loc[(ridge.lam == 0.1) & (ridge.M == 10), "test_risk"] = 20.0  # a higher peak
    bad = {k: c.verdict for k, c in judge(short, ridge, 5).items()}
    assert bad["gd_zero_reaches_min_norm"] == "not reproduced"
    assert bad["gd_random_start_keeps_null_component"] == "not reproduced"
    assert bad["ridge_flattens_peak"] == "not reproduced"


# --------------------------------------------------------------------------- verdicts
N = 10


def _gd(zero_rel=1e-14, limit_rel=1e-14, dist_star=5.0, null=5.0, w_star=2.0):
    rows = []
    for seed in (0, 1):
        for start in ("zero", "random"):
            z = start == "zero"
            rows.append(
                {
                    "seed": seed,
                    "basis": "legendre",
                    "start": start,
                    "M": 4 * N,
                    "cond": 10.0,
                    "norm_min_norm": w_star,
                    "norm_null_start": 0.0 if z else null,
                    "final_dist_min_norm": zero_rel * w_star if z else dist_star,
                    "final_dist_limit": zero_rel * w_star if z else limit_rel * w_star,
                    "final_rel_dist_min_norm": zero_rel if z else dist_star / w_star,
                    "final_rel_dist_limit": zero_rel if z else limit_rel,
                    "final_norm": w_star,
                    "final_train_mse": 0.0,
                }
            )
    return pd.DataFrame(rows)


def _ridge(risk0=None, risk_reg=None):
    """λ = 0: constant fit 0.57 at M = 1, peak 1e5 at M = n; λ = 0.1: no peak."""
    risk0 = risk0 or (lambda M: 0.57 if M == 1 else (1e5 if M == N else 0.1))
    risk_reg = risk_reg or (lambda M: 0.57 if M == 1 else 0.08)
    return pd.DataFrame(
        [
            {"seed": 0, "M": M, "lam": lam, "test_risk": f(M), "train_risk": 0.0, "coef_norm": 1.0}
            for M in (1, 5, N, 2 * N, 4 * N)
            for lam, f in ((0.0, risk0), (0.1, risk_reg))
        ]
    )


def _sub(gd=None, ridge=None):
    return judge(_gd() if gd is None else gd, _ridge() if ridge is None else ridge, 1000, N)


def test_subspace_declares_every_claim_it_makes():
    assert set(_sub()) == set(claims.claim.ids)
    # the ids the report and the verdicts marks name, in the order of the section
    assert claims.claim.ids == (
        "gd_zero_reaches_min_norm",
        "gd_random_start_keeps_null_component",
        "ridge_flattens_peak",
    )


@pytest.mark.verdicts("belkin.subspace.gd_zero_reaches_min_norm")
def test_gd_zero_reaches_min_norm_check_can_fail():
    c = _sub()["gd_zero_reaches_min_norm"]
    assert (c.verdict, c.kind) == ("reproduced", "check")
    assert _sub(gd=_gd(zero_rel=1e-3))["gd_zero_reaches_min_norm"].verdict == "not reproduced"


@pytest.mark.verdicts("belkin.subspace.gd_random_start_keeps_null_component")
def test_gd_random_start_keeps_null_component_check_can_fail():
    key = "gd_random_start_keeps_null_component"
    c = _sub()[key]
    assert (c.verdict, c.kind) == ("reproduced", "check")
    # GD went to w* anyway (the null-space part was lost)
    lost = _gd(limit_rel=2.5, dist_star=1e-12)
    assert _sub(gd=lost)[key].verdict == "not reproduced"
    # a start with no null-space part shows nothing
    nothing = _gd(null=0.0, dist_star=0.0)
    assert _sub(gd=nothing)[key].verdict == "not reproduced"


@pytest.mark.verdicts("belkin.subspace.ridge_flattens_peak")
def test_ridge_flattens_peak_can_fail():
    c = _sub()["ridge_flattens_peak"]
    assert (c.verdict, c.kind) == ("reproduced", "experiment")
    # ridge with a peak as high as the minimum-norm fit's
    peaked = _ridge(risk_reg=lambda M: 2e5 if M == N else 0.08)
    assert _sub(ridge=peaked)["ridge_flattens_peak"].verdict == "not reproduced"
    # floor: a λ so strong that the fit predicts the mean everywhere flattens the peak
    # trivially — inconclusive, not reproduced
    dead = _ridge(risk_reg=lambda M: 0.57)
    assert _sub(ridge=dead)["ridge_flattens_peak"].verdict == "inconclusive"


# --------------------------------------------------------------------------- bad params
def _params(**kw):
    p = {"n": 10, "noise": 0.2, "seed": 0, "repeats": 2, "gd_repeats": 1, "gd_factor": 4,
         "gd_iterations": 100, "init_scale": 1.0, "max_factor": 4, "lambdas": [0.1],
         "test_points": 101}
    p.update(kw)
    return p


@pytest.mark.parametrize(
    "params, key",
    [
        (_params(gd_factor=0.5), "belkin.subspace.gd_factor"),
        (_params(lambdas=[-1.0]), "belkin.subspace.lambdas[0]"),
        (_params(gd_iterations=None), "belkin.subspace.gd_iterations"),
        (_params(gd_factor=1.02), "belkin.subspace.gd_factor"),
    ],
)
def test_bad_params_name_the_key(params, key):
    with pytest.raises(ParamError) as e:
        experiment.read_config(params)
    assert e.value.key == key
    assert key in str(e.value)
