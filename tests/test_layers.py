"""Layer stacks: each is the scheme its docstring states; reversible ones invert."""

from __future__ import annotations

import copy

import pytest
import torch

from nnde.errors import ParamError, UnknownNameError
from nnde.integrators import solve
from nnde.layers import (
    LAYERS,
    AntisymmetricNet,
    FieldNet,
    HamiltonianNet,
    HyperbolicCNN,
    ODEBlock,
    ParabolicCNN,
    PlainNet,
    ResidualNet,
    RKNet,
    SecondOrderCNN,
    SecondOrderNet,
    get_layer,
)

DT = torch.float64
DIMS = [1, 2]  # conv stacks on signals (batch, C, L) and images (batch, C, H, W)


def grid(dims, n):
    """The spatial shape (n,) for signals, (n, n) for images."""
    return (n,) * dims


def randomise_biases(net, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith(".b") or name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.3)
    return net


def tie_weights(net):
    """Give every step the weights of step 0 (a time-constant field)."""
    with torch.no_grad():
        for f in net.fields[1:]:
            f.load_state_dict(net.fields[0].state_dict())
    return net


def test_residual_net_is_forward_euler():
    torch.manual_seed(0)
    net = randomise_biases(ResidualNet(3, depth=5, h=0.2).to(DT))
    y0 = torch.randn(4, 3, dtype=DT)
    y = y0
    for f in net.fields:
        y = y + 0.2 * torch.tanh(y @ f.K.T + f.b)
    torch.testing.assert_close(net(y0), y, rtol=0, atol=1e-15)
    states = net(y0, return_states=True)
    assert states.shape == (6, 4, 3) and torch.equal(states[0], y0)


@pytest.mark.parametrize("method", ["euler", "rk4", "rk38", "dopri5", "heun"])
def test_rk_net_with_tied_weights_equals_solve(method):
    torch.manual_seed(1)
    net = tie_weights(randomise_biases(RKNet(3, depth=6, h=0.25, method=method).to(DT)))
    y0 = torch.randn(2, 3, dtype=DT)
    ref = solve(net.fields[0], y0, 0.0, net.T, 6, method)
    torch.testing.assert_close(net(y0), ref, rtol=0, atol=1e-14)


def test_plain_net_has_no_skip():
    torch.manual_seed(2)
    net = PlainNet(3, depth=2).to(DT)
    y0 = torch.randn(2, 3, dtype=DT)
    ref = torch.tanh(net.linears[1](torch.tanh(net.linears[0](y0))))
    torch.testing.assert_close(net(y0), ref)


def test_antisymmetric_net_formula():
    torch.manual_seed(3)
    net = randomise_biases(AntisymmetricNet(4, depth=3, h=0.1, gamma=0.01).to(DT))
    y = y0 = torch.randn(2, 4, dtype=DT)
    for f in net.fields:
        W = f.K - f.K.T - 0.01 * torch.eye(4, dtype=DT)
        y = y + 0.1 * torch.tanh(y @ W.T + f.b)
    torch.testing.assert_close(net(y0), y)


def test_hamiltonian_haber_ruthotto_formula_and_inverse():
    torch.manual_seed(4)
    net = randomise_biases(HamiltonianNet(3, depth=8, h=0.3).to(DT))
    Y0 = torch.randn(5, 3, dtype=DT)
    Y, Z = Y0, torch.zeros_like(Y0)
    for f in net.fields:
        Z = Z - 0.3 * torch.tanh(Y @ f.K + f.b)  # Z − h σ(Kᵀ Y + b), rows
        Y = Y + 0.3 * torch.tanh(Z @ f.K.T + f.b)  # Y + h σ(K Z + b)
    torch.testing.assert_close(net(Y0), Y, rtol=0, atol=1e-14)
    YL, ZL = net.flow(Y0, torch.zeros_like(Y0))
    Yb, Zb = net.inverse(YL, ZL)
    torch.testing.assert_close(Yb, Y0, rtol=0, atol=1e-10)
    torch.testing.assert_close(Zb, torch.zeros_like(Y0), rtol=0, atol=1e-10)


def test_hamiltonian_chang_form_inverse_and_shape():
    torch.manual_seed(5)
    net = randomise_biases(HamiltonianNet(6, depth=10, h=0.5, form="chang", hidden=5).to(DT))
    x = torch.randn(4, 6, dtype=DT)
    out = net(x)
    assert out.shape == x.shape
    Y, Z = net.inverse(*out.split(3, dim=1))
    torch.testing.assert_close(torch.cat([Y, Z], 1), x, rtol=0, atol=1e-10)
    assert net(x, return_states=True).shape == (11, 4, 6)


def test_second_order_net_formula_and_inverse():
    torch.manual_seed(6)
    net = randomise_biases(SecondOrderNet(3, depth=12, h=0.4).to(DT))
    Y0 = torch.randn(4, 3, dtype=DT)
    Yp, Y = Y0, Y0
    for f in net.fields:
        Y, Yp = 2 * Y - Yp - 0.16 * torch.tanh(Y @ f.K.T + f.b) @ f.K, Y
    torch.testing.assert_close(net(Y0), Y, rtol=0, atol=1e-13)
    YL, YLm1 = net.flow(Y0)
    Y0b, Ym1 = net.inverse(YL, YLm1)
    torch.testing.assert_close(Y0b, Y0, rtol=0, atol=1e-10)
    torch.testing.assert_close(Ym1, Y0, rtol=0, atol=1e-10)  # the start Y_{-1} = Y_0


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("norm", [None, "tv"])
def test_cnn_blocks_reversible_and_shapes(norm, dims):
    torch.manual_seed(7)
    x = torch.randn(2, 4, *grid(dims, 6), dtype=DT)
    hyp = randomise_biases(HyperbolicCNN(4, depth=3, h=1.0, norm=norm, dims=dims).to(DT))
    out = hyp(x)
    assert out.shape == x.shape
    assert hyp(x, return_states=True).shape == (4, *x.shape)
    torch.testing.assert_close(hyp.inverse(out), x, rtol=0, atol=1e-10)
    so = randomise_biases(SecondOrderCNN(4, depth=3, h=1.0, norm=norm, dims=dims).to(DT))
    assert so(x).shape == x.shape
    YL, YLm1 = so.flow(x)
    Y0, Ym1 = so.inverse(YL, YLm1)
    torch.testing.assert_close(Y0, x, rtol=0, atol=1e-10)
    torch.testing.assert_close(Ym1, x, rtol=0, atol=1e-10)  # the start Y_{-1} = Y_0
    par = ParabolicCNN(4, depth=3, norm=norm, dims=dims).to(DT)
    assert par(x).shape == x.shape and par(x, return_states=True).shape == (4, *x.shape)
    for blk in (hyp, so, par):
        assert all(f.K.dim() == 2 + dims for f in blk.fields)


@pytest.mark.parametrize("dims", DIMS)
def test_parabolic_block_is_euler_on_symmetric_conv_field(dims):
    torch.manual_seed(8)
    par = ParabolicCNN(2, depth=4, h=0.3, norm=None, dims=dims).to(DT)
    par = tie_weights(randomise_biases(par))
    x = torch.randn(1, 2, *grid(dims, 5), dtype=DT)
    torch.testing.assert_close(par(x), solve(par.fields[0], x, 0.0, 1.2, 4, "euler"))


@pytest.mark.parametrize("dims", DIMS)
def test_parabolic_block_does_not_amplify_perturbations(dims):
    # without normalisation and with h small enough, forward Euler on the symmetric
    # negative semi-definite field is non-expansive (Ruthotto and Haber, 2020, Thm 1)
    torch.manual_seed(9)
    par = ParabolicCNN(3, depth=5, h=0.05, norm=None, activation="tanh", dims=dims).to(DT)
    x = torch.randn(8, 3, *grid(dims, 6), dtype=DT)
    dx = 1e-4 * torch.randn_like(x)
    with torch.no_grad():
        ratio = (par(x + dx) - par(x)).flatten(1).norm(dim=1) / dx.flatten(1).norm(dim=1)
    assert float(ratio.max()) <= 1.0 + 1e-9


@pytest.mark.parametrize("dims", DIMS)
def test_hyperbolic_has_half_the_weights_of_parabolic(dims):
    count = lambda m: sum(p.numel() for n, p in m.named_parameters() if n.endswith("K"))  # noqa: E731
    hyp, par = HyperbolicCNN(8, depth=3, norm=None, dims=dims), ParabolicCNN(8, depth=3, dims=dims)
    assert count(hyp) * 2 == count(par) == 3 * 8 * 8 * 3**dims


@pytest.mark.parametrize("dims", DIMS)
def test_hyperbolic_cnn_formula(dims):
    torch.manual_seed(10)
    net = randomise_biases(HyperbolicCNN(4, depth=2, h=0.7, norm=None, dims=dims).to(DT))
    x = torch.randn(1, 4, *grid(dims, 4), dtype=DT)
    Y, Z = x[:, :2], x[:, 2:]
    for f1, f2 in zip(net.fields, net.fields2, strict=True):
        Y = Y + 0.7 * f1(0.0, Z)
        Z = Z - 0.7 * f2(0.0, Y)
    torch.testing.assert_close(net(x), torch.cat([Y, Z], 1))


def test_field_net_any_field_and_method():
    net = FieldNet("symmetric", "midpoint", depth=3, h=0.5, width=4, hidden=6).to(DT)
    assert net(torch.randn(2, 4, dtype=DT)).shape == (2, 4)
    for field in ("symmetric_conv", "odenet_conv"):
        for dims in DIMS:
            net = FieldNet(field, "rk4", depth=2, h=0.5, channels=4, dims=dims).to(DT)
            x = torch.randn(2, 4, *grid(dims, 5), dtype=DT)
            assert net(x).shape == x.shape
            assert net(x, return_states=True).shape == (3, *x.shape)
    with pytest.raises(ParamError, match="explicit"):
        FieldNet("dense", "backward_euler", depth=2, width=3)


def test_registry_and_bad_arguments():
    assert set(LAYERS) >= {
        "plain",
        "residual",
        "rk",
        "antisymmetric",
        "hamiltonian",
        "second_order",
        "parabolic_cnn",
        "hyperbolic_cnn",
        "second_order_cnn",
        "ode_block",
    }
    assert isinstance(get_layer("residual", width=3, depth=2, h=0.1), ResidualNet)
    with pytest.raises(UnknownNameError, match="valid layers: .*residual"):
        get_layer("resnet", width=3, depth=2)
    with pytest.raises(ParamError, match="depth"):
        ResidualNet(3, depth=0)
    with pytest.raises(ParamError, match="'h'"):
        ResidualNet(3, depth=2, h=-0.1)
    with pytest.raises(ParamError, match="even"):
        HyperbolicCNN(3)
    with pytest.raises(ParamError, match="form"):
        HamiltonianNet(4, 2, form="verlet")
    with pytest.raises(ParamError, match="gradient"):
        ODEBlock("dense", width=3, gradient="checkpoint")
    with pytest.raises(ParamError, match="torchdiffeq"):
        ODEBlock("dense", width=3, method="rk4", steps=4, gradient="adjoint",
                 adjoint_backend="torchdiffeq")  # its "rk4" is the 3/8 rule


def test_ode_block_direct_matches_solve_and_counts():
    torch.manual_seed(11)
    block = ODEBlock("dense", T=1.0, method="rk4", steps=5, width=3).to(DT)
    y0 = torch.randn(2, 3, dtype=DT)
    out = block(y0)
    torch.testing.assert_close(out, solve(copy.deepcopy(block.field), y0, 0.0, 1.0, 5, "rk4"))
    assert block.nfe_forward == 20 and block.nfe_backward == 0
    out.sum().backward()
    assert block.nfe_backward == 0  # direct backprop re-uses the recorded graph
    block.reset_nfe()
    assert block.nfe_forward == 0


def test_changing_h_after_construction_changes_the_scheme():
    from nnde.layers.stacks import ParabolicCNN

    torch.manual_seed(0)
    a = ParabolicCNN(4, depth=2, h=1.0)
    b = ParabolicCNN(4, depth=2, h=0.5)
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 4, 5, 5)
    a.h = 0.5
    torch.testing.assert_close(a(x), b(x))
    with pytest.raises(Exception, match="h"):
        a.h = 0.0
