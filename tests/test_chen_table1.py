"""Chen et al. (2018), Table 1 (``reproductions/chen/table1``): model sizes and shapes,
the claims on synthetic per-seed results, parameters, and the run → judge → Figure 3
chain on a tiny MNIST-1D file."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from nnde.errors import ParamError
from nnde.models.chen import make_classifier
from nnde.results import Results, ResultsWriter
from nnde.stage import StageOutputs
from nnde.train import count_parameters
from reproductions.chen.fig3 import experiment as fig3
from reproductions.chen.table1 import NAMES, claims, experiment, figures
from reproductions.chen.table1.summary import spread, summarise
from tests.verdict_cases import Case, verdict_test

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("mlp", "resnet", "rknet", "odenet")
IDS = ("odenet_close_to_resnet", "mlp_worst", "odenet_least_memory")


pytestmark = pytest.mark.usefixtures("one_thread")


def _profile(section, profile):
    return yaml.safe_load((ROOT / "params.yaml").read_text())["chen"][section][profile]


def _params(section):
    return {**_profile(section, "common"), **_profile(section, "small")}


# --------------------------------------------------------------------------- models
def test_odenet_has_fewer_parameters_than_resnet():
    n = {k: count_parameters(make_classifier(k, image_size=8, channels=8, downsample=1))
         for k in KINDS}
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
    for k in KINDS:
        m = make_classifier(k, image_size=40, dims=1, channels=8, groups=4, downsample=2,
                            mlp_hidden=16, method="rk4" if k == "rknet" else "dopri5",
                            steps=1 if k == "rknet" else None, rtol=0.1, atol=0.1)
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


# --------------------------------------------------------------------------- claims
def _res(mlp=(35.0, 1.0), resnet=(3.0, 0.5), rknet=(3.4, 0.5), odenet=(3.6, 0.5),
         mem=(0.1, 5.0, 9.0, 1.0), not_converged=(), n_test=1000,
         dataset="mnist1d") -> Results:
    """Per-seed results whose test errors have the given (mean, std over seeds): three
    seeds at mean − std, mean, mean + std (one seed at the mean where std is NaN), or
    the given list of per-seed errors; ``not_converged``: (kind, seed) runs that stopped
    at the epoch cap."""
    rows = []
    for k, spec, m, p, f in zip(KINDS, (mlp, resnet, rknet, odenet), mem,
                                (100, 500, 200, 200), (0, 0, 8, 26), strict=True):
        if isinstance(spec, list):
            errors = spec
        else:
            mean, sd = spec
            errors = [mean] if math.isnan(sd) else [mean - sd, mean, mean + sd]
        for seed, e in enumerate(errors):
            ok = (k, seed) not in not_converged
            rows.append({"model": NAMES[k], "kind": k, "seed": seed, "test_error_pct": e,
                         "final_train_loss": 0.5, "final_train_error": 0.1,
                         "epochs_run": 40 if ok else 60, "converged": ok,
                         "stop_reason": "plateau" if ok else "epoch cap", "params": p,
                         "peak_saved_MB": m, "cuda_peak_MB": math.nan, "epoch_seconds": 1.0,
                         "nfe_forward": f})
    return Results(frames={"per_seed": pd.DataFrame(rows)},
                   records={"config": {"dataset": dataset, "close_sd": 2.0},
                            "info": {"n_test": n_test}})


def _verdicts(res):
    return {c.id: c.verdict for c in claims.claim.judge(res)}


def test_table1_declares_its_claims():
    assert claims.claim.ids == IDS
    got = claims.claim.judge(_res())
    assert [c.id for c in got] == list(IDS)
    # the memory column is a saved-tensor count of a construction: a check
    assert {c.id: c.kind for c in got} == {"odenet_close_to_resnet": "experiment",
                                           "mlp_worst": "experiment",
                                           "odenet_least_memory": "check"}
    assert "Floor:" in got[1].rule and got[0].subject == "ODE-Net"


CASES = [
    Case("odenet_close_to_resnet", "reproduced", lambda: _res(), "a 0.6 pp gap, margin 8 pp"),
    Case("odenet_close_to_resnet", "reproduced", lambda: _res(odenet=(2.0, 0.5)),
         "an ODE-Net slightly better than the ResNet is close"),
    Case("odenet_close_to_resnet", "not reproduced", lambda: _res(odenet=(25.0, 0.5)),
         "22 pp above the ResNet, beyond the 8 pp margin"),
    Case("odenet_close_to_resnet", "inconclusive",
         lambda: _res(odenet=[5.0, 6.0, 40.0], resnet=(5.5, 0.5)),
         "seeds at 5 / 6 / 40 % against 5.5 ± 0.5 %: the gap is within its noise"),
    Case("odenet_close_to_resnet", "not reproduced",
         lambda: _res(odenet=(75.0, 0.5), resnet=(3.0, 0.5)),
         "subject below floor: an ODE-Net at 75 % error has not learned the task"),
    Case("odenet_close_to_resnet", "inconclusive",
         lambda: _res(resnet=(60.0, 0.5), odenet=(3.0, 0.5), mlp=(70.0, 1.0)),
         "reference below floor: a ResNet at 60 % error"),
    Case("odenet_close_to_resnet", "inconclusive",
         lambda: _res(mlp=(90.0, 1.0), resnet=(89.0, 0.5), rknet=(90.0, 0.5),
                      odenet=(89.5, 0.5)),
         "every model at chance"),
    Case("odenet_close_to_resnet", "partly",
         lambda: _res(resnet=(20.0, 0.5), odenet=(3.0, 0.5)),
         "the ODE-Net better than the ResNet by more than the margin: not close"),
    Case("mlp_worst", "reproduced", lambda: _res(), "MLP 35 % against 3-4 %"),
    Case("mlp_worst", "not reproduced", lambda: _res(odenet=(25.0, 0.5), mlp=(20.0, 1.0)),
         "the ODE-Net worse than the MLP beyond the noise"),
    Case("mlp_worst", "inconclusive", lambda: _res(mlp=(4.0, 1.0)),
         "the MLP above the ResNet but within the noise"),
    Case("mlp_worst", "not reproduced", lambda: _res(mlp=(80.0, 1.0)),
         "subject below floor: an MLP at 80 % error (logistic regression: 68 %)"),
    Case("mlp_worst", "inconclusive",
         lambda: _res(mlp=(60.0, 1.0), rknet=(45.0, 0.5)),
         "reference below floor: an RK-Net at 45 % error (the published MLP: 32 %)"),
    Case("odenet_least_memory", "reproduced", lambda: _res(), "O(1) against O(L)"),
    Case("odenet_least_memory", "not reproduced", lambda: _res(mem=(0.1, 5.0, 9.0, 20.0)),
         "the ODE-Net holds the most"),
    Case("odenet_least_memory", "partly", lambda: _res(mem=(0.1, 5.0, 9.0, 6.0)),
         "less than the RK-Net only"),
]
test_verdict_cases = verdict_test(claims.claim, CASES)


def test_table1_claims_spread_and_convergence_note():
    one_seed = _res(resnet=(3.0, math.nan), odenet=(3.5, math.nan))
    table = summarise(one_seed.frame("per_seed"), "mnist1d")
    # one seed: the spread is the binomial standard error of the ResNet's error
    r, o = (next(table[table.kind == k].itertuples()) for k in ("resnet", "odenet"))
    assert spread(o, r, 1000) == pytest.approx(100 * (0.03 * 0.97 / 1000) ** 0.5)
    notes = {c.id: c.note for c in claims.claim.judge(_res(not_converged={("odenet", 1)}))}
    assert "ODE-Net seed 1" in notes["odenet_close_to_resnet"]
    assert "Not converged" in notes["mlp_worst"]
    assert "Not converged" not in notes["odenet_least_memory"]  # a check: no training
    assert not any("Not converged" in c.note for c in claims.claim.judge(_res()))


# --------------------------------------------------------------------------- params
@pytest.mark.parametrize(
    "key,value",
    [
        ("models", ["mlp", "transformer"]),
        ("tol", -1.0),
        ("dataset", "cifar"),
        ("seeds", [0, 0]),
        ("plateau", {"patience": 0}),
        ("groups", 5),
        ("models", ["mlp", "resnet"]),
        ("milestones", [10]),
    ],
)
def test_bad_params_name_the_key(key, value):
    p = _params("table1")
    experiment.read_config(p)  # the shipped small profile is valid
    p[key] = value
    with pytest.raises(ParamError) as exc:
        experiment.read_config(p)
    assert exc.value.key.startswith(f"chen.table1.{key}")


def test_table1_paper_profile_trains_2d_models():
    """The paper profile's config is valid and its 2-D path (MNIST-shaped images) trains:
    a few random 28x28 images, the paper's models at 4 channels, one epoch."""
    p = {**_profile("table1", "common"), **_profile("table1", "paper")}
    cfg = experiment.read_config(p)
    assert cfg.dataset == "mnist" and cfg.plateau is None and cfg.milestones
    cfg = dataclasses.replace(cfg, channels=4, epochs=1, batch_size=16, milestones=(),
                              device="cpu", threads=1, rk_steps=1, tol=0.1, probe_tol=0.1)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(32, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (32,), generator=g)
    data = (x, y, x[:8], y[:8], 28, 2)
    for kind in ("resnet", "odenet"):
        out = experiment.train_one(kind, 0, cfg, data)
        assert out["row"]["converged"] is None and out["row"]["stop_reason"] == "fixed epochs"
        assert (out["state_dict"] is not None) == (kind == "odenet")
    model = experiment.build("odenet", cfg, 28, 2)
    assert any(isinstance(c, torch.nn.Conv2d) for c in model.modules())


# --------------------------------------------------------------------------- run → judge
@pytest.fixture(scope="module")
def mnist1d_file(tmp_path_factory):
    from nnde.data import generate_mnist1d, write_mnist1d

    path = tmp_path_factory.mktemp("mnist1d") / "mnist1d.npz"
    write_mnist1d(path, generate_mnist1d(num_samples=200, train_split=0.8))
    return path


def test_table1_run_on_tiny_mnist1d(mnist1d_file, tmp_path):
    """The stage's run on a small MNIST-1D file: every (model, seed) is trained, has a
    convergence row, the summary has a spread, the judge step writes today's outputs, and
    Figure 3 rebuilds the saved ODE-Net and sweeps tolerances on 1-D test signals."""
    p = {**_params("table1"), **_profile("table1", "tiny")}
    p.update(mnist1d_path=str(mnist1d_file), train_subset=100, test_subset=40, epochs=2)
    cfg = experiment.read_config(p)
    with ResultsWriter("chen", "table1", root=tmp_path / "data") as out:
        experiment.run(cfg, out)
    res = Results.load("chen", "table1", root=tmp_path / "data")
    per_seed, hist, info = res.frame("per_seed"), res.frame("history"), res.record("info")
    assert info == {"size": 40, "dims": 1, "n_train": 100, "n_test": 40, "odenet_seed": 0}
    assert len(per_seed) == 4 * len(cfg.seeds) and set(hist.seed) == set(cfg.seeds)
    assert all(1 <= n <= 2 for n in per_seed.epochs_run)
    table = summarise(per_seed, "mnist1d")
    assert table.test_error_sd.notna().all()
    assert set(table.reference_accuracy_pct) == {68.0, 94.0}
    assert [c.id for c in claims.claim.judge(res)] == list(IDS)
    with StageOutputs("chen", "table1", "T", data_root=tmp_path / "data",
                      figure_root=tmp_path / "fig") as so:
        so.claims(claims.claim.judge(res))
        figures.write(res, so)
    section = json.loads((tmp_path / "data/chen/table1.section.json").read_text())
    assert len(section["convergence"]["rows"]) == len(per_seed)
    assert all(r["converged"] in (True, False) for r in section["convergence"]["rows"])
    for name in ("table1.csv", "table1_summary.csv", "table1_history.csv",
                 "table1.metrics.json", "table1.numbers.json"):
        assert (tmp_path / "data/chen" / name).exists(), name
    model, trained = fig3.load_trained(tmp_path / "data/chen/table1")
    assert trained["dims"] == 1 and trained["seed"] == cfg.seeds[0]
    x, y = fig3.held_out_batch(trained, 8)
    assert x.shape == (8, 1, 40)
    sweep = fig3.tolerance_sweep(model, x, y, [0.1, 0.01], repeats=1)
    assert (sweep.nfe_forward > 0).all() and (sweep.train_nfe_backward > 0).all()
    probe = fig3.load_probe(tmp_path / "data/chen/table1")
    assert set(probe.seed) == set(cfg.seeds) and (probe.nfe_forward > 0).all()
