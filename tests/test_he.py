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


# --------------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def mnist1d_file(tmp_path_factory):
    """The pipeline's MNIST-1D file when it is there, else the same data generated."""
    from nnde.data import generate_mnist1d, write_mnist1d

    if (ROOT / "data/mnist1d/mnist1d.npz").is_file():
        return str(ROOT / "data/mnist1d/mnist1d.npz")
    path = tmp_path_factory.mktemp("mnist1d") / "mnist1d.npz"
    write_mnist1d(path, generate_mnist1d())
    return str(path)


def small_cfg(**kw):
    p = dict(dataset="mnist1d", plain_depths=[8, 14], residual_depths=[8, 14], seeds=[0],
             split_seed=0, test_frac=0.05, train_subset=96, max_epochs=3,
             plateau=dict(patience=1, rel=0.01, drops=1, factor=0.1, floor=0.01),
             batch_size=32, eval_batch_size=1024, lr=0.1, momentum=0.9, weight_decay=1e-4,
             augment="none", pad=0, device="cpu", threads=1, workers=1,
             mnist1d_path="data/mnist1d/mnist1d.npz")
    p.update(kw)
    return p


def test_stage_runs_to_the_plateau_on_mnist1d_and_is_deterministic(mnist1d_file):
    cfg = deg.read_config(small_cfg(mnist1d_path=mnist1d_file, seeds=[0, 1]))
    data = deg.load_data(cfg)
    assert data[0].shape == (96, 1, 40) and data[2].shape == (1000, 1, 40)
    data = (*data[:2], data[2][:200], data[3][:200])  # a shorter test set: faster
    h1, r1, runs1 = deg.run(cfg, data)
    h2, r2, runs2 = deg.run(cfg, data)
    cols = ["train_error", "test_error", "train_loss", "lr"]
    pd.testing.assert_frame_equal(h1[cols], h2[cols])
    pd.testing.assert_frame_equal(r1, r2)
    assert set(h1.kind) == {"plain", "residual"} and set(h1.depth) == {8, 14}
    assert (h1.groupby("depth").params.nunique() == 1).all()  # same count, plain = residual
    assert len(r1[(r1.kind == "plain") & (r1.depth == 14) & (r1.seed == 0)]) == 6 * 2 + 1
    pd.testing.assert_frame_equal(runs1.drop(columns=["seconds", "cpu_seconds"]),
                                  runs2.drop(columns=["seconds", "cpu_seconds"]))
    # one row per trained net, with the plateau criterion's verdict
    assert len(runs1) == 2 * 2 * 2
    assert runs1.epochs_run.between(1, 3).all()
    assert set(runs1.stop_reason) <= {"plateau", "floor", "epoch cap"}
    conv = deg.convergence_rows(runs1)
    assert {r["model"] for r in conv} == {f"{k}-{d} seed {s}" for k in ("plain", "residual")
                                          for d in (8, 14) for s in (0, 1)}
    assert all(isinstance(r["converged"], bool) and isinstance(r["epochs_run"], int)
               for r in conv)
    final = deg.final_table(runs1)
    assert (final.seeds == 2).all() and (final.train_error_std >= 0).all()
    claims = deg.make_claims(final, deg.response_summary(r1), "tiny", conv)
    assert len(claims) == 6
    bad = [r["model"] for r in conv if not r["converged"]]
    for c in claims:  # every claim names its source and carries the convergence note
        assert re.search(r"\((Fig\. [67]|Table 6)", c.statement)
        if bad and c.id != "residual_responses_smaller":
            mentioned = [m for m in bad if m.split(" seed")[0] in c.our_value + c.statement]
            assert all(m in c.note for m in mentioned)


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


# --------------------------------------------------------------------------- paper profile
def write_tiny_cifar(root, n_per_file=16, seed=0):
    """CIFAR-10 in the real binary format: 3073-byte records (label byte + 3072 pixel
    bytes), data_batch_1..5.bin and test_batch.bin under <root>/cifar-10-batches-bin/."""
    d = root / "cifar-10-batches-bin"
    d.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        labels = rng.integers(0, 10, n_per_file, dtype=np.uint8)
        images = rng.integers(0, 256, (n_per_file, 3072), dtype=np.uint8)
        (d / name).write_bytes(np.concatenate([labels[:, None], images], 1).tobytes())


def paper_cfg(root, **kw):
    """The paper profile of params.yaml, cut to a handful of iterations and tiny depths
    (14 stands in for 110: it is the net warmed up)."""
    import yaml

    node = yaml.safe_load((ROOT / "params.yaml").read_text())["he"]["degradation"]
    p = {**node["common"], **node["paper"], "profile": "paper"}
    assert p["plain_depths"] == [20, 32, 44, 56] and p["residual_depths"][-1] == 110
    assert p["warmup_depths"] == [110] and p["warmup_lr"] == 0.01 and p["plateau"] is None
    assert p["lr_drops"] == [32000, 48000] and p["iterations"] == 64000
    p.update(plain_depths=[8], residual_depths=[8, 14], warmup_depths=[14], seeds=[0],
             iterations=12, lr_drops=[7, 9], batch_size=16, device="cpu", threads=1,
             data_root=str(root), eval_batch_size=64)
    p.update(kw)
    return p


def test_paper_profile_path_warms_up_and_drops_per_iteration(tmp_path):
    write_tiny_cifar(tmp_path)
    with pytest.raises(ParamError, match="at least two"):  # one plain depth is not a trend
        deg.read_config(paper_cfg(tmp_path))
    cfg = deg.read_config(paper_cfg(tmp_path, plain_depths=[8, 14]))
    assert cfg["plateau"] is None and cfg["augment"] == "crop_flip" and cfg["pad"] == 4
    data = deg.load_data(cfg)
    assert data[0].shape == (80, 3, 32, 32)
    # warmed-up net: 0.01 first, then the schedule once the running error is below the bar
    warm = deg.train_one("residual", 14, 0, {**cfg, "warmup_error": 1.0, "warmup_window": 1},
                         data=data)
    changes = warm["lr_changes"]
    assert changes[0] == (1, 0.01)
    end = warm["summary"]["warmup_end"]
    assert end is not None and changes[1] == (end + 1, 0.1 if end < 7 else 0.01)
    assert warm["records"][0]["lr"] in (0.01, 0.1)
    assert warm["summary"]["iterations"] == 10  # 12 iterations, rounded to 2 epochs of 5
    # a net that is not warmed up: 0.1, then ÷10 after iterations 7 and 9 exactly
    cold = deg.train_one("residual", 8, 0, cfg, data=data)
    assert cold["lr_changes"] == [(1, 0.1), (8, pytest.approx(0.01)),
                                  (10, pytest.approx(0.001))]
    assert cold["summary"]["warmup_end"] is None and cold["summary"]["converged"] is None
    # the warm-up bar not met (1 % error on random labels): 0.01 until the schedule's
    # drops go below it
    stuck = deg.train_one("residual", 14, 0, {**cfg, "warmup_error": 0.01}, data=data)
    assert stuck["lr_changes"] == [(1, 0.01), (10, pytest.approx(0.001))]
    assert stuck["summary"]["warmup_end"] is None
    # the whole stage on this path: plain at 8/14, residual at 8/14, fixed budget
    hist, resp, runs = deg.run(cfg)
    assert runs.converged.isna().all() or (runs.converged.map(lambda v: v is None)).all()
    assert {r["converged"] for r in deg.convergence_rows(runs)} == {None}
    claims = deg.make_claims(deg.final_table(runs), deg.response_summary(resp), "paper",
                             deg.convergence_rows(runs), "cifar10", plateau=False)
    assert all("Not converged" not in c.note for c in claims)


def test_lr_schedule_switches_on_the_running_error_and_drops_on_iterations():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.01)
    sched = deg.LrSchedule(0.1, drops=[5, 8], warmup_lr=0.01, warmup_error=0.8,
                           warmup_window=2)
    y = torch.zeros(10, dtype=torch.long)
    wrong = torch.eye(10)[torch.ones(10, dtype=torch.long)]  # predicts class 1: all wrong
    right = torch.eye(10)[y]
    sched(opt, 1, wrong, y)
    sched(opt, 2, right, y)  # window error (10 + 0) / 20 = 50 % < 80 %: warm-up over
    assert sched.warmup_end == 2 and opt.param_groups[0]["lr"] == 0.1
    for step in range(3, 10):
        sched(opt, step, wrong, y)  # after the warm-up the error no longer matters
    assert sched.changes == [(1, 0.01), (3, 0.1), (6, pytest.approx(0.01)),
                             (9, pytest.approx(0.001))]
    assert [sched.scheduled(s) for s in (5, 6, 8, 9)] == pytest.approx([0.1, 0.01, 0.01,
                                                                         0.001])
    # resumed after the warm-up (the optimiser's lr is no longer the warm-up lr)
    resumed = deg.LrSchedule(0.1, drops=[5], warmup_lr=0.01)
    opt.param_groups[0]["lr"] = 0.1
    resumed(opt, 4, wrong, y)
    assert not resumed.warming and opt.param_groups[0]["lr"] == 0.1


# --------------------------------------------------------------------------- claims
def fake_final(plain_train, res_train, plain_test, res_test, depths=(8, 56), std=0.1):
    rows = []
    for kind, tr, te in (("plain", plain_train, plain_test), ("residual", res_train, res_test)):
        for d, a, b in zip(depths, tr, te, strict=True):
            rows.append(dict(kind=kind, depth=d, params=1, train_error_mean=a,
                             train_error_std=std, train_loss_mean=a / 10, train_loss_std=0.0,
                             test_error_mean=b, test_error_std=std, epochs_mean=10.0,
                             converged="3/3", seeds=3))
    return pd.DataFrame(rows)


def fake_resp(plain, res, depths=(8, 56), std=0.01):
    rows = [dict(kind=k, depth=d, mean_response_std=v, seed_std=std)
            for k, vals in (("plain", plain), ("residual", res))
            for d, v in zip(depths, vals, strict=True)]
    return pd.DataFrame(rows)


GOOD = ([0.0, 5.0], [0.0, 0.0], [3.0, 8.0], [3.0, 2.5])


@pytest.mark.verdicts("he.degradation.plain_degrades", "he.degradation.residual_does_not_degrade",
                      "he.degradation.residual_beats_plain_deepest",
                      "he.degradation.resnet_test_error_falls_with_depth",
                      "he.degradation.residual_responses_smaller",
                      "he.degradation.deeper_resnet_responses_smaller")
def test_claims_follow_the_data():
    claims = deg.make_claims(fake_final(*GOOD), fake_resp([1.0, 1.5], [0.8, 0.7]), "small")
    assert {c.verdict for c in claims} == {"reproduced"}
    assert all("Not converged" not in c.note for c in claims)
    # Flip the data: the shallow plain net is worse, the residual nets degrade, responses
    # of residual nets are larger.
    bad = {c.id: c.verdict for c in deg.make_claims(
        fake_final([5.0, 0.0], [0.0, 5.0], [3.0, 2.0], [3.0, 9.0]),
        fake_resp([1.0, 1.0], [1.2, 1.3]), "small")}
    assert set(bad.values()) == {"not reproduced"}


@pytest.mark.verdicts("he.degradation.plain_degrades",
                      "he.degradation.residual_beats_plain_deepest")
def test_nets_that_have_not_learned_make_the_claims_inconclusive():
    # plain-56 at chance: its "degradation" would read reproduced, but says nothing
    final = fake_final([0.0, 89.0], [0.0, 0.0], [3.0, 90.0], [3.0, 2.5])
    claims = {c.id: c for c in deg.make_claims(final, fake_resp([1.0, 1.5], [0.8, 0.7]),
                                               "small")}
    for cid in ("plain_degrades", "residual_beats_plain_deepest",
                "residual_responses_smaller"):
        assert claims[cid].verdict == "inconclusive", cid
        assert "Floor:" in claims[cid].rule
    # the claims about residual nets alone still have a verdict
    assert claims["resnet_test_error_falls_with_depth"].verdict == "reproduced"


def test_a_difference_inside_the_seed_spread_is_not_reproduced():
    # The same means as GOOD, but seeds scatter by 6 pp (responses by 0.9): every ranking
    # is inside the spread, so none is reproduced; "no rise" stays reproduced.
    claims = {c.id: c for c in deg.make_claims(fake_final(*GOOD, std=6.0),
                                               fake_resp([1.0, 1.5], [0.8, 0.7], std=0.9),
                                               "small")}
    assert claims.pop("residual_does_not_degrade").verdict == "reproduced"
    for c in claims.values():
        assert c.verdict == "not reproduced", c.id
    assert "within the seed spread" in claims["plain_degrades"].note
    assert "within the seed spread" in claims["resnet_test_error_falls_with_depth"].note
    # just outside the spread: reproduced again
    claims = {c.id: c.verdict for c in deg.make_claims(fake_final(*GOOD, std=0.49),
                                                       fake_resp([1.0, 1.5], [0.8, 0.7]),
                                                       "small")}
    assert claims["resnet_test_error_falls_with_depth"] == "reproduced"  # 0.5 > 0.49


def test_a_middle_depth_against_the_trend_makes_it_partly():
    final = fake_final([0.0, 9.0, 5.0], [0.0, 0.0, 0.0], [3.0, 8.0, 9.0], [3.0, 2.0, 2.5],
                       depths=(8, 20, 56))
    claims = {c.id: c.verdict for c in deg.make_claims(
        final, fake_resp([1.0, 1.2, 1.5], [0.8, 0.75, 0.7], depths=(8, 20, 56)), "small")}
    assert claims["plain_degrades"] == "partly"  # 56 above 8, but 20 above 56 beyond spread
    assert claims["resnet_test_error_falls_with_depth"] == "partly"  # 20 < 56 beyond spread


def test_claims_carry_the_convergence_note_of_their_nets():
    conv = [dict(model=f"{k}-{d} seed {s}", final_train_loss=0.1, final_train_error=0.0,
                 epochs_run=30, converged=not (k == "plain" and d == 56 and s == 1),
                 stop_reason="plateau") for k in ("plain", "residual") for d in (8, 56)
            for s in (0, 1, 2)]
    claims = {c.id: c for c in deg.make_claims(fake_final(*GOOD), fake_resp([1.0, 1.5],
                                                                            [0.8, 0.7]),
                                               "small", conv)}
    for cid in ("plain_degrades", "residual_beats_plain_deepest", "residual_responses_smaller"):
        assert "Not converged: plain-56 seed 1" in claims[cid].note
    for cid in ("residual_does_not_degrade", "resnet_test_error_falls_with_depth",
                "deeper_resnet_responses_smaller"):
        assert "Not converged" not in claims[cid].note
    for c in claims.values():
        assert re.search(r"\((Fig\. [67]|Table 6)", c.statement), c.statement


@pytest.mark.parametrize("key,value,allowed", [
    ("plain_depths", [8, 10], "6n + 2"),
    ("residual_depths", [8], "at least two"),
    ("dataset", "mnist", "mnist1d, digits, cifar10"),
    ("lr", 0, "> 0"),
    ("augment", "mixup", "none, crop_flip"),
    ("seeds", [-1], ">= 0"),
    ("workers", 0, "> 0"),
    ("threads", "many", "auto or an integer > 0"),
    ("plateau", {"patience": 0}, "an integer >= 1"),
    ("max_epochs", 0, "> 0"),
    ("lr_drops", [5], "[] with a plateau criterion"),
    ("warmup_depths", [110], "[] with a plateau criterion"),
    ("augment", "crop_flip", "none for mnist1d"),
])
def test_bad_params_name_the_key(key, value, allowed):
    with pytest.raises(ParamError, match=re.escape(allowed)) as e:
        deg.read_config(small_cfg(**{key: value}))
    assert e.value.key.startswith(f"he.degradation.{key}")


def test_bad_fixed_schedule_params(tmp_path):
    with pytest.raises(ParamError, match="below iterations") as e:
        deg.read_config(paper_cfg(tmp_path, plain_depths=[8, 14], lr_drops=[500]))
    assert e.value.key == "he.degradation.lr_drops"
    with pytest.raises(ParamError, match="at least one depth also in plain_depths"):
        deg.read_config(paper_cfg(tmp_path, plain_depths=[8, 14], residual_depths=[20, 26]))


def test_missing_cifar_names_the_file(tmp_path):
    from nnde.errors import DataFileError

    cfg = deg.read_config(paper_cfg(tmp_path, plain_depths=[8, 14]))
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
