"""Chen et al. (2018): the spiral system, model sizes, measured memory, latent ODE / RNN,
claims and parameters of the reproduction stages."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from nnde.errors import ParamError
from nnde.models.chen import (
    LatentODE,
    RNNBaseline,
    SavedTensorMeter,
    make_classifier,
    make_spirals,
    sample_observations,
)
from nnde.train import count_parameters

ROOT = Path(__file__).resolve().parents[1] / "reproductions/chen"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"chen_{name}", ROOT / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors: one thread is faster, and immune to a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


spiral, table1, fig3, memory, table2 = (
    _load(n) for n in ("spiral", "table1", "fig3", "memory", "table2")
)


# --------------------------------------------------------------------------- spiral data
def test_spiral_data_obey_the_energy_law():
    """V = Σ y⁴/4 falls with dV/dt = −0.1 Σ y⁶ along the generated trajectory."""
    t, y = spiral.true_trajectory(2.0, 201)
    assert torch.allclose(y[0], torch.tensor([2.0, 0.0], dtype=y.dtype))
    dV, integral = spiral.energy_balance(t, y)
    assert dV < 0
    assert abs(dV - integral) <= 1e-3 * abs(dV)
    V = (y**4).sum(-1) / 4
    assert bool((V.diff() <= 1e-12).all())  # monotone decay


def test_spiral_claims_flip():
    log = pd.DataFrame({"iteration": [1, 10], "train_loss": [1.0, 0.1], "test_loss": [2.0, 0.5]})
    good = spiral.make_claims(log, (-1.0, -1.0), 0.5, 10)
    assert [c.verdict for c in good] == ["reproduced", "reproduced"]
    bad_log = log.assign(test_loss=[0.5, 2.0], train_loss=[0.1, 1.0])
    bad = spiral.make_claims(bad_log, (1.0, -1.0), 0.5, 10)
    assert [c.verdict for c in bad] == ["not reproduced", "not reproduced"]


# --------------------------------------------------------------------------- Table 1
def test_odenet_has_fewer_parameters_than_resnet():
    n = {
        k: count_parameters(make_classifier(k, image_size=8, channels=8, downsample=1))
        for k in ("mlp", "resnet", "rknet", "odenet")
    }
    assert n["odenet"] < n["resnet"]
    assert n["odenet"] == n["rknet"]
    # Paper scale: 64 channels on 28x28, downsampled twice; close to 0.22M / 0.60M.
    ode = count_parameters(make_classifier("odenet", image_size=28, channels=64, downsample=2))
    res = count_parameters(make_classifier("resnet", image_size=28, channels=64, downsample=2))
    assert 0.18e6 < ode < 0.26e6 and 0.5e6 < res < 0.7e6


def test_1d_classifiers_shapes_and_parameter_order():
    """MNIST-1D signals (B, 1, 40): every model gives (B, 10); the ODE-Net (one shared
    block) has fewer parameters than the ResNet (6 blocks), as in the paper."""
    x = torch.randn(3, 1, 40)
    n = {}
    for k in ("mlp", "resnet", "rknet", "odenet"):
        m = make_classifier(
            k,
            image_size=40,
            dims=1,
            channels=8,
            groups=4,
            downsample=2,
            mlp_hidden=16,
            method="rk4" if k == "rknet" else "dopri5",
            steps=1 if k == "rknet" else None,
            rtol=0.1,
            atol=0.1,
        )
        assert m(x).shape == (3, 10)
        n[k] = count_parameters(m)
        if k != "mlp":
            assert not any(isinstance(c, torch.nn.Conv2d) for c in m.modules())
    assert n["odenet"] == n["rknet"] < n["resnet"]
    assert n["mlp"] == 40 * 16 + 16 + 16 * 10 + 10
    with pytest.raises(ParamError):
        make_classifier("resnet", image_size=40, dims=3)
    with pytest.raises(ParamError):
        make_classifier("resnet", image_size=40, dims=1, channels=8, groups=3)


def _table(
    mlp=(35.0, 1.0),
    resnet=(3.0, 0.5),
    rknet=(3.4, 0.5),
    odenet=(3.6, 0.5),
    mem=(0.1, 5.0, 9.0, 1.0),
):
    rows = zip(
        ("mlp", "resnet", "rknet", "odenet"),
        (mlp, resnet, rknet, odenet),
        mem,
        (100, 500, 200, 200),
        (0, 0, 8, 26),
        strict=True,
    )
    return pd.DataFrame(
        [
            {
                "kind": k,
                "model": table1.NAMES[k],
                "seeds": 3,
                "test_error_mean": e[0],
                "test_error_sd": e[1],
                "params": p,
                "peak_saved_MB": m,
                "nfe_forward": f,
            }
            for k, e, m, p, f in rows
        ]
    )


def _verdicts(table, conv=None):
    return {c.id: c.verdict for c in table1.make_claims(table, 2.0, 1000, conv)}


@pytest.mark.verdicts("chen.table1.odenet_close_to_resnet", "chen.table1.mlp_worst",
                      "chen.table1.odenet_least_memory")
def test_table1_claims_flip():
    good = _verdicts(_table())
    assert good == dict.fromkeys(
        ("odenet_close_to_resnet", "mlp_worst", "odenet_least_memory"), "reproduced"
    )
    # a huge ODE-Net error is not "close", however few parameters it has
    bad = _verdicts(_table(odenet=(30.0, 0.5), mem=(0.1, 5.0, 9.0, 20.0)))
    assert bad["odenet_close_to_resnet"] == "not reproduced"
    assert bad["odenet_least_memory"] == "not reproduced"
    # a gap between 2 and 4 spreads: partly
    assert _verdicts(_table(odenet=(4.5, 0.5)))["odenet_close_to_resnet"] == "partly"
    # an ODE-Net better than the ResNet is close
    assert _verdicts(_table(odenet=(2.0, 0.5)))["odenet_close_to_resnet"] == "reproduced"
    # an MLP error above the ResNet's but within the seed spread is not reproduced
    assert _verdicts(_table(mlp=(4.0, 1.0)))["mlp_worst"] == "not reproduced"
    # ... nor one below any convolutional model
    assert _verdicts(_table(odenet=(40.0, 0.5)))["mlp_worst"] == "not reproduced"


@pytest.mark.verdicts("chen.table1.odenet_close_to_resnet", "chen.table1.mlp_worst")
def test_table1_comparisons_are_inconclusive_when_a_model_has_not_learned():
    # every model at chance: "close" and "MLP worst" would otherwise read reproduced
    chance = _verdicts(_table(mlp=(90.0, 1.0), resnet=(89.0, 0.5), rknet=(90.0, 0.5),
                              odenet=(89.5, 0.5)))
    assert chance["odenet_close_to_resnet"] == chance["mlp_worst"] == "inconclusive"
    # an MLP that has not learned makes "MLP worst" inconclusive, not reproduced
    assert _verdicts(_table(mlp=(88.0, 1.0)))["mlp_worst"] == "inconclusive"
    claims = {c.id: c for c in table1.make_claims(_table(), 2.0, 1000)}
    assert "Floor:" in claims["mlp_worst"].rule
    assert claims["odenet_least_memory"].verdict == "reproduced"  # memory needs no floor


def test_table1_claims_spread_and_convergence_note():
    one_seed = _table(resnet=(3.0, float("nan")), odenet=(3.5, float("nan")))
    # one seed: the spread is the binomial standard error of the ResNet's error
    r, o = (next(one_seed[one_seed.kind == k].itertuples()) for k in ("resnet", "odenet"))
    assert table1.spread(o, r, 1000) == pytest.approx(100 * (0.03 * 0.97 / 1000) ** 0.5)
    conv = [
        {
            "model": f"{table1.NAMES[k]} seed {s}",
            "kind": k,
            "final_train_loss": 0.5,
            "final_train_error": 0.1,
            "epochs_run": 40,
            "converged": k != "odenet" or s != 1,
            "stop_reason": "plateau",
        }
        for k in ("mlp", "resnet", "rknet", "odenet")
        for s in (0, 1, 2)
    ]
    notes = {c.id: c.note for c in table1.make_claims(_table(), 2.0, 1000, conv)}
    assert "ODE-Net seed 1" in notes["odenet_close_to_resnet"]
    assert all("Not converged" in n for n in notes.values())
    conv_ok = [{**c, "converged": True} for c in conv]
    assert not any(c.note for c in table1.make_claims(_table(), 2.0, 1000, conv_ok))


@pytest.fixture(scope="module")
def mnist1d_file(tmp_path_factory):
    from nnde.data import generate_mnist1d, write_mnist1d

    path = tmp_path_factory.mktemp("mnist1d") / "mnist1d.npz"
    write_mnist1d(path, generate_mnist1d(num_samples=200, train_split=0.8))
    return path


def test_table1_run_on_tiny_mnist1d(mnist1d_file, tmp_path):
    """The stage's run on a small MNIST-1D file: every (model, seed) is trained, has a
    convergence row, the summary has a spread, and Figure 3 rebuilds the saved ODE-Net
    and sweeps tolerances on 1-D test signals."""
    p = {**_params("table1"), **_profile("table1", "tiny")}
    p.update(mnist1d_path=str(mnist1d_file), train_subset=100, test_subset=40, epochs=2)
    cfg = table1.read_config(p)
    per_seed, hist, state, info = table1.run(cfg)
    assert info == {"size": 40, "dims": 1, "n_train": 100, "n_test": 40}
    assert len(per_seed) == 4 * len(cfg["seeds"]) and set(hist.seed) == set(cfg["seeds"])
    conv = table1.convergence_rows(per_seed)
    assert len(conv) == len(per_seed)
    assert all(r["converged"] in (True, False) and 1 <= r["epochs_run"] <= 2 for r in conv)
    table = table1.summarise(per_seed, "mnist1d")
    assert table.test_error_sd.notna().all()
    assert set(table.reference_accuracy_pct) == {68.0, 94.0}
    claims = table1.make_claims(table, cfg["close_sd"], info["n_test"], conv)
    assert [c.id for c in claims] == ["odenet_close_to_resnet", "mlp_worst", "odenet_least_memory"]
    ckpt = tmp_path / "odenet.pt"
    torch.save(table1.checkpoint(state, cfg, info), ckpt)
    model, tcfg = fig3.load_trained(str(ckpt))
    assert tcfg["dims"] == 1 and tcfg["seed"] == cfg["seeds"][0]
    x, y = fig3.held_out_batch(tcfg, 8)
    assert x.shape == (8, 1, 40)
    sweep = fig3.tolerance_sweep(model, x, y, [0.1, 0.01], repeats=1)
    assert (sweep.nfe_forward > 0).all() and (sweep.train_nfe_backward > 0).all()


# --------------------------------------------------------------------------- memory
def test_memory_grows_with_steps_for_direct_not_adjoint():
    mem = memory.memory_vs_steps([2, 8], dim=2, hidden=4, batch=4, seed=0)
    d = mem[mem.gradient == "direct"].set_index("steps").peak_saved_MB
    a = mem[mem.gradient == "adjoint"].set_index("steps").peak_saved_MB
    assert d[8] > 3 * d[2]
    assert a[8] == a[2]
    s = memory.slopes(mem)
    assert s["direct"] > 0.9 and abs(s["adjoint"]) < 1e-6


def test_meter_releases_after_backward():
    x = torch.randn(16, 4, requires_grad=True)
    with SavedTensorMeter() as m:
        y = torch.tanh(x @ torch.randn(4, 4)).exp().sum()
        peak_before = m.current
        y.backward()
    assert peak_before > 0 and m.current == 0 and m.peak >= peak_before


def test_memory_claims_flip():
    steps = [8, 32, 128]
    good = pd.DataFrame(
        {
            "gradient": ["direct"] * 3 + ["adjoint"] * 3,
            "steps": steps * 2,
            "peak_saved_MB": [1, 4, 16, 0.1, 0.1, 0.1],
        }
    )
    bad = good.assign(peak_saved_MB=[1, 1, 1, 0.1, 0.4, 1.6])
    err = pd.DataFrame(
        {"gradient": ["adjoint"] * 3, "tol": [1e-2, 1e-4, 1e-6], "rel_error": [1e-1, 1e-3, 1e-5]}
    )
    v = lambda cs: [c.verdict for c in cs]  # noqa: E731
    assert v(memory.make_claims(good, err, 0.1, 0.8)) == ["reproduced"] * 3
    flipped = memory.make_claims(bad, err.assign(rel_error=[1e-5, 1e-3, 1e-1]), 0.1, 0.8)
    assert v(flipped) == ["not reproduced"] * 3


@pytest.mark.verdicts("chen.fig3.nfe_grows_with_tolerance", "chen.fig3.nfe_proportional_time",
                      "chen.fig3.backward_half_forward", "chen.fig3.nfe_grows_in_training")
def test_fig3_claims_flip():
    sweep = pd.DataFrame(
        {
            "tol": [1e-1, 1e-2, 1e-3],
            "nfe_forward": [14, 20, 32],
            "rel_error": [1e-2, 1e-3, 1e-4],
            "seconds": [1.4, 2.0, 3.2],
            "train_nfe_forward": [14, 20, 32],
            "train_nfe_backward": [7, 10, 16],
        }
    )
    hist = pd.DataFrame({"epoch": [1, 2], "nfe_forward": [20, 26], "nfe_backward": [10, 13]})
    assert all(c.verdict == "reproduced" for c in fig3.make_claims(sweep, hist))
    sweep2 = sweep.assign(
        nfe_forward=[32, 20, 14],
        rel_error=[1e-4, 1e-3, 1e-2],
        seconds=[1.0, 3.0, 1.0],
        train_nfe_backward=[40, 50, 70],
    )
    hist2 = hist.assign(nfe_forward=[26, 20], nfe_backward=[60, 50])
    assert all(c.verdict == "not reproduced" for c in fig3.make_claims(sweep2, hist2))


# --------------------------------------------------------------------------- Table 2
def test_spirals_turn_both_ways_and_observations_are_sorted():
    t, clean, noisy, direction = make_spirals(10, 20, 5, noise=0.0, seed=1)
    assert clean.shape == (10, 25, 2) and np.allclose(clean, noisy)
    assert set(direction) == {1.0, -1.0}
    # angular velocity sign = direction
    ang = np.unwrap(np.arctan2(clean[..., 1], clean[..., 0]), axis=1)
    assert np.all(np.sign(np.diff(ang, axis=1)).mean(1) == direction)
    idx = sample_observations(10, 20, 7, torch.Generator().manual_seed(0))
    assert idx.shape == (10, 7) and bool((idx.diff(dim=1) > 0).all()) and int(idx.max()) < 20


@pytest.mark.parametrize("cls", [LatentODE, RNNBaseline])
def test_sequence_models_shapes_and_tiny_overfit(cls):
    torch.manual_seed(0)
    t, _, noisy, _ = make_spirals(4, 12, 4, b=0.05, noise=0.0, seed=0)
    t, x = torch.from_numpy(t), torch.from_numpy(noisy)
    model = cls(method="euler") if cls is LatentODE else cls()
    idx = sample_observations(4, 12, 6, torch.Generator().manual_seed(0))
    pred, kl = model(t, x, idx, sample=False)
    assert pred.shape == (4, 16, 2) and kl.shape == (4,)
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    first = None
    for _ in range(40):
        pred, _ = model(t, x, idx, sample=False)
        loss = (pred - x).square().mean()
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.8 * first  # the loss falls (latent ODE: slowly)


def test_table2_claims_flip():
    rows = [
        ("rnn", 0, 30, 0.4),
        ("rnn", 0, 100, 0.2),
        ("latent_ode", 0, 30, 0.15),
        ("latent_ode", 0, 100, 0.1),
        ("origin", -1, 30, 1.0),
        ("origin", -1, 100, 1.0),
    ]  # both models beat the origin
    tab = pd.DataFrame(rows, columns=["kind", "seed", "observed", "extrap_rmse"])
    assert [c.verdict for c in table2.make_claims(tab)] == ["reproduced"] * 3
    swapped = tab.assign(
        kind=tab.kind.map({"rnn": "latent_ode", "latent_ode": "rnn", "origin": "origin"})
    )
    assert table2.make_claims(swapped)[0].verdict == "not reproduced"


# --------------------------------------------------------------------------- params
def _profile(section, profile):
    import yaml

    return yaml.safe_load((ROOT.parents[1] / "params.yaml").read_text())["chen"][section][profile]


def _params(section):
    return {**_profile(section, "common"), **_profile(section, "small")}


@pytest.mark.parametrize(
    "mod,section,key,value",
    [
        (table1, "table1", "models", ["mlp", "transformer"]),
        (table1, "table1", "tol", -1.0),
        (table1, "table1", "dataset", "cifar"),
        (table1, "table1", "seeds", [0, 0]),
        (table1, "table1", "plateau", {"patience": 0}),
        (table1, "table1", "groups", 5),
        (spiral, "spiral", "window", 0),
        (memory, "memory", "steps", [8, 0]),
        (fig3, "fig3", "tols", []),
        (table2, "table2", "observed", [30, 500]),
        (table2, "table2", "joint", "yes"),
    ],
)
def test_bad_params_name_the_key(mod, section, key, value):
    p = _params(section)
    mod.read_config(p)  # the shipped small profile is valid
    p[key] = value
    with pytest.raises(ParamError) as exc:
        mod.read_config(p)
    assert exc.value.key.startswith(f"chen.{section}.{key}")


def test_table1_paper_profile_trains_2d_models():
    """The paper profile's config is valid and its 2-D path (MNIST-shaped images) trains:
    a few random 28x28 images, the paper's models at 4 channels, one epoch."""
    p = {**_profile("table1", "common"), **_profile("table1", "paper")}
    cfg = table1.read_config(p)
    assert cfg["dataset"] == "mnist" and cfg["plateau"] is None and cfg["milestones"]
    cfg.update(
        channels=4,
        epochs=1,
        batch_size=16,
        milestones=[],
        device="cpu",
        threads=1,
        rk_steps=1,
        tol=0.1,
        probe_tol=0.1,
    )
    g = torch.Generator().manual_seed(0)
    x = torch.rand(32, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (32,), generator=g)
    data = (x, y, x[:8], y[:8], 28, 2)
    for kind in ("resnet", "odenet"):
        out = table1.train_one(kind, 0, cfg, data)
        assert out["row"]["converged"] is None and out["row"]["stop_reason"] == "fixed epochs"
        assert (out["state_dict"] is not None) == (kind == "odenet")
    model = table1.build("odenet", cfg, 28, 2)
    assert any(isinstance(c, torch.nn.Conv2d) for c in model.modules())
