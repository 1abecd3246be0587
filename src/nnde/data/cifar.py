"""CIFAR-10 from the standard *binary* version in ``data/raw/`` (never unpickled).

Expected: ``data/raw/cifar-10-batches-bin/data_batch_{1..5}.bin`` and ``test_batch.bin``,
as in the archive ``cifar-10-binary.tar.gz`` from the CIFAR page of A. Krizhevsky.
Each record is 3073 bytes: one label byte (0–9), then 1024 red, 1024 green and 1024 blue
bytes of a 32×32 image in row-major order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import DataFileError

RECORD = 1 + 3 * 32 * 32
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILES = ("test_batch.bin",)
HOW_TO_GET = (
    "download the binary version of CIFAR-10 (cifar-10-binary.tar.gz, from the CIFAR page "
    "of A. Krizhevsky) and extract it so that {dir} holds the .bin files"
)


def read_cifar_bin(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One binary batch file → ``(images uint8 (N, 3, 32, 32), labels uint8 (N,))``."""
    path = Path(path)
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read ({exc})") from exc
    if raw.size == 0 or raw.size % RECORD:
        raise DataFileError(
            f"{path}: size {raw.size} bytes is not a positive multiple of {RECORD} "
            "(1 label byte + 3072 pixel bytes per record): not a CIFAR-10 binary batch"
        )
    rec = raw.reshape(-1, RECORD)
    labels = rec[:, 0]
    if labels.max() > 9:
        raise DataFileError(f"{path}: label byte {int(labels.max())} > 9: not CIFAR-10 binary")
    return rec[:, 1:].reshape(-1, 3, 32, 32).copy(), labels.copy()


def load_cifar10(root: str | Path = "data/raw", split: str = "train"):
    """``(images, labels)``: uint8 tensor ``(N, 3, 32, 32)`` and int64 tensor ``(N,)``."""
    if split not in ("train", "test"):
        raise DataFileError(f"unknown CIFAR-10 split {split!r}; valid: train, test")
    directory = Path(root) / "cifar-10-batches-bin"
    names = TRAIN_FILES if split == "train" else TEST_FILES
    missing = [n for n in names if not (directory / n).is_file()]
    if missing:
        raise DataFileError(
            f"CIFAR-10 file not found: {directory / missing[0]} (binary version, "
            f"{RECORD}-byte records); " + HOW_TO_GET.format(dir=directory)
        )
    parts = [read_cifar_bin(directory / n) for n in names]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts]).astype(np.int64)
    return torch.from_numpy(images), torch.from_numpy(labels)
