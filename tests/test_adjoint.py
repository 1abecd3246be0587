"""ODE block gradients: the adjoint (nnde's own, and torchdiffeq's as the reference) vs
direct backprop vs finite differences."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("torchdiffeq")

from nnde.layers import ODEBlock  # noqa: E402

DT = torch.float64
TOL = 1e-10


BACKENDS = ("nnde", "torchdiffeq")


def make_block(gradient, method="dopri5", steps=None, backend="nnde"):
    torch.manual_seed(0)
    kw = dict(rtol=TOL, atol=TOL) if steps is None else {}
    block = ODEBlock(
        "dense",
        T=1.0,
        method=method,
        steps=steps,
        gradient=gradient,
        adjoint_backend=backend,
        width=3,
        activation="tanh",
        **kw,
    ).to(DT)
    with torch.no_grad():
        block.field.b.copy_(torch.tensor([0.2, -0.1, 0.3]))
    return block


X = torch.tensor([[0.5, -0.3, 0.8], [0.1, 0.4, -0.6]], dtype=DT)


def loss_and_grads(block):
    x = X.clone().requires_grad_(True)
    loss = (block(x) ** 2).sum()
    gx, gK, gb = torch.autograd.grad(loss, (x, block.field.K, block.field.b))
    return loss.detach(), gx, gK, gb


def directional_fd(block, dK, dx, eps=1e-6):
    """Central difference of the loss along the direction (dK, dx) in (K, x)."""
    K = block.field.K.data
    K0 = K.clone()
    vals = []
    with torch.no_grad():
        for s in (eps, -eps):
            K.copy_(K0 + s * dK)
            vals.append(float((block(X + s * dx) ** 2).sum()))
    K.copy_(K0)
    return (vals[0] - vals[1]) / (2 * eps)


@pytest.mark.parametrize("backend", BACKENDS)
def test_adjoint_matches_direct_and_finite_differences(backend):
    direct = make_block("direct")
    adjoint = make_block("adjoint", backend=backend)
    ld, gxd, gKd, gbd = loss_and_grads(direct)
    la, gxa, gKa, gba = loss_and_grads(adjoint)
    torch.testing.assert_close(la, ld, rtol=0, atol=1e-9)
    for a, d in ((gxa, gxd), (gKa, gKd), (gba, gbd)):
        torch.testing.assert_close(a, d, rtol=1e-7, atol=1e-8)
    g = torch.Generator().manual_seed(1)
    for _ in range(3):
        dK = torch.randn(3, 3, generator=g, dtype=DT)
        dx = torch.randn(X.shape, generator=g, dtype=DT)
        fd = directional_fd(direct, dK, dx)
        for gK, gx in ((gKd, gxd), (gKa, gxa)):
            analytic = float((gK * dK).sum() + (gx * dx).sum())
            assert abs(analytic - fd) <= 1e-6 * max(1.0, abs(fd)), (analytic, fd)


@pytest.mark.parametrize("backend", BACKENDS)
def test_adjoint_counters_forward_and_backward(backend):
    block = make_block("adjoint", backend=backend)
    block.reset_nfe()
    x = X.clone().requires_grad_(True)
    out = block(x)
    nfe_f = block.nfe_forward
    assert nfe_f > 0 and block.nfe_backward == 0
    out.sum().backward()
    assert block.nfe_forward == nfe_f  # nothing counted as forward during backward
    assert block.nfe_backward > 0
    print(f"adjoint dopri5 tol {TOL}: nfe forward {nfe_f}, backward {block.nfe_backward}")
    block.reset_nfe()
    assert (block.nfe_forward, block.nfe_backward) == (0, 0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_adjoint_fixed_grid_matches_direct(backend):
    # with a fixed grid both solve the same discrete equations; the adjoint solves the
    # continuous adjoint ODE on that grid, so the agreement is O(h^4), not exact
    direct = make_block("direct", method="rk38", steps=40)
    adjoint = make_block("adjoint", method="rk38", steps=40, backend=backend)
    _, gxd, gKd, _ = loss_and_grads(direct)
    _, gxa, gKa, _ = loss_and_grads(adjoint)
    torch.testing.assert_close(gKa, gKd, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(gxa, gxd, rtol=1e-6, atol=1e-7)


def test_nnde_adjoint_takes_tables_torchdiffeq_lacks():
    """Classical RK4 has no torchdiffeq counterpart (its "rk4" is the 3/8 rule): the
    reference backend refuses it, nnde's adjoint solves with it."""
    from nnde.errors import ParamError

    with pytest.raises(ParamError, match="torchdiffeq"):
        make_block("adjoint", method="rk4", steps=40, backend="torchdiffeq")
    direct = make_block("direct", method="rk4", steps=40)
    adjoint = make_block("adjoint", method="rk4", steps=40)
    _, gxd, gKd, _ = loss_and_grads(direct)
    _, gxa, gKa, _ = loss_and_grads(adjoint)
    torch.testing.assert_close(gKa, gKd, rtol=1e-6, atol=1e-7)
    with pytest.raises(ParamError, match="adjoint_backend"):
        make_block("adjoint", backend="jax")
