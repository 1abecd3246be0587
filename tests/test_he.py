"""He et al. (2016): the plain/residual 6n+2 nets, the degradation claims, and the
lecture's ResNet-as-Euler limit."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from nnde.errors import ParamError
from nnde.models.he import CifarNet, OptionAShortcut, ResponseRecorder, cifar_net, depth_to_n
from nnde.train import count_parameters

ROOT = Path(__file__).resolve().parents[1]


def _load(name):
    path = ROOT / f"reproductions/he/{name}.py"
    spec = importlib.util.spec_from_file_location(f"he_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


deg = _load("degradation")
eul = _load("euler_limit")


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


# --------------------------------------------------------------------------- training
def small_cfg(**kw):
    p = dict(dataset="digits", depths=[8, 14], seeds=[0], split_seed=0, test_frac=0.05,
             train_subset=64, iterations=2, lr_drops=[], batch_size=32, eval_batch_size=256,
             lr=0.02, momentum=0.9, weight_decay=1e-4, augment="none", pad=0, device="cpu",
             threads=1, workers=1)
    p.update(kw)
    return p


def test_stage_runs_and_is_deterministic():
    cfg = deg.read_config(small_cfg())
    h1, r1 = deg.run(cfg)
    h2, r2 = deg.run(cfg)
    cols = ["train_error", "test_error", "train_loss"]
    pd.testing.assert_frame_equal(h1[cols], h2[cols])
    pd.testing.assert_frame_equal(r1, r2)
    assert set(h1.kind) == {"plain", "residual"} and set(h1.depth) == {8, 14}
    assert (h1.groupby("depth").params.nunique() == 1).all()  # same count, plain = residual
    assert len(r1[(r1.kind == "plain") & (r1.depth == 14)]) == 6 * 2 + 1


def test_crop_flip_is_a_shifted_window():
    aug = deg.crop_flip(2)
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).reshape(2, 1, 4, 4) + 1
    y = aug(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for b in range(2):
        windows = [padded[b, :, i : i + 4, j : j + 4] for i in range(5) for j in range(5)]
        windows += [w.flip(-1) for w in windows]
        assert any(torch.equal(y[b], w) for w in windows)


def fake_final(plain_train, res_train, plain_test, res_test, depths=(8, 56)):
    rows = []
    for kind, tr, te in (("plain", plain_train, plain_test), ("residual", res_train, res_test)):
        for d, a, b in zip(depths, tr, te, strict=True):
            rows.append(dict(kind=kind, depth=d, params=1, train_error_mean=a, train_error_std=0.1,
                             test_error_mean=b, test_error_std=0.1, seeds=2))
    return pd.DataFrame(rows)


def fake_resp(plain, res, depths=(8, 56)):
    rows = [dict(kind=k, depth=d, mean_response_std=v, seed_std=0.0)
            for k, vals in (("plain", plain), ("residual", res))
            for d, v in zip(depths, vals, strict=True)]
    return pd.DataFrame(rows)


def test_claims_follow_the_data():
    good = {c.id: c.verdict for c in deg.make_claims(
        fake_final([0.0, 5.0], [0.0, 0.0], [3.0, 8.0], [3.0, 2.5]),
        fake_resp([1.0, 1.5], [0.8, 0.7]), "small")}
    assert set(good.values()) == {"reproduced"}
    # Flip the data: the shallow plain net is worse, the residual nets degrade, responses
    # of residual nets are larger.
    bad = {c.id: c.verdict for c in deg.make_claims(
        fake_final([5.0, 0.0], [0.0, 5.0], [3.0, 2.0], [3.0, 9.0]),
        fake_resp([1.0, 1.0], [1.2, 1.3]), "small")}
    assert set(bad.values()) == {"not reproduced"}


@pytest.mark.parametrize("key,value,allowed", [
    ("depths", [8, 10], "6n + 2"),
    ("depths", [8], "at least two"),
    ("dataset", "mnist", "digits, cifar10"),
    ("lr", 0, "> 0"),
    ("lr_drops", [500], "below iterations"),
    ("augment", "mixup", "none, crop_flip"),
    ("seeds", [-1], ">= 0"),
    ("workers", 0, "> 0"),
])
def test_bad_params_name_the_key(key, value, allowed):
    with pytest.raises(ParamError, match=re.escape(allowed)) as e:
        deg.read_config(small_cfg(**{key: value}))
    assert e.value.key.startswith(f"he.degradation.{key}")


def test_missing_cifar_names_the_file(tmp_path):
    from nnde.errors import DataFileError

    cfg = deg.read_config(small_cfg(dataset="cifar10", data_root=str(tmp_path)))
    with pytest.raises(DataFileError, match="data_batch_1.bin"):
        deg.load_data(cfg)


# --------------------------------------------------------------------------- Euler limit
def euler_cfg(**kw):
    p = dict(T=1.0, layers=[8, 16, 32, 64], features=4, examples=8, modes=3, scale=2.0,
             reference_steps=512, seeds=[0], slope_tolerance=0.2, threads=1)
    p.update(kw)
    return eul.read_config(p)


def test_euler_view_is_first_order():
    df = eul.run(euler_cfg())
    tl = df[df.alpha == "T/L"].sort_values("layers")
    ratios = tl.error_vs_flow.to_numpy()[:-1] / tl.error_vs_flow.to_numpy()[1:]
    assert np.all(np.abs(ratios - 2) < 0.2)  # halving the step halves the error
    assert abs(eul.fit_slope(tl.layers, tl.error_vs_flow) + 1) < 0.05
    claims = {c.id: c.verdict for c in eul.make_claims(df, eul.slopes(df))}
    assert claims == {"euler_first_order": "reproduced", "alpha_one_no_limit": "reproduced"}


def test_residual_mlp_is_forward_euler():
    from nnde.integrators import solve

    cfg = euler_cfg()
    w = eul.SmoothWeights(4, 1.0, 3, 2.0, seed=1)
    y0 = torch.randn(5, 4, dtype=torch.float64)
    L = 16
    net = eul.ResidualMLP(w, L, 1.0 / L)

    def f(t, y):
        W, b = w(t)
        return torch.tanh(y @ W.T + b)

    torch.testing.assert_close(net(y0), solve(f, y0, 0.0, 1.0, steps=L, method="euler"))
    assert cfg["layers"] == [8, 16, 32, 64]


def test_euler_claims_flip_when_data_flip():
    df = eul.run(euler_cfg())
    flipped = df.copy()
    m = flipped.alpha == "T/L"
    flipped.loc[m, "error_vs_flow"] = 1.0 / flipped.loc[m, "layers"] ** 2  # second order
    flipped.loc[flipped.alpha == "1", "cauchy_next"] = 1.0 / flipped.loc[
        flipped.alpha == "1", "layers"]
    claims = {c.id: c.verdict for c in eul.make_claims(flipped, eul.slopes(flipped))}
    assert claims == {"euler_first_order": "not reproduced",
                      "alpha_one_no_limit": "not reproduced"}


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
