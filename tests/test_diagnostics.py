"""Diagnostics: stability constants, Jacobian spectra, stability regions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nnde.diagnostics import (
    jacobian,
    jacobian_spectrum,
    real_stability_limit,
    stability_constant,
    stability_region,
)
from nnde.errors import ParamError
from nnde.fields import AntisymmetricField, SymmetricField
from nnde.integrators import solve
from nnde.layers import ResidualNet

DT = torch.float64


def test_stability_constant_of_linear_map_within_singular_values():
    torch.manual_seed(0)
    A = torch.randn(4, 4, dtype=DT)
    s = torch.linalg.svdvals(A)
    x = torch.randn(16, 4, dtype=DT)
    for pairs in ("perturb", "all"):
        M, ratios = stability_constant(lambda v: v @ A.T, x, pairs=pairs, return_ratios=True)
        assert float(s[-1]) - 1e-9 <= float(ratios.min()) and M <= float(s[0]) + 1e-9
        assert M > 0.5 * float(s[0])


def _example1_net(K):
    # Haber and Ruthotto (2017), Example 1: 10 identical layers, tanh, h = 0.1, b = 0;
    # their rows-times-K form Y K is our K-transposed linear map.
    net = ResidualNet(2, depth=10, h=0.1, bias=False).to(DT)
    with torch.no_grad():
        for f in net.fields:
            f.K.copy_(torch.tensor(K, dtype=DT).T)
    return net


def test_example1_growth_and_decay():
    Y = torch.tensor([[0.1, 0.1], [-0.1, -0.1], [0.0, 0.5]], dtype=DT)
    m_plus = stability_constant(_example1_net([[2, -2], [0, 2]]), Y)
    m_minus = stability_constant(_example1_net([[-2, 0], [2, -2]]), Y)
    m_zero = stability_constant(_example1_net([[0, -1], [1, 0]]), Y)
    assert m_plus > 2.0  # λ = 2, 2: perturbations grow
    assert m_minus < 0.5  # λ = −2, −2: they shrink
    assert 1.0 < m_zero < 1.1  # λ = ±i: forward Euler grows slowly, |1 + ih| > 1


def test_jacobian_matches_linear_map_and_loop():
    torch.manual_seed(1)
    A = torch.randn(3, 3, dtype=DT)
    x = torch.randn(5, 3, dtype=DT)
    J = jacobian(lambda v: v @ A.T, x)
    assert J.shape == (5, 3, 3)
    torch.testing.assert_close(J, A.expand(5, 3, 3))
    lam = jacobian_spectrum(lambda v: v @ A.T, x[:1])
    ref = torch.linalg.eigvals(A)
    torch.testing.assert_close(lam[0].real.sort().values, ref.real.sort().values)
    sv = jacobian_spectrum(lambda v: v @ A.T, x[:1], kind="svd")
    torch.testing.assert_close(sv[0], torch.linalg.svdvals(A))


def test_antisymmetric_spectrum_real_parts_in_band():
    torch.manual_seed(2)
    gamma = 0.3
    f = AntisymmetricField(5, gamma=gamma).to(DT)
    lam = jacobian_spectrum(lambda y: f(0.0, y), torch.randn(6, 5, dtype=DT))
    assert lam.shape == (6, 5)
    assert float(lam.real.max()) <= 1e-12
    assert float(lam.real.min()) >= -gamma - 1e-12  # tanh' ≤ 1


def test_symmetric_field_spectrum_nonpositive_and_flow_map():
    torch.manual_seed(3)
    f = SymmetricField(4).to(DT)
    x = torch.randn(3, 4, dtype=DT)
    lam = jacobian_spectrum(lambda y: f(0.0, y), x)
    assert float(lam.real.max()) <= 1e-12 and float(lam.imag.abs().max()) <= 1e-12
    # the time-1 flow map of a contractive field is non-expansive
    sv = jacobian_spectrum(lambda y: solve(f, y, 0.0, 1.0, 20, "rk4"), x, kind="svd")
    assert float(sv.max()) <= 1 + 1e-9


@pytest.mark.parametrize(
    "name,limit", [("euler", -2.0), ("heun", -2.0), ("rk4", -2.785293563), ("bosh3", -2.512745327)]
)
def test_real_stability_limits(name, limit):
    assert abs(real_stability_limit(name) - limit) < 1e-8


def test_backward_euler_is_stable_on_the_negative_axis():
    assert real_stability_limit("backward_euler") == -math.inf


def test_stability_region_euler_is_the_disk():
    X, Y, absR = stability_region("euler", re=(-3, 1), im=(-2, 2), n=81)
    assert X.shape == Y.shape == absR.shape == (81, 81)
    dist = np.hypot(X + 1, Y)  # |R(z)| = |1 + z|
    away = np.abs(dist - 1) > 1e-9
    np.testing.assert_array_equal((absR <= 1)[away], (dist <= 1)[away])
    np.testing.assert_allclose(absR, dist, rtol=1e-12)
    with pytest.raises(ParamError, match="scalar stability"):
        stability_region("verlet")


def test_bad_arguments():
    with pytest.raises(ParamError, match="pairs"):
        stability_constant(lambda v: v, torch.zeros(2, 2), pairs="some")
    with pytest.raises(ParamError, match="kind"):
        jacobian_spectrum(lambda v: v, torch.zeros(1, 2), kind="qr")
