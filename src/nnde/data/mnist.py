"""MNIST from the standard IDX files in ``data/raw/`` (for the ``paper`` profiles).

Expected files (either plain or gzip-compressed, ``.gz``)::

    data/raw/mnist/train-images-idx3-ubyte   data/raw/mnist/train-labels-idx1-ubyte
    data/raw/mnist/t10k-images-idx3-ubyte    data/raw/mnist/t10k-labels-idx1-ubyte

IDX format: big-endian magic ``0x00 0x00 <dtype> <ndim>`` (dtype 0x08 = unsigned byte),
then ``ndim`` big-endian uint32 dimensions, then the data in C order.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from ..errors import DataFileError

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
HOW_TO_GET = (
    "download the four MNIST IDX files (e.g. from the MNIST page of Y. LeCun et al. or a "
    "mirror) and place them, gzipped or not, in {dir}"
)
_DTYPES = {0x08: np.uint8}


def _find(directory: Path, name: str) -> Path:
    for cand in (directory / name, directory / f"{name}.gz"):
        if cand.is_file():
            return cand
    raise DataFileError(
        f"MNIST file not found: {directory / name}[.gz] (IDX format); "
        + HOW_TO_GET.format(dir=directory)
    )


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (optionally gzipped) into a numpy array, validating its header."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise DataFileError(f"{path}: cannot read IDX file ({exc})") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise DataFileError(
            f"{path}: not an IDX file of unsigned bytes (bad magic number {raw[:4].hex()}); "
            "expected the original MNIST IDX format"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataFileError(f"{path}: truncated IDX header")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    count = int(np.prod(dims)) if dims else 0
    if len(raw) - header != count:
        raise DataFileError(
            f"{path}: IDX header says {dims} ({count} bytes) but the file holds "
            f"{len(raw) - header} bytes of data; the file is truncated or corrupt"
        )
    return np.frombuffer(raw, dtype=_DTYPES[raw[2]], offset=header).reshape(dims).copy()


def load_mnist(root: str | Path = "data/raw", split: str = "train"):
    """``(images, labels)``: uint8 tensor ``(N, 28, 28)`` and int64 tensor ``(N,)``."""
    if split not in FILES:
        raise DataFileError(f"unknown MNIST split {split!r}; valid: train, test")
    directory = Path(root) / "mnist"
    img_name, lab_name = FILES[split]
    images = read_idx(_find(directory, img_name))
    labels = read_idx(_find(directory, lab_name))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataFileError(
            f"{directory}: images {images.shape} and labels {labels.shape} do not match "
            "(expected (N, 28, 28) and (N,))"
        )
    if labels.max(initial=0) > 9:
        raise DataFileError(f"{directory / lab_name}: labels outside 0..9")
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))
