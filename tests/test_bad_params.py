"""Bad values in params.yaml: a one-line error naming the key, non-zero exit, no output
left behind or overwritten."""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import pytest

from .conftest import run

pytestmark = pytest.mark.e2e

#: the run step of the stage (parameters are read and checked there)
RUN = ["-m", "reproductions.haber_ruthotto.example1", "run"]
OUT_DIRS = ("data/haber_ruthotto", "reports/figures/haber_ruthotto")


def snapshot(root: Path) -> dict[str, str]:
    files = {}
    for d in OUT_DIRS:
        for f in sorted((root / d).rglob("*")):
            if f.is_file():
                files[str(f.relative_to(root))] = hashlib.sha256(f.read_bytes()).hexdigest()
    return files


@pytest.fixture
def repo_copy(pipeline_repo, tmp_path) -> Path:
    dest = tmp_path / "repo"
    shutil.copytree(pipeline_repo, dest, symlinks=True)
    return dest


def edit(root: Path, old: str, new: str) -> None:
    p = root / "params.yaml"
    text = p.read_text()
    assert old in text, old
    p.write_text(text.replace(old, new, 1))


CASES = [
    ("matrices: [K_plus, K_minus, K_zero]", "matrices: [K_plus, K_sideways]",
     "haber_ruthotto.example1.matrices[1]", "K_plus, K_minus, K_zero"),
    ("layers: [10, 20]", "layers: [10, 0]", "haber_ruthotto.example1.layers[1]", "> 0"),
    ("layers: [10, 20]", "layers: [-3]", "haber_ruthotto.example1.layers[0]", "> 0"),
    ("h: 0.1", "h: 0", "haber_ruthotto.example1.h", "> 0"),
    ("h: 0.1", "h: -0.5", "haber_ruthotto.example1.h", "> 0"),
    ("h: 0.1", "h: fast", "haber_ruthotto.example1.h", "a number"),
    ("schemes: [euler, rk4]", "schemes: [euler, rk5]", "haber_ruthotto.example1.schemes[1]",
     "rk4"),
    ("profile: tiny", "profile: huge", "profile", "small, paper, tiny"),
]


@pytest.mark.parametrize(("old", "new", "key", "allowed"), CASES)
def test_bad_param_fails_cleanly(repo_copy, old, new, key, allowed):
    before = snapshot(repo_copy)
    assert before, "the pipeline should have produced outputs"
    edit(repo_copy, old, new)
    out = run([sys.executable, *RUN], repo_copy, check=False)
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert f"'{key}'" in lines[0] and allowed in lines[0], lines[0]
    assert snapshot(repo_copy) == before, "outputs were changed by a failed stage"


def test_bad_param_under_dvc_repro_keeps_outputs(repo_copy):
    before = snapshot(repo_copy)
    edit(repo_copy, "h: 0.1", "h: -1")
    out = run(["dvc", "repro"], repo_copy, check=False)
    assert out.returncode != 0
    assert "'haber_ruthotto.example1.h'" in out.stdout + out.stderr
    assert snapshot(repo_copy) == before
