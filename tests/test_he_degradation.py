"""He et al. (2016), the degradation stage (reproductions/he/degradation/): training to the
plateau, the paper profile's schedule, the results round trip, the claim rules on made-up
results, and the parameter checks. The nets themselves: tests/test_he.py."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from nnde.data.augment import crop_flip_fn
from nnde.errors import ParamError
from nnde.results import Results, ResultsWriter
from nnde.stage import StageOutputs
from reproductions.he.degradation import TITLE, claims, experiment, figures, summary, training

ROOT = Path(__file__).resolve().parents[1]


def judge(res: Results) -> dict:
    return {c.id: c for c in claims.claim.judge(res)}


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
    cfg = experiment.read_config(small_cfg(mnist1d_path=mnist1d_file, seeds=[0, 1]))
    data = training.load_data(cfg)
    assert data[0].shape == (96, 1, 40) and data[2].shape == (1000, 1, 40)
    data = (*data[:2], data[2][:200], data[3][:200])  # a shorter test set: faster
    h1, r1, runs1 = experiment.train_all(cfg, data)
    h2, r2, runs2 = experiment.train_all(cfg, data)
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
    conv = summary.convergence(runs1)
    assert {r["model"] for r in conv} == {f"{k}-{d} seed {s}" for k in ("plain", "residual")
                                          for d in (8, 14) for s in (0, 1)}
    assert all(isinstance(r["converged"], bool) and isinstance(r["epochs_run"], int)
               for r in conv)
    final = summary.final_table(runs1)
    assert (final.seeds == 2).all() and (final.train_error_std >= 0).all()
    got = claims.claim.judge(Results(frames={"runs": runs1, "responses": r1},
                                     records={"config": dataclasses.asdict(cfg)}))
    assert [c.id for c in got] == list(claims.claim.ids) and len(got) == 6
    bad = [r["model"] for r in conv if not r["converged"]]
    for c in got:  # every claim names its source and carries the convergence note
        assert re.search(r"\((Fig\. [67]|Table 6)", c.statement)
        if bad and c.id != "residual_responses_smaller":
            mentioned = [m for m in bad if m.split(" seed")[0] in c.our_value + c.statement]
            assert all(m in c.note for m in mentioned)


def test_results_round_trip_gives_the_same_claims(mnist1d_file, tmp_path):
    """The run step's saved tables give the judge the verdicts and numbers of the
    in-memory tables they were written from; the judge writes today's outputs."""
    cfg = experiment.read_config(small_cfg(mnist1d_path=mnist1d_file, max_epochs=1))
    with ResultsWriter("he", "degradation", root=tmp_path) as out:
        experiment.run(cfg, out)
    res = Results.load("he", "degradation", root=tmp_path)
    runs = res.frame("runs")
    assert set(res.frame("history").kind) == {"plain", "residual"} and len(runs) == 4
    h, r, runs_mem = experiment.train_all(cfg)
    mem = Results(frames={"runs": runs_mem, "responses": r},
                  records={"config": dataclasses.asdict(cfg)})
    assert claims.claim.judge(res) == claims.claim.judge(mem)
    with StageOutputs("he", "degradation", TITLE, data_root=tmp_path / "out",
                      figure_root=tmp_path / "fig") as so:
        so.claims(claims.claim.judge(res))
        figures.write(res, so)
    names = {p.name for p in (tmp_path / "out/he").iterdir()}
    assert {"degradation.csv", "degradation_final.csv", "degradation_runs.csv",
            "degradation_table6.csv", "degradation_responses.csv",
            "degradation_response_summary.csv", "degradation.claims.json",
            "degradation.section.json", "degradation.metrics.json"} <= names
    assert len(list((tmp_path / "fig/he").glob("degradation_*.png"))) == 3


def test_crop_flip_is_a_shifted_window():
    aug = crop_flip_fn(2)  # the paper profile's augmentation (pad 4 there)
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
        experiment.read_config(paper_cfg(tmp_path))
    cfg = experiment.read_config(paper_cfg(tmp_path, plain_depths=[8, 14]))
    assert cfg.plateau is None and cfg.augment == "crop_flip" and cfg.pad == 4
    data = training.load_data(cfg)
    assert data[0].shape == (80, 3, 32, 32)
    # warmed-up net: 0.01 first, then the schedule once the running error is below the bar
    warm = training.train_one(
        "residual", 14, 0, dataclasses.replace(cfg, warmup_error=1.0, warmup_window=1),
        data=data)
    changes = warm["lr_changes"]
    assert changes[0] == (1, 0.01)
    end = warm["summary"]["warmup_end"]
    assert end is not None and changes[1] == (end + 1, 0.1 if end < 7 else 0.01)
    assert warm["records"][0]["lr"] in (0.01, 0.1)
    assert warm["summary"]["iterations"] == 10  # 12 iterations, rounded to 2 epochs of 5
    # a net that is not warmed up: 0.1, then ÷10 after iterations 7 and 9 exactly
    cold = training.train_one("residual", 8, 0, cfg, data=data)
    assert cold["lr_changes"] == [(1, 0.1), (8, pytest.approx(0.01)),
                                  (10, pytest.approx(0.001))]
    assert cold["summary"]["warmup_end"] is None and cold["summary"]["converged"] is None
    # the warm-up bar not met (1 % error on random labels): 0.01 until the schedule's
    # drops go below it
    stuck = training.train_one("residual", 14, 0, dataclasses.replace(cfg, warmup_error=0.01),
                               data=data)
    assert stuck["lr_changes"] == [(1, 0.01), (10, pytest.approx(0.001))]
    assert stuck["summary"]["warmup_end"] is None
    # the whole stage on this path: plain at 8/14, residual at 8/14, fixed budget
    hist, resp, runs = experiment.train_all(cfg)
    assert runs.converged.isna().all() or (runs.converged.map(lambda v: v is None)).all()
    assert {r["converged"] for r in summary.convergence(runs)} == {None}
    got = claims.claim.judge(Results(frames={"runs": runs, "responses": resp},
                                     records={"config": dataclasses.asdict(cfg)}))
    assert len(got) == 6 and all("Not converged" not in c.note for c in got)


def test_lr_schedule_switches_on_the_running_error_and_drops_on_iterations():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.01)
    sched = training.LrSchedule(0.1, drops=[5, 8], warmup_lr=0.01, warmup_error=0.8,
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
    resumed = training.LrSchedule(0.1, drops=[5], warmup_lr=0.01)
    opt.param_groups[0]["lr"] = 0.1
    resumed(opt, 4, wrong, y)
    assert not resumed.warming and opt.param_groups[0]["lr"] == 0.1


# --------------------------------------------------------------------------- claims
def fake_results(plain_train, res_train, plain_test, res_test, depths=(8, 56), std=0.1,
                 resp=((1.0, 1.5), (0.8, 0.7)), resp_std=0.01, not_converged=()):
    """Made-up results of three seeds per (kind, depth) whose means are the given errors
    (in %) and response stds, and whose sample std over the seeds is ``std`` (errors) and
    ``resp_std`` (responses): the seeds read m − std, m, m + std. ``not_converged``:
    (kind, depth, seed) that stopped at the epoch cap."""
    runs, responses = [], []
    for kind, tr, te, rv in (("plain", plain_train, plain_test, resp[0]),
                             ("residual", res_train, res_test, resp[1])):
        for d, a, b, v in zip(depths, tr, te, rv, strict=True):
            for seed, k in ((0, -1), (1, 0), (2, 1)):
                key = dict(kind=kind, depth=d, seed=seed, params=1)
                runs.append(dict(**key, final_train_loss=a / 10,
                                 final_train_error=(a + k * std) / 100, epochs_run=30,
                                 converged=(kind, d, seed) not in not_converged,
                                 stop_reason="plateau", final_test_error=(b + k * std) / 100,
                                 iterations=300, warmup_end=None))
                responses.append(dict(**key, layer=1, std=v + k * resp_std))
    config = {"profile": "small", "dataset": "mnist1d", "plateau": {"patience": 3}}
    return Results(frames={"runs": pd.DataFrame(runs), "responses": pd.DataFrame(responses)},
                   records={"config": config})


GOOD = ([0.0, 5.0], [0.0, 0.0], [3.0, 8.0], [3.0, 2.5])


@pytest.mark.verdicts("he.degradation.plain_degrades", "he.degradation.residual_does_not_degrade",
                      "he.degradation.residual_beats_plain_deepest",
                      "he.degradation.resnet_test_error_falls_with_depth",
                      "he.degradation.residual_responses_smaller",
                      "he.degradation.deeper_resnet_responses_smaller")
def test_claims_follow_the_data():
    got = judge(fake_results(*GOOD)).values()
    assert {c.verdict for c in got} == {"reproduced"}
    assert all("Not converged" not in c.note for c in got)
    # Flip the data: the shallow plain net is worse, the residual nets degrade, responses
    # of residual nets are larger.
    bad = judge(fake_results([5.0, 0.0], [0.0, 5.0], [3.0, 2.0], [3.0, 9.0],
                             resp=((1.0, 1.0), (1.2, 1.3))))
    assert {c.verdict for c in bad.values()} == {"not reproduced"}


@pytest.mark.verdicts("he.degradation.plain_degrades",
                      "he.degradation.residual_beats_plain_deepest")
def test_nets_that_have_not_learned_make_the_claims_inconclusive():
    # plain-56 at chance: its "degradation" would read reproduced, but says nothing
    got = judge(fake_results([0.0, 89.0], [0.0, 0.0], [3.0, 90.0], [3.0, 2.5]))
    for cid in ("plain_degrades", "residual_beats_plain_deepest",
                "residual_responses_smaller"):
        assert got[cid].verdict == "inconclusive", cid
        assert "Floor:" in got[cid].rule
    # the claims about residual nets alone still have a verdict
    assert got["resnet_test_error_falls_with_depth"].verdict == "reproduced"


def test_a_difference_inside_the_seed_spread_is_not_reproduced():
    # The same means as GOOD, but seeds scatter by 6 pp (responses by 0.9): every ranking
    # is inside the spread, so none is reproduced; "no rise" stays reproduced.
    got = judge(fake_results(*GOOD, std=6.0, resp_std=0.9))
    assert got.pop("residual_does_not_degrade").verdict == "reproduced"
    for c in got.values():
        assert c.verdict == "not reproduced", c.id
    assert "within the seed spread" in got["plain_degrades"].note
    assert "within the seed spread" in got["resnet_test_error_falls_with_depth"].note
    # just outside the spread: reproduced again
    got = judge(fake_results(*GOOD, std=0.49))
    assert got["resnet_test_error_falls_with_depth"].verdict == "reproduced"  # 0.5 > 0.49


def test_a_middle_depth_against_the_trend_makes_it_partly():
    got = judge(fake_results([0.0, 9.0, 5.0], [0.0, 0.0, 0.0], [3.0, 8.0, 9.0],
                             [3.0, 2.0, 2.5], depths=(8, 20, 56),
                             resp=((1.0, 1.2, 1.5), (0.8, 0.75, 0.7))))
    assert got["plain_degrades"].verdict == "partly"  # 56 above 8, but 20 above 56
    assert got["resnet_test_error_falls_with_depth"].verdict == "partly"  # 20 < 56


def test_claims_carry_the_convergence_note_of_their_nets():
    got = judge(fake_results(*GOOD, not_converged={("plain", 56, 1)}))
    for cid in ("plain_degrades", "residual_beats_plain_deepest", "residual_responses_smaller"):
        assert "Not converged: plain-56 seed 1" in got[cid].note
    for cid in ("residual_does_not_degrade", "resnet_test_error_falls_with_depth",
                "deeper_resnet_responses_smaller"):
        assert "Not converged" not in got[cid].note
    for c in got.values():
        assert re.search(r"\((Fig\. [67]|Table 6)", c.statement), c.statement


# --------------------------------------------------------------------------- params
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
        experiment.read_config(small_cfg(**{key: value}))
    assert e.value.key.startswith(f"he.degradation.{key}")


def test_bad_fixed_schedule_params(tmp_path):
    with pytest.raises(ParamError, match="below iterations") as e:
        experiment.read_config(paper_cfg(tmp_path, plain_depths=[8, 14], lr_drops=[500]))
    assert e.value.key == "he.degradation.lr_drops"
    with pytest.raises(ParamError, match="at least one depth also in plain_depths"):
        experiment.read_config(paper_cfg(tmp_path, plain_depths=[8, 14],
                                         residual_depths=[20, 26]))


def test_config_is_frozen_and_saved_as_plain_data():
    cfg = experiment.read_config(small_cfg())
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lr = 1.0  # type: ignore[misc]
    assert cfg.plain_depths == (8, 14) and cfg.widths == (16, 32, 64)
    assert dataclasses.asdict(cfg)["plateau"]["patience"] == 1


def test_missing_cifar_names_the_file(tmp_path):
    from nnde.errors import DataFileError

    cfg = experiment.read_config(paper_cfg(tmp_path, plain_depths=[8, 14]))
    with pytest.raises(DataFileError, match="data_batch_1.bin"):
        training.load_data(cfg)
