"""Vector fields: structure of their Jacobians, shapes, registry."""

from __future__ import annotations

import pytest
import torch
from torch.func import jacrev

from nnde.errors import ParamError, UnknownNameError
from nnde.fields import (
    FIELDS,
    AntisymmetricField,
    DenseField,
    HamiltonianField,
    ODENetConvField,
    SymmetricConvField,
    SymmetricField,
    get_field,
    tv_norm,
)

DT = torch.float64
DIMS = [1, 2]  # conv fields on signals (batch, C, L) and images (batch, C, H, W)


def grid(dims, n):
    """The spatial shape (n,) for signals, (n, n) for images."""
    return (n,) * dims


def jac(field, y1, t=0.3):
    """Jacobian of the field at one example y1 (no batch dim), flattened."""
    n = y1.numel()
    J = jacrev(lambda v: field(t, v.reshape(1, *y1.shape)).reshape(-1))(y1.reshape(-1))
    return J.reshape(n, n).detach()


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softplus"])
def test_antisymmetric_jacobian_real_parts_bounded(activation):
    torch.manual_seed(0)
    gamma = 0.2
    field = AntisymmetricField(6, gamma=gamma, activation=activation).to(DT)
    with torch.no_grad():
        field.b.normal_()
    for _ in range(5):
        y = torch.randn(6, dtype=DT)
        lam = torch.linalg.eigvals(jac(field, y)).detach()
        # σ' at the pre-activation gives the bound
        u = (field.matrix() @ y + field.b).requires_grad_(True)
        (dsig,) = torch.autograd.grad(field.sigma(u).sum(), u)
        assert float(lam.real.abs().max()) <= gamma * float(dsig.max()) + 1e-12
        assert float(lam.real.max()) <= 1e-12
    M = field.matrix()
    torch.testing.assert_close(M + M.T, -2 * gamma * torch.eye(6, dtype=DT))


def test_symmetric_dense_jacobian_symmetric_nsd():
    torch.manual_seed(1)
    field = SymmetricField(5, hidden=8, activation="tanh").to(DT)
    with torch.no_grad():
        field.b.normal_()
    for _ in range(5):
        J = jac(field, torch.randn(5, dtype=DT))
        torch.testing.assert_close(J, J.T, rtol=0, atol=1e-13)
        assert float(torch.linalg.eigvalsh(J).max()) <= 1e-12


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("time_input", [False, True])
def test_symmetric_conv_jacobian_symmetric_nsd(time_input, dims):
    # Ruthotto and Haber (2020), Theorem 1: without normalisation the Jacobian
    # −Kᵀ diag(σ') K of F_sym is symmetric negative semi-definite, in 1-D as in 2-D
    torch.manual_seed(2)
    field = SymmetricConvField(
        2, hidden=3, activation="relu", time_input=time_input, norm=None, dims=dims
    ).to(DT)
    with torch.no_grad():
        field.b.normal_()
    y = torch.randn(2, *grid(dims, 4), dtype=DT)
    J = jac(field, y)
    # the same full Jacobian through the other autograd path (reverse mode, row by row)
    Jf = torch.autograd.functional.jacobian(lambda v: field(0.3, v[None]).reshape(-1), y)
    torch.testing.assert_close(Jf.reshape(J.shape), J, rtol=0, atol=1e-13)
    torch.testing.assert_close(J, J.T, rtol=0, atol=1e-13)
    assert float(torch.linalg.eigvalsh(J).max()) <= 1e-12
    assert field(0.0, y[None]).shape == (1, 2, *grid(dims, 4))


@pytest.mark.parametrize("dims", DIMS)
def test_conv_transpose_is_adjoint_of_conv(dims):
    F = torch.nn.functional
    conv, conv_t = {1: (F.conv1d, F.conv_transpose1d), 2: (F.conv2d, F.conv_transpose2d)}[dims]
    torch.manual_seed(3)
    K = torch.randn(3, 2, *grid(dims, 3), dtype=DT)
    y = torch.randn(2, 2, *grid(dims, 5), dtype=DT)
    u = torch.randn(2, 3, *grid(dims, 5), dtype=DT)
    lhs = (conv(y, K, padding=1) * u).sum()
    rhs = (y * conv_t(u, K, padding=1)).sum()
    torch.testing.assert_close(lhs, rhs)


@pytest.mark.parametrize("dims", DIMS)
def test_tv_norm_per_pixel_across_channels(dims):
    x = torch.randn(2, 4, *grid(dims, 3), dtype=DT)
    n = tv_norm(x, eps=1e-3)
    expected = x / torch.sqrt((x**2).sum(1, keepdim=True) + 1e-3)
    torch.testing.assert_close(n, expected)
    assert float((n**2).sum(1).max()) < 1.0
    field = SymmetricConvField(4, norm="tv", dims=dims).to(DT)
    assert field(0.0, x).shape == x.shape


def test_hamiltonian_field_pair_and_volume_preservation():
    torch.manual_seed(4)
    field = HamiltonianField(3).to(DT)
    with torch.no_grad():
        field.b.normal_()
    y, z = torch.randn(2, 3, dtype=DT), torch.randn(2, 3, dtype=DT)
    out = field(0.0, torch.cat([y, z], 1))
    torch.testing.assert_close(out[:, :3], torch.tanh(z @ field.K.T + field.b))
    torch.testing.assert_close(out[:, 3:], -torch.tanh(y @ field.K + field.b))
    fq, fp = field.pair
    torch.testing.assert_close(fq(0.0, z), out[:, :3])
    torch.testing.assert_close(fp(0.0, y), out[:, 3:])
    J = jac(field, torch.randn(6, dtype=DT))
    assert abs(float(torch.trace(J))) < 1e-14  # divergence-free: y' ⟂ y, z' ⟂ z


def test_dense_field_matches_formula_and_time_input():
    torch.manual_seed(5)
    f = DenseField(3, activation="relu").to(DT)
    y = torch.randn(4, 3, dtype=DT)
    torch.testing.assert_close(f(0.0, y), torch.relu(y @ f.K.T + f.b))
    ft = DenseField(3, time_input=True).to(DT)
    assert ft.K.shape == (3, 4)
    a, b = ft(torch.tensor(0.0, dtype=DT), y), ft(1.0, y)
    assert a.shape == (4, 3) and not torch.allclose(a, b)


@pytest.mark.parametrize("dims", DIMS)
def test_odenet_conv_field_uses_time(dims):
    torch.manual_seed(6)
    f = ODENetConvField(8, dims=dims).to(DT)
    y = torch.randn(2, 8, *grid(dims, 5), dtype=DT)
    a, b = f(0.0, y), f(torch.tensor(0.7, dtype=DT), y)
    assert a.shape == y.shape and not torch.allclose(a, b)
    assert f.conv1.in_channels == 9
    assert f.conv1.weight.shape == (8, 9, *grid(dims, 3))


FIELD_CASES = [
    (name, dims) for name in sorted(FIELDS) for dims in (DIMS if "conv" in name else [None])
]


@pytest.mark.parametrize("name,dims", FIELD_CASES)
def test_every_field_runs_and_backprops(name, dims):
    kw = {"channels": 4, "dims": dims} if "conv" in name else {"width": 4}
    f = get_field(name, **kw).to(DT)
    y = torch.randn(
        2, 8 if name == "hamiltonian" else 4, *(grid(dims, 3) if "conv" in name else ()), dtype=DT
    )
    out = f(torch.tensor(0.1, dtype=DT), y)
    assert out.shape == y.shape and out.dtype == DT
    out.square().sum().backward()
    assert all(p.grad is not None for p in f.parameters())


def test_unknown_names_listed():
    with pytest.raises(UnknownNameError, match="antisymmetric.*dense"):
        get_field("skew", width=3)
    with pytest.raises(UnknownNameError, match="valid activations: .*tanh"):
        DenseField(3, activation="gelu2")


def test_bad_field_arguments():
    with pytest.raises(ParamError, match="width"):
        DenseField(0)
    with pytest.raises(ParamError, match="gamma"):
        AntisymmetricField(3, gamma=-1.0)
    with pytest.raises(ParamError, match="kernel_size"):
        SymmetricConvField(3, kernel_size=4)
    with pytest.raises(ParamError, match="norm"):
        SymmetricField(3, norm="batch")
