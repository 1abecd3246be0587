"""Smoke test of the asv suite: `asv run --python=same --quick` runs every benchmark once
in this environment and none fails (asv exits 2 on a failed benchmark; "failed" in its
log is checked too). Skips, not failures, are expected for invalid combinations."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ASV = Path(sys.executable).with_name("asv")


@pytest.mark.e2e
@pytest.mark.skipif(not ASV.exists() and not shutil.which("asv"), reason="asv not installed")
def test_asv_quick_smoke(tmp_path):
    asv = str(ASV) if ASV.exists() else "asv"
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    subprocess.run([asv, "machine", "--yes", "--machine", "nnde-ci"], cwd=ROOT, env=env,
                   check=True, capture_output=True)  # fmt: skip
    res = subprocess.run(
        [asv, "run", "--python=same", "--quick", "--dry-run", "--show-stderr",
         "--machine", "nnde-ci"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    log = res.stdout + res.stderr
    (tmp_path / "asv.log").write_text(log)
    assert res.returncode == 0, log[-4000:]
    assert "Running" in log and "benchmarks" in log, log[-2000:]
    failed = [ln for ln in log.splitlines() if re.search(r"\bfailed\b", ln)]
    assert not failed, "\n".join(failed)
