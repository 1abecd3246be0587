"""Haber & Ruthotto, Example 1: the mathematics of the three matrices."""

from __future__ import annotations

import numpy as np
import pytest

from nnde.errors import ParamError
from nnde.results import Results, ResultsWriter
from reproductions.haber_ruthotto.example1 import claims, experiment

H = 0.1


def M(matrix, N, scheme, linear=False):
    traj = experiment.propagate(experiment.MATRICES[matrix], experiment.INPUTS, H, N, scheme,
                                linear=linear)
    return experiment.stability_constant(experiment.INPUTS, traj[-1].numpy())


@pytest.mark.parametrize("N", [10, 20])
def test_K_minus_contracts(N):
    assert M("K_minus", N, "euler") < 1
    assert M("K_minus", 2 * N, "euler") < M("K_minus", N, "euler")
    traj = experiment.propagate(experiment.MATRICES["K_minus"], experiment.INPUTS, H, 4 * N,
                                "euler")
    norms = np.linalg.norm(traj.numpy(), axis=-1)
    assert np.all(norms[-1] < norms[0])


@pytest.mark.parametrize("N", [10, 20])
def test_K_plus_diverges(N):
    assert M("K_plus", N, "euler") > 1
    assert M("K_plus", 2 * N, "euler") > M("K_plus", N, "euler")


@pytest.mark.parametrize("N", [1, 10, 20, 50])
def test_K_zero_linearised_euler_growth_is_one_plus_ih_to_the_N(N):
    assert abs(M("K_zero", N, "euler", linear=True) - abs(1 + 1j * H) ** N) < 1e-6


@pytest.mark.parametrize("N", [10, 20])
def test_K_zero_higher_order_keeps_M_near_one(N):
    # linearised: RK4's |R(ih)| = 1 - h^6/144 + ..., so M stays within 1e-3 of 1
    assert abs(M("K_zero", N, "rk4", linear=True) - 1) < 1e-3
    # tanh network: RK4 follows the exact flow, forward Euler does not
    exact = experiment.propagate(experiment.MATRICES["K_zero"], experiment.INPUTS, H / 64,
                                 N * 64, "rk4")
    m_exact = experiment.stability_constant(experiment.INPUTS, exact[-1].numpy())
    assert abs(M("K_zero", N, "rk4") - m_exact) < 1e-5
    assert M("K_zero", N, "euler") - m_exact > 0.01


def _judge(stats, higher="rk4"):
    res = Results(frames={"stability": stats}, records={"config": {"h": H, "higher": higher}})
    return {c.id: c for c in claims.claim.judge(res)}


def test_claims_are_computed_from_the_data():
    traj, stats = experiment.measure(list(experiment.MATRICES), [10, 20], ["euler", "rk4"], H)
    assert set(traj.columns) >= {"matrix", "layers", "scheme", "example", "layer_index",
                                 "x1", "x2"}
    assert len(traj) == 3 * 2 * (11 + 21) * 3
    got = _judge(stats)
    assert got["K_plus_diverges"].verdict == "reproduced"
    assert got["K_minus_contracts"].verdict == "reproduced"
    assert got["K_zero_euler_growth"].verdict == "reproduced"
    # A flipped data set must flip the verdict: the rule is evaluated, not asserted.
    flipped = stats.copy()
    flipped.loc[flipped.matrix == "K_plus", "M"] = 0.5
    assert _judge(flipped)["K_plus_diverges"].verdict == "not reproduced"


def test_saved_results_give_the_same_claims(tmp_path):
    cfg = experiment.read_config({"h": H, "layers": [10, 20], "matrices": ["K_zero", "K_plus"],
                                  "schemes": ["euler", "rk4"]})
    with ResultsWriter("haber_ruthotto", "example1", root=tmp_path) as out:
        experiment.run(cfg, out)
    res = Results.load("haber_ruthotto", "example1", root=tmp_path)
    _, stats = experiment.measure(cfg.matrices, cfg.layers, cfg.schemes, cfg.h)
    assert claims.claim.judge(res) == list(_judge(stats).values())
    # K_minus was not run: its claim does not apply
    assert "K_minus_contracts" not in {c.id for c in claims.claim.judge(res)}


def test_read_config_rejects_missing_euler():
    p = {"h": 0.1, "layers": [10], "matrices": ["K_zero"], "schemes": ["rk4"]}
    with pytest.raises(ParamError, match="must include 'euler'"):
        experiment.read_config(p)
