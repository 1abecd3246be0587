"""The ``paper`` profile of every stage runs: the same scripts, reading tiny data files in
the real formats (MNIST IDX, CIFAR-10 binary) that this test writes itself, with the
sizes cut to a few iterations. What is tested is the code path of the paper profile
(file loaders, 28×28 / 32×32 inputs, lr milestones, the per-stage chaining through files),
not its numbers.

The He et al. degradation stage has its own paper-profile test in ``test_he.py`` (the
warm-up of ResNet-110 at lr 0.01 is checked there).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from .conftest import REPO, tool_env

pytestmark = pytest.mark.e2e

#: Stage → overrides of its ``paper`` entry (sizes only; the paper's data and code path
#: stay). Stages that read each other's outputs are listed in order.
OVERRIDES = {
    "haber_ruthotto.example1": {},
    "haber_ruthotto.architectures": {"depths": [16, 32], "seeds": [0], "n_train": 32,
                                     "n_val": 32, "epochs": 2,
                                     "workers": 1, "threads": 1},
    "belkin.polynomial": {"repeats": 2},
    "belkin.subspace": {"repeats": 2, "gd_repeats": 1, "gd_iterations": 200},
    "belkin.rff": {"n_train": 60, "n_test": 40, "repeats": 1, "grid_points": 4,
                   "device": "cpu", "threads": 1},
    "chen.spiral": {"iterations": 4, "log_every": 2},
    "chen.table1": {"channels": 8, "epochs": 2, "milestones": [1], "batch_size": 32,
                    "tol": 0.1, "rk_steps": 2, "threads": 1, "device": "cpu"},
    "chen.fig3": {"tols": [0.1, 0.01], "batch": 16, "threads": 1},
    "chen.memory": {"steps": [8, 16], "tols": [1.0e-2, 1.0e-3]},
    "chen.table2": {"spirals": 20, "max_iterations": 2, "eval_every": 1, "batch": 8,
                    "seeds": [0], "workers": 1, "threads": 1},
    "chen.cnf": {"targets": ["two_moons"], "sizes": [1, 2], "steps": 2,
                 "ml": {"size": 2, "t1": 10.0, "base_var": 0.1, "average": True, "steps": 2,
                        "fine_factor": 2, "lr": 1.0e-3, "batch": 16, "iterations": 2,
                        "seeds": [0]},
                 "batch": 16, "eval_batch": 32, "test_batch": 32,
                 "max_iterations": 2, "eval_every": 1, "picture_samples": 100, "grid": 10,
                 "seeds": [0], "workers": 1},
    "ruthotto_haber.table1": {"widths": [4, 8, 8], "epochs": 2, "milestones": [1],
                              "batch_size": 25, "threads": 1, "device": "cpu"},
    "ruthotto_haber.theorems": {"channels": 4, "image_size": 8, "examples": 4,
                                "perturbations": 2, "jacobian_examples": 1,
                                "energy_steps": 10, "workers": 1},
    "ruthotto_haber.stencils": {},
    "he.euler_limit": {"layers": [4, 8, 16], "examples": 8, "reference_steps": 64,
                       "seeds": [0]},
}


def write_idx(path: Path, arr: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big")
                                                      for d in arr.shape)
    path.write_bytes(header + arr.astype(np.uint8).tobytes())


def write_mnist(root: Path, n_train=96, n_test=48, seed=0) -> None:
    """Four MNIST IDX files of random 28×28 digits-like images, every class present."""
    rng = np.random.default_rng(seed)
    d = root / "mnist"
    d.mkdir(parents=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 256, (n, 28, 28))
        images[:, 10:18, 10:18] = (labels * 25)[:, None, None]  # a learnable signal
        write_idx(d / f"{prefix}-images-idx3-ubyte", images)
        write_idx(d / f"{prefix}-labels-idx1-ubyte", labels)


def write_cifar(root: Path, per_batch=20, n_test=20, seed=1) -> None:
    """CIFAR-10 binary batches: 3073-byte records (label, 1024 R, 1024 G, 1024 B)."""
    rng = np.random.default_rng(seed)
    d = root / "cifar-10-batches-bin"
    d.mkdir(parents=True)

    def batch(n):
        labels = (np.arange(n) % 10).astype(np.uint8)
        pixels = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        return np.concatenate([labels[:, None], pixels], axis=1).tobytes()

    for i in range(1, 6):
        (d / f"data_batch_{i}.bin").write_bytes(batch(per_batch))
    (d / "test_batch.bin").write_bytes(batch(n_test))


def paper_params(tmp: Path) -> None:
    """The repository's params.yaml at ``profile: paper`` with the size overrides."""
    doc = yaml.safe_load((REPO / "params.yaml").read_text())
    doc["profile"] = "paper"
    for key, over in OVERRIDES.items():
        top, stage = key.split(".")
        node = doc[top][stage]
        target = node["paper"] if "paper" in node else node
        for k, v in over.items():
            if k not in target and "common" in node and k not in node["common"]:
                raise AssertionError(f"{key}.{k} is not a parameter of the stage")
            target[k] = v
    (tmp / "params.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


@pytest.fixture(scope="module")
def paper_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("paper")
    write_mnist(tmp / "data/raw")
    write_cifar(tmp / "data/raw")
    paper_params(tmp)
    return tmp


@pytest.mark.parametrize("stage", list(OVERRIDES))
def test_paper_profile_runs(paper_dir, stage):
    paper, name = stage.split(".")
    env = tool_env()
    env["NNDE_NO_PROGRESS"] = "1"
    env["PYTHONPATH"] = str(REPO)  # the stage packages, run from the data's folder
    for step in ("run", "judge"):
        out = subprocess.run([sys.executable, "-m", f"reproductions.{paper}.{name}", step],
                             cwd=paper_dir, env=env, capture_output=True, text=True,
                             timeout=600)
        assert out.returncode == 0, (f"{stage} {step} (paper profile) failed:\n"
                                     f"{out.stderr[-3000:]}")
    claims = json.loads((paper_dir / "data" / paper / f"{name}.claims.json").read_text())
    assert claims["claims"], f"{stage} wrote no claims"
    section = json.loads((paper_dir / "data" / paper / f"{name}.section.json").read_text())
    assert section["params"].get("profile", "paper") == "paper"
