"""He et al. (2016): the plain/residual 6n+2 nets of :mod:`nnde.models.he` (the stages'
tests: tests/test_he_degradation.py, tests/test_he_euler_limit.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnde.models.he import CifarNet, OptionAShortcut, ResponseRecorder, cifar_net, depth_to_n
from nnde.train import count_parameters


# --------------------------------------------------------------------------- architecture
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_plain_and_residual_have_identical_parameter_counts(n):
    depth = 6 * n + 2
    for cin in (1, 3):
        plain, res = cifar_net("plain", depth, cin), cifar_net("residual", depth, cin)
        assert count_parameters(plain) == count_parameters(res)
        shapes = [p.shape for p in plain.parameters()]
        assert shapes == [p.shape for p in res.parameters()]


@pytest.mark.parametrize("n", [1, 3, 9])
def test_six_n_plus_two_weighted_layers(n):
    net = CifarNet(n, residual=True)
    weighted = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(weighted) == 6 * n + 2 == net.depth
    assert len(net.response_layers()) == 6 * n + 1  # every conv's BN
    assert all(m.kernel_size == (3, 3) for m in weighted if isinstance(m, nn.Conv2d))


def test_paper_parameter_counts():
    # Table 6: ResNet-20 0.27M, -56 0.85M, -110 1.7M (CIFAR-10: 3 channels, 10 classes)
    for depth, paper in ((20, 0.27e6), (56, 0.85e6), (110, 1.7e6)):
        assert abs(count_parameters(cifar_net("residual", depth)) - paper) / paper < 0.02


def test_option_a_shortcut_subsamples_and_zero_pads_channels():
    x = torch.randn(2, 16, 8, 8)
    y = OptionAShortcut(16, 32, stride=2)(x)
    assert y.shape == (2, 32, 4, 4)
    torch.testing.assert_close(y[:, :16], x[:, :, ::2, ::2], rtol=0, atol=0)
    assert torch.count_nonzero(y[:, 16:]) == 0
    torch.testing.assert_close(OptionAShortcut(16, 16)(x), x, rtol=0, atol=0)


def test_residual_block_is_one_euler_step_of_its_residual_function():
    # Within a stage: block(x) = ReLU(x + F(x)); with F(x) = 0 (last BN's scale zero) the
    # block is the identity on x >= 0, i.e. an Euler step with a zero vector field.
    torch.manual_seed(0)
    net = cifar_net("residual", 8, in_channels=1).eval()
    block = net.blocks[0]
    x = torch.rand(3, 16, 8, 8)
    torch.testing.assert_close(block(x), torch.relu(x + block.residual_function(x)))
    nn.init.zeros_(block.bn2.weight)
    nn.init.zeros_(block.bn2.bias)
    torch.testing.assert_close(block(x), x)


def test_maps_shrink_8_4_2_on_digits():
    net = cifar_net("plain", 8, in_channels=1).eval()
    sizes = []
    hooks = [b.register_forward_hook(lambda m, i, o: sizes.append(o.shape[-1]))
             for b in net.blocks]
    assert net(torch.rand(2, 1, 8, 8)).shape == (2, 10)
    for h in hooks:
        h.remove()
    assert sizes == [8, 4, 2]


def test_response_recorder_measures_per_channel_std():
    net = cifar_net("plain", 8, in_channels=1).eval()
    with torch.no_grad():
        net.bn.weight.copy_(torch.full_like(net.bn.weight, 3.0))
        net.bn.running_var.fill_(1.0)
        net.bn.running_mean.zero_()
    x = torch.rand(64, 1, 8, 8)
    with torch.no_grad(), ResponseRecorder(net) as rec:
        net(x[:32])
        net(x[32:])
        conv_out = net.conv(x)
    stds = rec.stds()
    assert len(stds) == 7
    expect = (3.0 * conv_out / (1 + net.bn.eps) ** 0.5).transpose(0, 1).flatten(1).std(
        1, unbiased=False).mean()
    assert abs(stds[0] - float(expect)) < 1e-4


def test_depth_to_n_rejects_other_depths():
    assert depth_to_n(56) == 9
    for bad in (7, 10, 2, True):
        with pytest.raises(ValueError):
            depth_to_n(bad)


# --------------------------------------------------------------------------- 1-D nets
@pytest.mark.parametrize("depth", [8, 20, 56])
def test_1d_plain_and_residual_have_identical_parameters(depth):
    plain = cifar_net("plain", depth, 1, dims=1)
    res = cifar_net("residual", depth, 1, dims=1)
    assert count_parameters(plain) == count_parameters(res)
    assert [p.shape for p in plain.parameters()] == [p.shape for p in res.parameters()]
    # same seed, same initial weights (the stage pairs plain and residual nets this way)
    torch.manual_seed(3)
    a = cifar_net("plain", depth, 1, dims=1)
    torch.manual_seed(3)
    b = cifar_net("residual", depth, 1, dims=1)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)


@pytest.mark.parametrize("n", [1, 3, 9])
def test_1d_six_n_plus_two_weighted_layers(n):
    net = CifarNet(n, residual=True, in_channels=1, dims=1)
    weighted = [m for m in net.modules() if isinstance(m, (nn.Conv1d, nn.Linear))]
    assert len(weighted) == 6 * n + 2 == net.depth
    assert not any(isinstance(m, (nn.Conv2d, nn.BatchNorm2d)) for m in net.modules())
    assert all(m.kernel_size == (3,) for m in weighted if isinstance(m, nn.Conv1d))
    assert len(net.response_layers()) == 6 * n + 1
    assert all(isinstance(m, nn.BatchNorm1d) for m in net.response_layers())


def test_1d_option_a_shortcut_subsamples_and_zero_pads_channels():
    x = torch.randn(2, 16, 40)
    y = OptionAShortcut(16, 32, stride=2)(x)
    assert y.shape == (2, 32, 20)
    torch.testing.assert_close(y[:, :16], x[:, :, ::2], rtol=0, atol=0)
    assert torch.count_nonzero(y[:, 16:]) == 0
    torch.testing.assert_close(OptionAShortcut(16, 16)(x), x, rtol=0, atol=0)
    assert OptionAShortcut(32, 64, stride=2)(torch.randn(1, 32, 20)).shape == (1, 64, 10)


def test_1d_maps_are_40_20_10_on_mnist1d():
    net = cifar_net("residual", 20, in_channels=1, dims=1).eval()
    sizes = []
    hooks = [b.register_forward_hook(lambda m, i, o: sizes.append(tuple(o.shape[1:])))
             for b in net.blocks]
    assert net(torch.randn(2, 1, 40)).shape == (2, 10)
    for h in hooks:
        h.remove()
    assert sizes == [(16, 40)] * 3 + [(32, 20)] * 3 + [(64, 10)] * 3


def test_1d_residual_block_is_one_euler_step():
    torch.manual_seed(0)
    net = cifar_net("residual", 8, in_channels=1, dims=1).eval()
    block = net.blocks[0]
    x = torch.rand(3, 16, 40)
    torch.testing.assert_close(block(x), torch.relu(x + block.residual_function(x)))
    nn.init.zeros_(block.bn2.weight)
    nn.init.zeros_(block.bn2.bias)
    torch.testing.assert_close(block(x), x)  # zero vector field: the step leaves x alone
    plain = cifar_net("plain", 8, in_channels=1, dims=1).eval()
    torch.testing.assert_close(plain.blocks[0](x), torch.relu(plain.blocks[0]
                                                              .residual_function(x)))


def test_1d_response_recorder_and_bad_dims():
    net = cifar_net("plain", 8, in_channels=1, dims=1).eval()
    x = torch.randn(16, 1, 40)
    with torch.no_grad(), ResponseRecorder(net) as rec:
        net(x)
        first = net.bn(net.conv(x))
    stds = rec.stds()
    assert len(stds) == 7
    expect = first.transpose(0, 1).flatten(1).std(1, unbiased=False).mean()
    assert abs(stds[0] - float(expect)) < 1e-5
    with pytest.raises(ValueError, match="dims"):
        cifar_net("plain", 8, dims=3)


# ----------------------------------------------------------- the channels-last 1-D layers
@pytest.mark.parametrize("stride", [1, 2])
def test_signal_conv_and_batchnorm_equal_conv1d_and_batchnorm1d(stride):
    """The 1-D nets' layers run as one-row channels-last 2-D kernels: the same outputs,
    input and weight gradients and running statistics as Conv1d and BatchNorm1d."""
    from nnde.models.he import SignalBatchNorm, SignalConv

    torch.manual_seed(0)
    ref_c, ref_b = nn.Conv1d(6, 10, 3, stride=stride, padding=1, bias=False), nn.BatchNorm1d(10)
    fast_c, fast_b = SignalConv(6, 10, 3, stride=stride, padding=1, bias=False), SignalBatchNorm(10)
    fast_c.load_state_dict(ref_c.state_dict())
    for m in (ref_b, fast_b):  # a non-trivial affine part
        m.weight.data = torch.linspace(0.5, 1.5, 10)
        m.bias.data = torch.linspace(-1, 1, 10)
    x = torch.randn(7, 6, 20, dtype=torch.float64)
    for m in (ref_c, ref_b, fast_c, fast_b):
        m.double()
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = ref_b(ref_c(xa)), fast_b(fast_c(xb))
    assert yb.shape == ya.shape == (7, 10, 20 // stride)
    torch.testing.assert_close(yb, ya)
    w = torch.randn_like(ya)
    (ya * w).sum().backward()
    (yb * w).sum().backward()
    torch.testing.assert_close(xb.grad, xa.grad)
    torch.testing.assert_close(fast_c.weight.grad, ref_c.weight.grad)
    torch.testing.assert_close(fast_b.weight.grad, ref_b.weight.grad)
    torch.testing.assert_close(fast_b.running_mean, ref_b.running_mean)
    torch.testing.assert_close(fast_b.running_var, ref_b.running_var)
    ref_b.eval(), fast_b.eval()
    torch.testing.assert_close(fast_b(fast_c(x)), ref_b(ref_c(x)))
    with pytest.raises(ValueError, match="expected 2D or 3D"):
        fast_b(torch.randn(2, 10, 1, 1, 1))


def test_1d_net_trains_the_same_with_channels_last_layers():
    """A whole 1-D residual net: one SGD step gives the same loss and weights as the same
    net built from plain Conv1d/BatchNorm1d layers."""
    from nnde.models import he

    torch.manual_seed(1)
    fast = cifar_net("residual", 8, in_channels=1, dims=1).double()
    slow = cifar_net("residual", 8, in_channels=1, dims=1).double()
    slow.load_state_dict(fast.state_dict())
    for name, m in list(slow.named_modules()):  # swap in the reference layers
        if isinstance(m, he.SignalConv):
            ref = nn.Conv1d(m.in_channels, m.out_channels, 3, m.stride, 1, bias=False).double()
            ref.weight.data.copy_(m.weight.data)
        elif isinstance(m, he.SignalBatchNorm):
            ref = nn.BatchNorm1d(m.num_features).double()
            ref.load_state_dict(m.state_dict())
        else:
            continue
        parent, _, leaf = name.rpartition(".")
        setattr(slow.get_submodule(parent) if parent else slow, leaf, ref)
    assert not any(isinstance(m, (he.SignalConv, he.SignalBatchNorm)) for m in slow.modules())
    x, y = torch.randn(16, 1, 40, dtype=torch.float64), torch.randint(0, 10, (16,))
    for net in (fast, slow):
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        for _ in range(2):
            opt.zero_grad()
            nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
    for (n, p), q in zip(fast.state_dict().items(), slow.state_dict().values(), strict=True):
        torch.testing.assert_close(p, q, msg=n)


# ------------------------------------------------------------------- nets side by side
@pytest.mark.parametrize("kind,dims", [("residual", 1), ("plain", 1), ("residual", 2)])
def test_side_by_side_nets_compute_each_member_as_alone(kind, dims):
    """CifarNet.side_by_side: member e's logits, gradients and BatchNorm statistics are
    those of net e on its own input; write_back returns the (changed) weights."""
    torch.manual_seed(0)
    nets = [cifar_net(kind, 14, 2, 5, dims=dims, widths=(4, 8, 8)).double() for _ in range(3)]
    copies = [cifar_net(kind, 14, 2, 5, dims=dims, widths=(4, 8, 8)).double() for _ in nets]
    for c, m in zip(copies, nets, strict=True):
        c.load_state_dict(m.state_dict())
    big = CifarNet.side_by_side(nets)
    assert big.members == 3 and count_parameters(big) == 3 * count_parameters(nets[0])
    shape = (6, 2, 40) if dims == 1 else (6, 2, 8, 8)
    xs = [torch.randn(*shape, dtype=torch.float64) for _ in nets]
    out = big(torch.cat(xs, 1))
    ref = torch.stack([m(x) for m, x in zip(nets, xs, strict=True)], 1)
    assert out.shape == (6, 3, 5)
    torch.testing.assert_close(out, ref)
    w = torch.randn_like(out)
    (out * w).sum().backward()
    (ref * w).sum().backward()
    with torch.no_grad():  # a step on the side-by-side net, then back into the members
        for p in big.parameters():
            p -= 0.1 * p.grad
    big.write_back(nets)
    for m, c in zip(nets, copies, strict=True):
        for (name, p), q in zip(m.named_parameters(), c.parameters(), strict=True):
            torch.testing.assert_close(p, q - 0.1 * p.grad, msg=name)
        for name, b in m.named_buffers():  # the training pass's BatchNorm statistics
            if "running" in name:
                assert not torch.equal(b, dict(c.named_buffers())[name]), name
    big.eval()
    for m in nets:
        m.eval()
    torch.testing.assert_close(big(torch.cat(xs, 1)),
                               torch.stack([m(x) for m, x in zip(nets, xs, strict=True)], 1))


def test_side_by_side_rejects_nets_of_different_shapes():
    a, b = cifar_net("residual", 8, 1, dims=1), cifar_net("residual", 14, 1, dims=1)
    with pytest.raises(ValueError, match="one kind, depth"):
        CifarNet.side_by_side([a, b])
    with pytest.raises(ValueError, match="one kind, depth"):
        CifarNet.side_by_side([a, cifar_net("plain", 8, 1, dims=1)])
    with pytest.raises(ValueError, match="non-empty"):
        CifarNet.side_by_side([])
    big = CifarNet.side_by_side([a, a])
    with pytest.raises(ValueError, match="3 nets for 2 members"):
        big.write_back([a, a, a])
    with pytest.raises(ValueError, match="members"):
        CifarNet(1, True, members=0)


def test_benchmark_modes_take_the_same_steps():
    """nnde.bench.he_nets: torch's layers, the channels-last layers one by one and the
    nets side by side train the same nets on the same batches (same losses)."""
    from nnde.bench.he_nets import he_step

    losses = {}
    for mode in ("conv1d", "one_by_one", "side_by_side"):
        step = he_step(8, 3, mode, batch=16)
        losses[mode] = [step() for _ in range(3)]
    for mode in ("one_by_one", "side_by_side"):
        assert losses[mode] == pytest.approx(losses["conv1d"], rel=1e-4)
    assert losses["conv1d"][0] != losses["conv1d"][2]  # the nets did learn something
    with pytest.raises(ValueError, match="mode"):
        he_step(8, 3, "grouped")
