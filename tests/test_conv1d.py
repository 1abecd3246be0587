"""Convolutional fields and stacks on 1-D signals (batch, C, L): the 3-point stencil is a
reaction–convection–diffusion operator, and a wrong number of dims fails clearly.

The 1-D and 2-D versions of the structural tests (Jacobian symmetric NSD, reversibility,
non-expansive parabolic steps, shapes) are the dims-parametrised tests of test_fields.py
and test_layers.py."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from nnde.errors import ParamError
from nnde.fields import ODENetConvField, SymmetricConvField, get_field
from nnde.layers import FieldNet, HyperbolicCNN, ParabolicCNN, SecondOrderCNN
from nnde.models.ruthotto_haber import PDECNN, hand_count

# the β-map M(h) of the ``stencils`` stage (one implementation, not a copy)
from reproductions.ruthotto_haber.stencils import betamap as st

DT = torch.float64


def fd(y: np.ndarray, dx: float):
    """Reaction [1 2 1]/4, centred convection [−1 0 1]/(2dx) and diffusion [−1 2 −1]/dx²
    applied to y (…, L) as cross-correlations with zero padding (conv1d's convention)."""
    p = np.pad(y, [(0, 0)] * (y.ndim - 1) + [(1, 1)])
    left, mid, right = p[..., :-2], p[..., 1:-1], p[..., 2:]
    return (
        (left + 2 * mid + right) / 4,
        (right - left) / (2 * dx),
        (-left + 2 * mid - right) / dx**2,
    )


def stencil_field(w) -> SymmetricConvField:
    """F(Y) = −Kᵀ K Y: one channel, the 3-tap kernel w, identity activation, no bias."""
    f = SymmetricConvField(1, hidden=1, activation="identity", bias=False, norm=None, dims=1)
    f = f.to(DT)
    with torch.no_grad():
        f.K.copy_(torch.as_tensor(np.asarray(w, float)).reshape(1, 1, 3))
    return f


# --------------------------------------------------------------------------- stencils
@pytest.mark.parametrize("dx", [1e-3, 0.1, 1.0, 7.0])
def test_three_tap_kernel_is_reaction_convection_diffusion(dx):
    # w = β₁[1 2 1]/4 + β₂[−1 0 1]/(2dx) + β₃[−1 2 −1]/dx² = M(dx) β, det M = −1/dx³ ≠ 0
    rng = np.random.default_rng(0)
    M = st.beta_matrix(dx)
    assert np.linalg.det(M) * dx**3 == pytest.approx(-1.0, rel=1e-10)
    w = rng.normal(size=3)
    beta = np.linalg.solve(M, w)
    np.testing.assert_allclose(M @ beta, w, rtol=1e-12, atol=1e-12 * np.abs(w).max())
    np.testing.assert_allclose(np.linalg.solve(M, M @ beta), beta, rtol=1e-9)
    # the field's conv1d with kernel w is that combination of finite differences, and its
    # conv_transpose1d the adjoint one (the convection part changes sign):
    #   −Kᵀ K Y = −(β₁A − β₂D + β₃Δ)(β₁A + β₂D + β₃Δ) Y
    y = rng.normal(size=(2, 1, 17))
    A, D, Lap = fd(y, dx)
    KY = beta[0] * A + beta[1] * D + beta[2] * Lap
    A, D, Lap = fd(KY, dx)
    expected = -(beta[0] * A - beta[1] * D + beta[2] * Lap)
    out = stencil_field(w)(0.0, torch.as_tensor(y)).detach().numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())


def test_stencil_field_converges_to_the_differential_operator():
    # On a smooth signal the symmetric field with w = M(dx) β is a second-order accurate
    # discretisation of −PᵀP with P = β₁ + β₂∂ₓ − β₃∂ₓ² (Pᵀ = β₁ − β₂∂ₓ − β₃∂ₓ²):
    #   −PᵀP y = −β₁² y + (2β₁β₃ + β₂²) y'' − β₃² y''''
    # (pure convection β = e₂ gives +y'': a first-derivative kernel makes a diffusion).
    beta = np.array([0.7, -1.3, 0.4])
    errors, dxs = [], [0.04, 0.02, 0.01]
    for dx in dxs:
        x = np.arange(-8.0, 8.0 + dx / 2, dx)
        g = np.exp(-(x**2) / 2)
        d2, d4 = (x**2 - 1) * g, (x**4 - 6 * x**2 + 3) * g
        exact = (
            -(beta[0] ** 2) * g + (2 * beta[0] * beta[2] + beta[1] ** 2) * d2 - beta[2] ** 2 * d4
        )
        f = stencil_field(st.beta_matrix(dx) @ beta)
        out = f(0.0, torch.as_tensor(g).reshape(1, 1, -1)).detach().reshape(-1).numpy()
        errors.append(np.abs(out - exact)[2:-2].max())  # the 5-point stencil's interior
    slope = np.polyfit(np.log(dxs), np.log(errors), 1)[0]
    assert errors[-1] < 1e-3
    assert abs(slope - 2.0) < 0.1, (errors, slope)


def test_pure_stencils_are_pure_operators():
    # [1 2 1]/4 is β = e₁, [−1 0 1]/(2dx) is e₂, [−1 2 −1]/dx² is e₃
    dx = 0.5
    M = st.beta_matrix(dx)
    for k, w in enumerate(([1, 2, 1], [-1, 0, 1], [-1, 2, -1])):
        scale = (1 / 4, 1 / (2 * dx), 1 / dx**2)[k]
        np.testing.assert_allclose(
            np.linalg.solve(M, scale * np.array(w, float)), np.eye(3)[k], atol=1e-14
        )


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("cls", [SymmetricConvField, ODENetConvField])
def test_wrong_number_of_dims_fails_clearly(cls, dims):
    field = cls(4, dims=dims)
    wrong = torch.randn(2, 4, 5, 5) if dims == 1 else torch.randn(2, 4, 5)
    layout = "(batch, C, L)" if dims == 1 else "(batch, C, H, W)"
    msg = re.escape(f"{cls.__name__}(dims={dims}) expects {layout}, got shape {tuple(wrong.shape)}")
    with pytest.raises(ValueError, match=msg):
        field(0.0, wrong)
    right = torch.randn(2, 4, *(5,) * dims)
    assert field(0.0, right).shape == right.shape


def test_wrong_dims_through_a_stack_fails_clearly():
    with pytest.raises(ValueError, match=r"dims=1\) expects \(batch, C, L\)"):
        ParabolicCNN(4, dims=1)(torch.randn(2, 4, 6, 6))
    with pytest.raises(ValueError, match=r"dims=2\) expects \(batch, C, H, W\)"):
        HyperbolicCNN(4)(torch.randn(2, 4, 6))


@pytest.mark.parametrize("dims", [3, 0, "1", 1.0, True, None])
def test_dims_other_than_1_or_2_is_a_param_error(dims):
    for build in (
        lambda: SymmetricConvField(3, dims=dims),
        lambda: ODENetConvField(4, dims=dims),
        lambda: get_field("symmetric_conv", channels=3, dims=dims),
        lambda: ParabolicCNN(4, dims=dims),
        lambda: HyperbolicCNN(4, dims=dims),
        lambda: SecondOrderCNN(4, dims=dims),
        lambda: FieldNet("odenet_conv", depth=1, channels=4, dims=dims),
        lambda: PDECNN("parabolic", [4], 1, 3, dims=dims),
    ):
        with pytest.raises(ParamError, match=r"'dims'.*allowed: 1, 2"):
            build()


# --------------------------------------------------------------------------- the network
@pytest.mark.parametrize("variant", ["parabolic", "hamiltonian", "second_order"])
def test_pde_cnn_on_signals(variant):
    torch.manual_seed(0)
    m = PDECNN(variant, [4, 8], 1, 10, dims=1)
    assert m(torch.randn(3, 1, 40)).shape == (3, 10)
    assert sum(p.numel() for p in m.parameters()) == hand_count(variant, [4, 8], 1, 10, dims=1)
    assert all(f.K.shape[2:] == (3,) for blk in m.blocks for f in blk.fields)
    assert [y.shape for y in m.features(torch.randn(2, 1, 40))] == [(2, 4, 40), (2, 8, 20)]
