"""Shared fixtures: a throw-away copy of the repository with the pipeline run in it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

if os.environ.get("PYTEST_XDIST_WORKER"):
    # One intra-op thread per xdist worker: the workers already fill the cores, and
    # oversubscribed BLAS/oneDNN threads only slow both down.
    import torch

    torch.set_num_threads(1)
BIN = Path(sys.executable).parent


def tool_env() -> dict:
    """Environment in which `dvc`, `nnde` and `python` are this interpreter's."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("OMP_NUM_THREADS", "2")
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # the workers already fill the cores: a stage run by one of them takes one core
        # ("threads: auto"), or two multi-threaded solvers thrash each other
        env["OMP_NUM_THREADS"] = "1"
        env["NNDE_MAX_THREADS"] = "1"
    return env


def copy_repo(dest: Path) -> Path:
    """Copy the repository's tracked and untracked-but-not-ignored files to ``dest`` and
    make it a fresh git repository (DVC needs one)."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if not src.is_file():  # deleted in the working tree but still in the index
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    for p in (dest / "data", dest / "reports"):  # outputs of earlier runs are not inputs
        for f in list(p.rglob("*")) if p.exists() else []:
            if f.is_file() and "raw" not in f.relative_to(p).parts[:1]:
                f.unlink()
    git = ["git", "-c", "user.name=nnde-test", "-c", "user.email=test@nnde.invalid"]
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    # DVC experiments commit too: give the copy an identity of its own.
    for key, value in (("user.name", "nnde-test"), ("user.email", "test@nnde.invalid")):
        subprocess.run(["git", "config", key, value], cwd=dest, check=True)
    subprocess.run([*git, "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-qm", "copy"], cwd=dest, check=True)
    return dest


def set_profile(root: Path, profile: str) -> None:
    p = root / "params.yaml"
    text = p.read_text()
    doc = yaml.safe_load(text)
    assert "profile" in doc
    lines = [
        f"profile: {profile}" if line.startswith("profile:") else line
        for line in text.splitlines()
    ]
    p.write_text("\n".join(lines) + "\n")


def run(cmd: list[str], cwd: Path, check: bool = True, timeout: int = 1200):
    out = subprocess.run(cmd, cwd=cwd, env=tool_env(), capture_output=True, text=True,
                         timeout=timeout)
    if check and out.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({out.returncode})\nstdout:\n{out.stdout[-4000:]}\n"
            f"stderr:\n{out.stderr[-4000:]}"
        )
    return out


def _build_pipeline_repo(dest: Path) -> Path:
    root = copy_repo(dest)
    set_profile(root, "tiny")
    out = run(["dvc", "repro"], root)
    root.joinpath(".first-repro.log").write_text(out.stdout + out.stderr)
    return root


@pytest.fixture(scope="session")
def pipeline_repo(tmp_path_factory) -> Path:
    """A copy of the repository in which `dvc repro` has run once (tiny profile).

    Under pytest-xdist the pipeline runs once for all workers (the first to need it
    builds it under a file lock in the run's shared temporary folder) and each worker
    gets its own copy of the built repository, so no worker sees another's changes."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return _build_pipeline_repo(tmp_path_factory.mktemp("repo"))
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp().parent  # the same for every worker of a run
    built = shared / "pipeline-repo"
    with FileLock(str(shared / "pipeline-repo.lock")):
        if not (built / ".first-repro.log").exists():
            shutil.rmtree(built, ignore_errors=True)
            built.mkdir()
            _build_pipeline_repo(built)
    mine = tmp_path_factory.mktemp("repo")
    shutil.copytree(built, mine, symlinks=True, dirs_exist_ok=True)
    return mine


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    d = Path(os.environ.get("NNDE_TEST_ARTIFACTS", REPO / "test-artifacts"))
    d.mkdir(parents=True, exist_ok=True)
    return d



def stage_params(paper: str, stage: str, profile: str = "small") -> dict:
    """A stage's parameters at ``profile`` from the repository's params.yaml (``common``
    merged under it), as ``load_params`` gives them to the stage."""
    node = yaml.safe_load((REPO / "params.yaml").read_text())[paper][stage]
    return {**(node.get("common") or {}), **(node.get(profile) or {})}


@pytest.fixture
def one_thread():
    """Small tensors: one thread is faster, and immune to a busy machine."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
