"""Haber & Ruthotto, Example 1: the mathematics of the three matrices."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from nnde.errors import ParamError

_spec = importlib.util.spec_from_file_location(
    "example1", Path(__file__).resolve().parents[1] / "reproductions/haber_ruthotto/example1.py"
)
ex1 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ex1)

H = 0.1


def M(matrix, N, scheme, linear=False):
    traj = ex1.propagate(ex1.MATRICES[matrix], ex1.INPUTS, H, N, scheme, linear=linear)
    return ex1.stability_constant(ex1.INPUTS, traj[-1].numpy())


@pytest.mark.parametrize("N", [10, 20])
def test_K_minus_contracts(N):
    assert M("K_minus", N, "euler") < 1
    assert M("K_minus", 2 * N, "euler") < M("K_minus", N, "euler")
    traj = ex1.propagate(ex1.MATRICES["K_minus"], ex1.INPUTS, H, 4 * N, "euler")
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
    exact = ex1.propagate(ex1.MATRICES["K_zero"], ex1.INPUTS, H / 64, N * 64, "rk4")
    m_exact = ex1.stability_constant(ex1.INPUTS, exact[-1].numpy())
    assert abs(M("K_zero", N, "rk4") - m_exact) < 1e-5
    assert M("K_zero", N, "euler") - m_exact > 0.01


def test_claims_are_computed_from_the_data():
    traj, stats = ex1.run(list(ex1.MATRICES), [10, 20], ["euler", "rk4"], H)
    assert set(traj.columns) >= {"matrix", "layers", "scheme", "example", "layer_index",
                                 "x1", "x2"}
    assert len(traj) == 3 * 2 * (11 + 21) * 3
    claims = {c.id: c for c in ex1.make_claims(stats, H, "rk4")}
    assert claims["K_plus_diverges"].verdict == "reproduced"
    assert claims["K_minus_contracts"].verdict == "reproduced"
    assert claims["K_zero_euler_growth"].verdict == "reproduced"
    # A flipped data set must flip the verdict: the rule is evaluated, not asserted.
    flipped = stats.copy()
    flipped.loc[flipped.matrix == "K_plus", "M"] = 0.5
    claims = {c.id: c for c in ex1.make_claims(flipped, H, "rk4")}
    assert claims["K_plus_diverges"].verdict == "not reproduced"


def test_read_config_rejects_missing_euler():
    p = {"h": 0.1, "layers": [10], "matrices": ["K_zero"], "schemes": ["rk4"]}
    with pytest.raises(ParamError, match="must include 'euler'"):
        ex1.read_config(p)
