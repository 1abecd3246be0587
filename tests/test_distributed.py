"""Data-parallel training with torchrun (gloo on CPU), checkpoints, resume, NaN guard."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from .conftest import REPO, tool_env

SCRIPT = str(REPO / "tests" / "ddp_tiny_train.py")


def launch(args, nproc=0, check=True, **kw):
    if nproc:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={nproc}", SCRIPT, *args]
    else:
        cmd = [sys.executable, SCRIPT, *args]
    env = tool_env()
    env["OMP_NUM_THREADS"] = "1"
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, **kw)
    if check:
        assert out.returncode == 0, out.stderr[-3000:]
    return out


def weights(d: Path, rank=0):
    return torch.load(d / f"weights_rank{rank}.pt", weights_only=True)


def test_two_process_gloo_matches_single_process(tmp_path):
    single, multi = tmp_path / "single", tmp_path / "multi"
    launch(["--out", str(single)])
    launch(["--out", str(multi)], nproc=2)
    a, b = weights(single), weights(multi)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)
    # the runs really trained: weights moved from the seeded initialisation
    torch.manual_seed(0)
    init = torch.nn.Linear(2, 32).weight
    assert (a["0.weight"] - init).abs().max() > 1e-3
    # only rank 0 wrote outputs
    assert not (multi / "weights_rank1.pt").exists()
    section = json.loads((multi / "ddp" / "tiny.section.json").read_text())
    assert "written by rank 0 of 2" in section["text"]


def test_batchnorm_statistics_per_process_unless_synchronised(tmp_path):
    """Each process normalises with its own shard's BatchNorm statistics: two processes
    then train other weights than one process does (the README and the report's
    provenance say so). Synchronised BatchNorm is torch's GPU-only SyncBatchNorm: asked
    for on CPUs it stops with a message naming the parameter, and writes nothing."""
    single, multi = tmp_path / "single", tmp_path / "multi"
    launch(["--out", str(single), "--batchnorm"])
    launch(["--out", str(multi), "--batchnorm"], nproc=2)
    a, b = weights(single), weights(multi)
    assert max((a[k].float() - b[k].float()).abs().max() for k in a) > 1e-4
    # single-process: the option changes nothing (there is nothing to synchronise)
    launch(["--out", str(tmp_path / "single_sync"), "--batchnorm", "--sync-batchnorm"])
    c = weights(tmp_path / "single_sync")
    for k in a:
        torch.testing.assert_close(a[k], c[k])
    bad = tmp_path / "sync_cpu"
    out = launch(["--out", str(bad), "--batchnorm", "--sync-batchnorm"], nproc=2, check=False)
    assert out.returncode != 0
    assert "'sync_batchnorm' needs CUDA devices" in out.stderr
    assert not any(bad.rglob("*.pt"))


def test_world_size_that_does_not_divide_the_batch_fails_clearly(tmp_path):
    out = launch(["--out", str(tmp_path), "--batch", "33"], nproc=2, check=False)
    assert out.returncode != 0
    assert "'batch_size' is 33, which 2 processes cannot share evenly" in out.stderr
    assert not any(tmp_path.rglob("*.pt"))


def test_resume_after_kill_gives_the_same_result(tmp_path):
    ref = tmp_path / "ref"
    launch(["--out", str(ref), "--epochs", "6", "--dropout", "0.2"])
    ck = tmp_path / "ck.pt"
    run_dir = tmp_path / "resumed"
    env = tool_env()
    proc = subprocess.Popen([sys.executable, SCRIPT, "--out", str(run_dir), "--epochs", "6",
                             "--checkpoint", str(ck), "--sleep", "0.6",
                             "--dropout", "0.2"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    epoch = 0
    while time.time() < deadline:
        if ck.exists():
            epoch = torch.load(ck, weights_only=False)["epoch"]
            if epoch >= 2:
                break
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 2 <= epoch < 6, f"the run should be killed mid-way (epoch {epoch})"
    assert not (run_dir / "weights_rank0.pt").exists()
    launch(["--out", str(run_dir), "--epochs", "6", "--checkpoint", str(ck), "--resume",
            "--dropout", "0.2"])
    a, b = weights(ref), weights(run_dir)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_nan_guard_stops_with_stage_model_epoch_and_step(tmp_path):
    out = launch(["--out", str(tmp_path), "--nan"], check=False)
    assert out.returncode == 2
    line = out.stderr.strip().splitlines()[-1]
    assert "stage tests.ddp, model mlp, epoch 1, step" in line
    assert not any(tmp_path.rglob("*.pt"))


@pytest.mark.parametrize("nproc", [2])
def test_nan_guard_distributed_does_not_hang(tmp_path, nproc):
    out = launch(["--out", str(tmp_path), "--nan"], nproc=nproc, check=False)
    assert out.returncode != 0
    assert "loss is nan" in out.stderr
