"""MNIST-1D (Greydanus and Kobak, *Scaling down deep learning with MNIST-1D*, ICML 2024):
the classification data of the ``small`` profiles.

Ten 1-D digit templates (length 12) are padded, translated, scaled, sheared, given
correlated and iid noise and resampled to 40 points. The default set has 5,000 examples,
split 4,000 train / 1,000 test, from seed 42. Published test accuracies on it separate
model families (logistic regression 32 %, MLP 68 %, CNN 94 %, GRU 91 %, human 96 %), which
8×8 digits cannot: a linear model already reaches about 96 % there.

The data are *generated* here, offline, by the ``mnist1d`` package's ``make_dataset`` with
the published default arguments; its ``get_dataset`` (which downloads and unpickles a file)
is never called. :func:`write_mnist1d` stores the arrays in a plain ``.npz`` (no pickled
objects; read with ``allow_pickle=False``), which is the output of the pipeline stage
``data_mnist1d`` (``reproductions/mnist1d/generate.py``) that every classification stage of the
small profile depends on. :func:`load_mnist1d` reads it into a :class:`~nnde.data.Split`
of signals ``(N, 1, 40)``.
"""

from __future__ import annotations

import hashlib
import os
import random
import zipfile
from pathlib import Path

import numpy as np
import torch

from ..errors import DataFileError, ParamError
from .digits import Split, stratified_split

DEFAULT_PATH = Path("data/mnist1d/mnist1d.npz")
#: The published default arguments that may be changed here (the rest stay the package's).
DEFAULTS = {"num_samples": 5000, "train_split": 0.8, "seed": 42, "length": 40}
KEYS = ("x_train", "y_train", "x_test", "y_test")
HOW_TO_MAKE = ("make it with `dvc repro data_mnist1d` "
               "(or `python reproductions/mnist1d/generate.py`)")


def generate_mnist1d(num_samples: int = 5000, train_split: float = 0.8, seed: int = 42,
                     length: int = 40) -> dict[str, np.ndarray]:
    """Generate MNIST-1D offline with the ``mnist1d`` package.

    Returns ``x_train`` (float32, (n_train, length)), ``y_train`` (int64), ``x_test``,
    ``y_test``. The package seeds Python's and numpy's global generators; their states are
    restored afterwards, so calling this does not disturb the caller's randomness.
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 20:
        raise ParamError("mnist1d.num_samples", f"is {num_samples!r}", "an integer >= 20")
    if not (isinstance(train_split, float) and 0 < train_split < 1):
        raise ParamError("mnist1d.train_split", f"is {train_split!r}", "a number in (0, 1)")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParamError("mnist1d.seed", f"is {seed!r}", "an integer >= 0")
    if isinstance(length, bool) or not isinstance(length, int) or length < 12:
        raise ParamError("mnist1d.length", f"is {length!r}", "an integer >= 12")
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise DataFileError(f"the mnist1d package is not installed ({exc}); "
                            "pip install mnist1d") from exc
    args = get_dataset_args()
    args.num_samples, args.train_split = num_samples, train_split
    args.seed, args.final_seq_length = seed, length
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        d = make_dataset(args)
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    return {
        "x_train": np.ascontiguousarray(d["x"], dtype=np.float32),
        "y_train": np.ascontiguousarray(d["y"], dtype=np.int64),
        "x_test": np.ascontiguousarray(d["x_test"], dtype=np.float32),
        "y_test": np.ascontiguousarray(d["y_test"], dtype=np.int64),
    }


def write_mnist1d(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> str:
    """Write the arrays atomically as an uncompressed ``.npz``; return their SHA-256 (of
    the arrays' bytes in :data:`KEYS` order, independent of the zip container)."""
    from ..stage import _atomic_target

    path = Path(path)
    tmp = _atomic_target(path)
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **{k: arrays[k] for k in KEYS})
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return digest(arrays)


def digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for k in KEYS:
        h.update(k.encode())
        h.update(np.ascontiguousarray(arrays[k]).tobytes())
    return h.hexdigest()


def read_mnist1d(path: str | os.PathLike = DEFAULT_PATH) -> dict[str, np.ndarray]:
    """The arrays of a file written by :func:`write_mnist1d`, validated."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"MNIST-1D file not found: {path}; {HOW_TO_MAKE}")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in KEYS if k not in z.files]
            if missing:
                raise DataFileError(f"{path}: arrays {missing} missing (not an MNIST-1D file "
                                    f"of this project); {HOW_TO_MAKE}")
            arrays = {k: z[k] for k in KEYS}
    except DataFileError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataFileError(f"{path}: cannot read ({exc.__class__.__name__}: the file is "
                            f"corrupt or not an .npz); delete it and {HOW_TO_MAKE}") from exc
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.ndim != 2 or y.ndim != 1 or len(x) != len(y) or len(x) == 0:
            raise DataFileError(f"{path}: x_{part} {x.shape} and y_{part} {y.shape} do not "
                                f"match (expected (N, L) and (N,)); {HOW_TO_MAKE}")
        if x.dtype != np.float32 or y.dtype != np.int64:
            raise DataFileError(f"{path}: dtypes {x.dtype}/{y.dtype}, expected float32/int64; "
                                f"{HOW_TO_MAKE}")
        if y.min() < 0 or y.max() > 9 or not np.isfinite(x).all():
            raise DataFileError(f"{path}: labels outside 0..9 or non-finite signals; "
                                f"{HOW_TO_MAKE}")
    if arrays["x_train"].shape[1] != arrays["x_test"].shape[1]:
        raise DataFileError(f"{path}: train and test signals differ in length")
    return arrays


def load_mnist1d(path: str | os.PathLike = DEFAULT_PATH, val_frac: float = 0.0,
                 seed: int = 0) -> Split:
    """MNIST-1D as a :class:`Split` of ``(N, 1, L)`` float32 signals and int64 labels.

    The test set is the published one (the last 20 % of the generated examples). With
    ``val_frac > 0`` a validation set is taken from the training set, stratified by class
    and drawn from ``seed``; otherwise the validation tensors are empty."""
    a = read_mnist1d(path)
    xtr = torch.from_numpy(a["x_train"]).unsqueeze(1)
    ytr = torch.from_numpy(a["y_train"])
    xte = torch.from_numpy(a["x_test"]).unsqueeze(1)
    yte = torch.from_numpy(a["y_test"])
    if val_frac:
        # stratified_split's third ("test") part is our validation part here
        tr, _, va = stratified_split(a["y_train"], seed, 0.0, val_frac)
        tr, va = torch.from_numpy(tr), torch.from_numpy(va)
        return Split(xtr[tr], ytr[tr], xtr[va], ytr[va], xte, yte)
    empty = xtr[:0]
    return Split(xtr, ytr, empty, ytr[:0], xte, yte)
