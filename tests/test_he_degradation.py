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
from tests.verdict_cases import Case, verdict_test

ROOT = Path(__file__).resolve().parents[1]


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
    assert data[4].shape == (0, 1, 40)  # no held-out set configured
    data = (*data[:2], data[2][:200], data[3][:200], *data[4:])  # a shorter test set
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


def test_seeds_side_by_side_train_as_each_alone(mnist1d_file):
    """train_seeds (one grouped net for all seeds) gives every seed the records, errors,
    response stds and schedule that train_one gives it alone: the same initial weights,
    batches, shifts, evaluation subset and SGD steps."""
    p = small_cfg(mnist1d_path=mnist1d_file, seeds=[0, 1, 2], plateau=None, max_epochs=None,
                  iterations=9, lr_drops=[6], augment="shift", pad=2,
                  train_eval_subset=40, batch_size=32)
    cfg = experiment.read_config(p)
    assert training.side_by_side_ok(cfg, 8)
    data = training.load_data(cfg)
    data = (*data[:2], data[2][:150], data[3][:150], *data[4:])
    together = training.train_seeds("residual", 8, (0, 1, 2), cfg, data)
    for seed, got in zip((0, 1, 2), together, strict=True):
        alone = training.train_one("residual", 8, seed, cfg, data)
        assert got["seed"] == seed and got["params"] == alone["params"]
        assert got["lr_changes"] == alone["lr_changes"] == [(1, 0.1), (7, pytest.approx(0.01))]
        a, b = pd.DataFrame(got["records"]), pd.DataFrame(alone["records"])
        assert list(a.columns) == list(b.columns) and len(a) == 3  # 9 iterations, 3 epochs
        pd.testing.assert_frame_equal(a, b, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(got["stds"], alone["stds"], rtol=1e-4)
        for k in ("final_train_loss", "final_train_error", "final_test_error"):
            assert got["summary"][k] == pytest.approx(alone["summary"][k], rel=1e-4), k
        for k in ("iterations", "epochs_run", "stop_reason", "converged", "n_test"):
            assert got["summary"][k] == alone["summary"][k], k
    # the seeds really differ from one another (no member copied into the others)
    assert len({r["records"][-1]["train_loss"] for r in together}) == 3


def test_side_by_side_is_not_used_where_it_would_change_the_training():
    """A warm-up (a per-net learning rate), a plateau criterion or a GPU: one job per seed."""
    cfg = experiment.read_config(small_cfg(seeds=[0, 1]))  # plateau
    assert not training.side_by_side_ok(cfg, 8)
    assert all(len(j[2]) == 1 for j in experiment.jobs(cfg))
    fixed = dataclasses.replace(cfg, plateau=None, iterations=6, lr_drops=(3,),
                                warmup_depths=(14,))
    assert training.side_by_side_ok(fixed, 8) and not training.side_by_side_ok(fixed, 14)
    assert not training.side_by_side_ok(dataclasses.replace(fixed, device="cuda"), 8)
    assert sorted(experiment.jobs(fixed)) == sorted(
        [("plain", 8, (0, 1)), ("residual", 8, (0, 1)), ("plain", 14, (0,)),
         ("plain", 14, (1,)), ("residual", 14, (0,)), ("residual", 14, (1,))])


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
            "degradation.section.json", "degradation.metrics.json",
            "degradation.numbers.json"} <= names
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


def test_shift_is_a_zero_padded_window_and_never_flips():
    from nnde.data.augment import shift_fn

    x = torch.arange(1, 2 * 2 * 10 + 1, dtype=torch.float32).reshape(2, 2, 10)
    y = shift_fn(3)(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    padded = torch.nn.functional.pad(x, (3, 3))
    for b in range(2):
        windows = [padded[b, :, i : i + 10] for i in range(7)]
        assert any(torch.equal(y[b], w) for w in windows)  # both channels shifted alike
    offsets = set()
    for seed in range(20):
        y = shift_fn(3)(x[:1], torch.Generator().manual_seed(seed))
        offsets |= {i for i in range(7) if torch.equal(y[0], padded[0, :, i : i + 10])}
        assert not torch.equal(y[0], x[0].flip(-1))
    assert offsets == set(range(7))  # every shift in −3…3 occurs
    with pytest.raises(ValueError, match="signals"):
        shift_fn(3)(torch.zeros(2, 1, 4, 4), torch.Generator())


def test_heldout_set_is_new_signals_from_another_seed(mnist1d_file):
    cfg = experiment.read_config(small_cfg(mnist1d_path=mnist1d_file, heldout=40,
                                           data_seed=1, augment="shift", pad=3))
    xtr, ytr, xte, yte, xho, yho = training.load_data(cfg)
    assert xho.shape == (40, 1, 40) and yho.shape == (40,) and set(yho.tolist()) <= set(
        range(10))
    from nnde.data import read_mnist1d

    raw_te = torch.from_numpy(read_mnist1d(mnist1d_file)["x_test"])
    raw_ho, y_ho = training.heldout_mnist1d(40, 1)
    assert torch.equal(y_ho, yho)
    assert not any(torch.allclose(h[0], t) for h in raw_ho for t in raw_te)
    again = training.load_data(cfg)
    assert torch.equal(again[4], xho)  # deterministic in data_seed


def test_seed_offset_moves_the_seeds_and_the_heldout_set(tmp_path):
    import yaml

    from nnde.stage import load_params

    text = (ROOT / "params.yaml").read_text()
    data = yaml.safe_load(text)
    data["seed_offset"] = 1000
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(data))
    base = experiment.read_config(load_params("he.degradation", ROOT / "params.yaml"))
    moved = experiment.read_config(load_params("he.degradation", tmp_path / "params.yaml"))
    assert moved.seeds == tuple(s + 1000 for s in base.seeds)
    assert moved.data_seed == base.data_seed + 1000 and moved.heldout == base.heldout


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
def fake_results(nets=None, std=0.1, resp_std=0.01, n_heldout=10_000, seeds=3,
                 not_converged=(), seed_values=None):
    """Made-up results. ``nets``: {(kind, depth): (train, test, heldout, response)} means
    (errors in %); the seeds read m − std, m, m + std (``seeds`` = 3; with 1 seed: m), for
    every error alike (``std``) and the responses (``resp_std``). ``seed_values``:
    {(kind, depth, column): [per-seed values]} overrides (columns ``train``, ``test``,
    ``heldout``, ``resp``). ``not_converged``: (kind, depth, seed) that stopped at the
    epoch cap."""
    nets = nets or good()
    offsets = (-1, 0, 1) if seeds == 3 else (0,) * seeds
    runs, responses = [], []
    for (kind, d), (tr, te, ho, rv) in nets.items():
        vals = {}
        for col, m, sd in (("train", tr, std), ("test", te, std), ("heldout", ho, std),
                           ("resp", rv, resp_std)):
            vals[col] = (seed_values or {}).get((kind, d, col),
                                                [m + k * sd for k in offsets])
        for seed in range(seeds):
            key = dict(kind=kind, depth=d, seed=seed, params=1)
            runs.append(dict(**key, final_train_loss=vals["train"][seed] / 10,
                             final_train_error=vals["train"][seed] / 100, epochs_run=18,
                             converged=(kind, d, seed) not in not_converged,
                             stop_reason="plateau",
                             final_test_error=vals["test"][seed] / 100,
                             final_heldout_error=vals["heldout"][seed] / 100,
                             n_test=1000, n_heldout=n_heldout,
                             iterations=576, warmup_end=None))
            responses.append(dict(**key, layer=1, std=vals["resp"][seed]))
    config = {"profile": "small", "dataset": "mnist1d", "plateau": None, "augment": "shift"}
    return Results(frames={"runs": pd.DataFrame(runs), "responses": pd.DataFrame(responses)},
                   records={"config": config})


def good(over=None):
    """Paper-like nets at 20/32/44 (plain at 20/44): plain degrades, ResNets fall with
    depth in training and test error, residual responses smaller and falling."""
    nets = {("plain", 20): (1.0, 3.0, 3.0, 1.2), ("plain", 44): (5.0, 8.0, 8.0, 1.3),
            ("residual", 20): (0.8, 2.6, 2.6, 1.0), ("residual", 32): (0.6, 2.2, 2.2, 0.9),
            ("residual", 44): (0.4, 1.8, 1.8, 0.8)}
    nets.update(over or {})
    return nets


def judge(res: Results) -> dict:
    return {c.id: c for c in claims.claim.judge(res)}


R, P = "residual", "plain"
CASES = [
    *[Case(cid, "reproduced", fake_results, "paper-like results")
      for cid in claims.claim.ids],
    # plain_degrades
    Case("plain_degrades", "not reproduced",
         lambda: fake_results(good({(P, 44): (0.5, 3.0, 3.0, 1.3)})),
         "the deeper plain net lower in training error beyond the noise"),
    Case("plain_degrades", "inconclusive",
         lambda: fake_results(good({(P, 44): (1.2, 3.0, 3.0, 1.3)}), std=0.5),
         "a 0.2 pp rise within a 0.5 pp seed spread"),
    Case("plain_degrades", "not reproduced",
         lambda: fake_results(good({(P, 44): (80.0, 85.0, 85.0, 1.3)})),
         "the deep plain net near chance: worse than the published MLP, not the paper's "
         "degradation (a net that trains to a higher error)"),
    Case("plain_degrades", "inconclusive",
         lambda: fake_results(good({(P, 20): (40.0, 45.0, 45.0, 1.2),
                                      (P, 44): (50.0, 55.0, 55.0, 1.3)})),
         "the reference plain net below the MLP floor"),
    Case("plain_degrades", "reproduced",
         lambda: fake_results(good({(P, 44): (51.7, 52.2, 53.0, 1.3)}), std=2.5),
         "a deep plain net at 52 % error trained, to a much higher error: the paper's "
         "degradation (plain-110 above 60 %), not a collapse"),
    Case("residual_beats_plain_deepest", "reproduced",
         lambda: fake_results(good({(P, 44): (51.7, 52.2, 53.0, 1.3)}), std=2.5),
         "the degraded plain net is a valid reference"),
    Case("plain_degrades", "partly",
         lambda: fake_results({**good(), (P, 32): (9.0, 9.0, 9.0, 1.2)}),
         "plain-32 above plain-44 beyond the noise: the ends rise, a step does not"),
    # residual_does_not_degrade
    Case("residual_does_not_degrade", "reproduced",
         lambda: fake_results(good({(R, 44): (0.85, 1.8, 1.8, 0.8)}), std=0.1),
         "0.05 pp higher, within the noise, and far below the plain nets' 4 pp rise"),
    Case("residual_does_not_degrade", "not reproduced",
         lambda: fake_results(good({(R, 44): (4.8, 1.8, 1.8, 0.8)})),
         "the deeper ResNet 4 pp higher: as much as the plain nets"),
    Case("residual_does_not_degrade", "partly",
         lambda: fake_results(good({(R, 44): (1.5, 1.8, 1.8, 0.8)})),
         "a rise beyond the noise, but less than half the plain nets'"),
    Case("residual_does_not_degrade", "inconclusive",
         lambda: fake_results(good({(R, 44): (1.5, 1.8, 1.8, 0.8),
                                      (P, 44): (1.6, 8.0, 8.0, 1.3)}), std=0.8),
         "no rise beyond the noise, but a rise as large as the plain nets' not ruled out"),
    Case("residual_does_not_degrade", "not reproduced",
         lambda: fake_results(good({(R, 44): (0.4, 9.0, 9.0, 0.8)})),
         "the deep ResNet worse than the published CNN on the test set"),
    # regression: the earlier rule flipped between partly and reproduced on a 0.02 pp
    # rise against a 0.1 pp seed spread (ResNet-8 0.1 ± 0.025 %, ResNet-32 0.117 ±
    # 0.1 %, plain rise 20 pp); judged with the noise, that is no degradation
    Case("residual_does_not_degrade", "reproduced",
         lambda: fake_results(good(), seed_values={
             (R, 20, "train"): [0.075, 0.1, 0.125], (R, 44, "train"): [0.017, 0.117, 0.217],
             (P, 44, "train"): [8.2, 20.2, 32.2]}),
         "regression: a 0.02 pp rise inside the noise, the plain nets rising 20 pp"),
    # residual_beats_plain_deepest
    Case("residual_beats_plain_deepest", "partly",
         lambda: fake_results(good({(P, 44): (5.0, 1.8, 1.8, 1.3)})),
         "lower training error, the same test error"),
    Case("residual_beats_plain_deepest", "not reproduced",
         lambda: fake_results(good({(P, 44): (0.1, 1.0, 1.0, 1.3)})),
         "the plain net lower in both"),
    Case("residual_beats_plain_deepest", "inconclusive",
         lambda: fake_results(good({(P, 44): (0.5, 1.9, 1.9, 1.3)}), std=0.5),
         "both differences within the noise"),
    Case("residual_beats_plain_deepest", "not reproduced",
         lambda: fake_results(good({(R, 44): (0.4, 7.0, 7.0, 0.8),
                                      (P, 44): (5.0, 30.0, 30.0, 1.3)})),
         "the ResNet (subject) worse than the published CNN: it did not deliver"),
    Case("residual_beats_plain_deepest", "inconclusive",
         lambda: fake_results(good({(P, 44): (85.0, 89.0, 89.0, 1.3)})),
         "the plain net (reference) at chance: the comparison cannot be made"),
    # resnet_test_error_falls_with_depth
    Case("resnet_test_error_falls_with_depth", "not reproduced",
         lambda: fake_results(good({(R, 44): (0.4, 3.4, 3.4, 0.8)})),
         "the deepest ResNet higher beyond the noise"),
    Case("resnet_test_error_falls_with_depth", "partly",
         lambda: fake_results(good({(R, 32): (0.6, 3.4, 3.4, 0.9)})),
         "ResNet-32 above ResNet-20 beyond the noise, the ends falling"),
    Case("resnet_test_error_falls_with_depth", "not reproduced",
         lambda: fake_results(good({(R, 44): (0.4, 7.0, 7.0, 0.8)})),
         "the deepest ResNet worse than the published CNN"),
    # regression: 0.33 pp against a seed spread of 0.38 pp on the 1,000 published test
    # signals was called not reproduced; it is within the noise
    Case("resnet_test_error_falls_with_depth", "inconclusive",
         lambda: fake_results({**good(), (R, 20): (0.1, 2.37, 2.37, 1.0),
                               (R, 44): (0.1, 2.70, 2.70, 0.8)}, std=0.38, n_heldout=0),
         "regression: a 0.33 pp difference, seed spread 0.38 pp, 1,000 test signals"),
    Case("resnet_test_error_falls_with_depth", "reproduced",
         lambda: fake_results({**good(), (R, 20): (0.1, 2.7, 2.7, 1.0),
                               (R, 32): (0.1, 2.5, 2.5, 0.9),
                               (R, 44): (0.1, 2.1, 2.1, 0.8)}, std=0.1),
         "a 0.6 pp fall decided on 10,000 held-out signals (0.14 pp sampling error)"),
    Case("resnet_test_error_falls_with_depth", "inconclusive",
         lambda: fake_results({**good(), (R, 20): (0.1, 2.7, 2.7, 1.0),
                               (R, 32): (0.1, 2.5, 2.5, 0.9),
                               (R, 44): (0.1, 2.1, 2.1, 0.8)}, std=0.1, n_heldout=0),
         "the same 0.6 pp fall on the 1,000 published signals: within their sampling error"),
    # residual_responses_smaller
    Case("residual_responses_smaller", "partly",
         lambda: fake_results(good({(P, 20): (1.0, 3.0, 3.0, 1.0)})),
         "smaller at the deepest common depth only"),
    Case("residual_responses_smaller", "not reproduced",
         lambda: fake_results(good({(P, 20): (1.0, 3.0, 3.0, 0.8),
                                      (P, 44): (5.0, 8.0, 8.0, 0.6)})),
         "larger in the residual nets beyond the noise"),
    Case("residual_responses_smaller", "inconclusive",
         lambda: fake_results(good({(P, 20): (1.0, 3.0, 3.0, 1.01),
                                      (P, 44): (5.0, 8.0, 8.0, 0.81)}), resp_std=0.05),
         "0.01 apart, seeds scattered by 0.05"),
    # regression: the earlier rule's verdict (partly on 0.017 against a spread of 0.016 at
    # one depth, −0.014 against 0.05 at the other) flipped with machine and seeds;
    # differences of that size inside their noise at both depths are undecided
    Case("residual_responses_smaller", "inconclusive",
         lambda: fake_results(good(), seed_values={
             (P, 20, "resp"): [1.14, 1.16, 1.18], (R, 20, "resp"): [1.16, 1.18, 1.20],
             (P, 44, "resp"): [0.975, 0.985, 0.995],
             (R, 44, "resp"): [0.958, 0.968, 0.998]}),
         "regression: differences of −0.02 and +0.01 inside their noise"),
    Case("residual_responses_smaller", "inconclusive",
         lambda: fake_results(good({(P, 44): (85.0, 89.0, 89.0, 1.3)})),
         "a plain net (reference) at chance"),
    # deeper_resnet_responses_smaller
    Case("deeper_resnet_responses_smaller", "not reproduced",
         lambda: fake_results(good({(R, 44): (0.4, 1.8, 1.8, 1.1)})),
         "the deepest ResNet's responses larger"),
    Case("deeper_resnet_responses_smaller", "partly",
         lambda: fake_results(good({(R, 32): (0.6, 2.2, 2.2, 1.1)})),
         "ResNet-32 above ResNet-20, the ends falling"),
    Case("deeper_resnet_responses_smaller", "inconclusive",
         lambda: fake_results(good({(R, 44): (0.4, 1.8, 1.8, 0.99),
                                      (R, 32): (0.6, 2.2, 2.2, 1.0)}), resp_std=0.05),
         "0.01 apart, seeds scattered by 0.05"),
    Case("deeper_resnet_responses_smaller", "not reproduced",
         lambda: fake_results(good({(R, 44): (0.4, 9.0, 9.0, 0.8)})),
         "the deepest ResNet worse than the published CNN"),
    # one seed: no spread, so no decision
    Case("plain_degrades", "inconclusive", lambda: fake_results(seeds=1),
         "one seed: the seed spread is unknown"),
]
test_verdict_cases = verdict_test(claims.claim, CASES)


def test_claims_name_subject_reference_and_noise():
    got = judge(fake_results())
    for c in got.values():
        assert c.kind == "experiment" and c.subject and c.reference, c.id
        assert "Floor:" in c.rule and "2 SE" in c.our_value, c.id
        assert re.search(r"\((Fig\. [67]|Table 6)", c.statement), c.statement
    assert "held-out test error (10,000 generated signals)" in got[
        "resnet_test_error_falls_with_depth"].our_value
    undecided = judge(fake_results(std=3.0))["resnet_test_error_falls_with_depth"]
    assert undecided.verdict == "inconclusive" and "seeds per model" in undecided.our_value


def test_claims_carry_the_convergence_note_of_their_nets():
    got = judge(fake_results(not_converged={("plain", 44, 1)}))
    for cid in ("plain_degrades", "residual_beats_plain_deepest", "residual_responses_smaller"):
        assert "Not converged: plain-44 seed 1" in got[cid].note
    # the plain nets are the control of residual_does_not_degrade
    assert "Not converged: plain-44 seed 1" in got["residual_does_not_degrade"].note
    for cid in ("resnet_test_error_falls_with_depth", "deeper_resnet_responses_smaller"):
        assert "Not converged" not in got[cid].note


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
    ("augment", "crop_flip", "none or shift for mnist1d"),
    ("heldout", 5, "0 (none) or an integer >= 20"),
    ("heldout", -1, ">= 0"),
    ("data_seed", 42, "data_seed + seed_offset != 42"),
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
