"""The verdict machinery itself: subject and reference floors, differences decided only
beyond their noise, seed_offset, and comparing the claims of two runs."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import yaml

from nnde.claims import Claim, check, compare
from nnde.errors import ParamError
from nnde.stage import load_params
from nnde.verdicts import RunNotFound, diff_runs, format_diff, load_run


def _c(**kw) -> Claim:
    base = dict(paper="p", ours="o", rule="r", passed=True)
    base.update(kw)
    return check("x", "statement", **base)


# --------------------------------------------------------------------------- check
def test_verdict_order_reference_then_subject_then_noise():
    assert _c().verdict == "reproduced"
    assert _c(passed=False, partly=True).verdict == "partly"
    assert _c(passed=False).verdict == "not reproduced"
    # a reference below its floor: the comparison cannot be made, whatever else holds
    c = _c(reference="ResNet", reference_ok=False, subject_ok=False)
    assert c.verdict == "inconclusive" and "ResNet" in c.note
    # the subject below its floor: the method did not deliver
    c = _c(subject="ODE-Net", subject_ok=False)
    assert c.verdict == "not reproduced" and "ODE-Net" in c.note
    # within the noise: undecided, even if the point estimate passes
    assert _c(decided=False).verdict == "inconclusive"
    # the old spelling
    assert _c(competent=False).verdict == "inconclusive"


def test_floor_is_stated_in_the_rule_and_names_are_kept():
    c = _c(floor="accuracy ≥ 0.5", subject="A", reference="B")
    assert "accuracy ≥ 0.5" in c.rule
    assert (c.subject, c.reference) == ("A", "B")


# --------------------------------------------------------------------------- compare
def test_compare_seed_standard_error():
    c = compare([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    assert c.diff == pytest.approx(-3.0)
    assert c.se_seeds == pytest.approx(math.sqrt(1 / 3 + 1 / 3))
    assert c.decided and c.below() and not c.exceeds()


def test_compare_within_noise_names_the_seeds_that_would_decide():
    c = compare([1.0, 1.1, 0.9], [1.05, 1.2, 0.8])
    assert not c.decided
    need = c.seeds_needed()
    assert need is not None and need > 3
    # at that many seeds (same variances) the difference would decide
    se_then = c.se_seeds * math.sqrt(3 / need)
    assert abs(c.diff) > c.z * se_then * 0.999
    assert f"{need} seeds" in c.text()


def test_compare_counts_the_test_sets_sampling_error():
    """He-like numbers: 2.4 % vs 2.7 % on 1,000 test signals with a small seed spread:
    the binomial error of the test set (≈ 0.5 pp per model) leaves it undecided, and no
    number of seeds can fix that."""
    a, b = [2.37, 2.40, 2.43], [2.67, 2.70, 2.73]
    assert compare(a, b).decided  # seeds alone would say "decided"
    c = compare(a, b, eval_n=1000, rate=100)
    assert c.se_eval == pytest.approx(math.hypot(100 * math.sqrt(0.024 * 0.976 / 1000),
                                                 100 * math.sqrt(0.027 * 0.973 / 1000)),
                                      rel=1e-3)
    assert not c.decided and c.seeds_needed() is None
    assert "larger evaluation set" in c.text("pp")
    # a hundred times more test examples decide it
    assert compare(a, b, eval_n=100_000, rate=100).decided


def test_compare_against_a_fixed_value_and_one_seed():
    assert compare([0.30, 0.31, 0.29], 0.2).exceeds(0.05)
    one = compare([0.3], [0.2])
    assert not one.decided and one.seeds_needed() is None  # spread unknown
    with pytest.raises(ValueError):
        compare([], [1.0])
    with pytest.raises(ValueError):
        compare([1.0], [2.0], eval_n=100)  # a rate needs its scale


# --------------------------------------------------------------------------- seed_offset
def _params(tmp_path, offset):
    doc = {"profile": "small", "seed_offset": offset,
           "mnist1d": {"seed": 42},
           "sec": {"common": {"seed": 0, "data_seed": 1},
                   "small": {"seeds": [0, 1, 2], "nested": {"split_seed": 3}, "lr": 0.1}}}
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def test_seed_offset_moves_every_seed_but_the_published_data(tmp_path):
    p = _params(tmp_path, 1000)
    s = load_params("sec", p)
    assert s["seed"] == 1000 and s["data_seed"] == 1001
    assert s["seeds"] == [1000, 1001, 1002] and s["nested"]["split_seed"] == 1003
    assert s["lr"] == 0.1
    assert load_params("mnist1d", p)["seed"] == 42
    assert load_params("sec", _params(tmp_path, 0))["seeds"] == [0, 1, 2]
    with pytest.raises(ParamError, match="seed_offset"):
        load_params("sec", _params(tmp_path, -1))


# --------------------------------------------------------------------------- two runs
def _run_dir(root, verdicts):
    for (paper, stage), claims in verdicts.items():
        d = root / "data" / paper
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{stage}.claims.json").write_text(json.dumps({
            "paper": paper, "stage": stage,
            "claims": [{"id": i, "verdict": v, "kind": k, "our_value": ""}
                       for i, (v, k) in claims.items()]}))
    return root


def test_verdicts_diff_counts_agreement_by_kind(tmp_path):
    a = _run_dir(tmp_path / "a", {("he", "deg"): {"x": ("reproduced", "experiment"),
                                                  "y": ("partly", "experiment"),
                                                  "z": ("reproduced", "check")}})
    b = _run_dir(tmp_path / "b", {("he", "deg"): {"x": ("reproduced", "experiment"),
                                                  "y": ("inconclusive", "experiment"),
                                                  "w": ("reproduced", "check")}})
    d = diff_runs(load_run(str(a)), load_run(str(b)))
    assert d.agreement("experiment") == (1, 2)
    assert d.only_a == ["he.deg.z"] and d.only_b == ["he.deg.w"]
    text = format_diff(d, "a", "b")
    assert "1/2 verdicts agree" in text and "he.deg.y" in text and "he.deg.x" not in text
    with pytest.raises(RunNotFound, match="neither a directory"):
        load_run(str(tmp_path / "missing"), tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunNotFound, match="dvc repro"):
        load_run(str(tmp_path / "empty"))


def test_verdicts_diff_reads_git_revisions(tmp_path):
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    _run_dir(tmp_path, {("p", "s"): {"c": ("reproduced", "experiment")}})
    subprocess.run(git + ["add", "."], cwd=tmp_path, check=True)
    subprocess.run(git + ["commit", "-qm", "one"], cwd=tmp_path, check=True)
    _run_dir(tmp_path, {("p", "s"): {"c": ("not reproduced", "experiment")}})
    subprocess.run(git + ["commit", "-qam", "two"], cwd=tmp_path, check=True)
    out = subprocess.run([sys.executable, "-m", "nnde.cli", "verdicts", "diff", "HEAD~1",
                          "HEAD", "--root", str(tmp_path)], capture_output=True, text=True,
                         check=True).stdout
    assert "0/1 verdicts agree" in out and "not reproduced" in out
