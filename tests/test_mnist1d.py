"""MNIST-1D: generated offline, bit for bit the same each time, read back with checks."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from nnde.data import generate_mnist1d, load_mnist1d, read_mnist1d, write_mnist1d
from nnde.data.mnist1d import digest
from nnde.errors import DataFileError, ParamError


@pytest.fixture(scope="module")
def arrays():
    return generate_mnist1d()


def test_published_default_shapes_dtypes_and_balance(arrays):
    assert arrays["x_train"].shape == (4000, 40) and arrays["x_test"].shape == (1000, 40)
    assert arrays["x_train"].dtype == np.float32 and arrays["y_train"].dtype == np.int64
    for part, n in (("train", 4000), ("test", 1000)):
        counts = np.bincount(arrays[f"y_{part}"], minlength=10)
        assert len(counts) == 10 and counts.sum() == n
        # 500 per class overall, shuffled before the 80/20 split: every class is present
        # in both parts in roughly its share
        assert counts.min() > 0.8 * n / 10 and counts.max() < 1.2 * n / 10
    both = np.concatenate([arrays["y_train"], arrays["y_test"]])
    assert (np.bincount(both) == 500).all()
    # the package centres the whole set and scales it to unit std
    x = np.concatenate([arrays["x_train"], arrays["x_test"]])
    assert abs(x.mean()) < 1e-4 and abs(x.std() - 1) < 1e-4


def test_two_generations_are_bit_identical_and_leave_global_rngs_alone(arrays):
    random.seed(123)
    np.random.seed(123)
    before = (random.random(), np.random.rand())
    random.seed(123)
    np.random.seed(123)
    again = generate_mnist1d()
    after = (random.random(), np.random.rand())
    assert before == after
    for k in arrays:
        assert np.array_equal(arrays[k], again[k])
    assert digest(arrays) == digest(again)
    other = generate_mnist1d(seed=43)
    assert not np.array_equal(arrays["x_train"], other["x_train"])


def test_write_then_load(tmp_path, arrays):
    path = tmp_path / "m.npz"
    sha = write_mnist1d(path, arrays)
    assert sha == digest(read_mnist1d(path))
    s = load_mnist1d(path)
    assert s.x_train.shape == (4000, 1, 40) and s.x_test.shape == (1000, 1, 40)
    assert s.x_train.dtype == torch.float32 and s.y_train.dtype == torch.int64
    assert len(s.x_val) == 0 and s.num_classes == 10
    v = load_mnist1d(path, val_frac=0.2, seed=1)
    assert len(v.x_train) + len(v.x_val) == 4000 and abs(len(v.x_val) - 800) <= 10
    assert torch.equal(v.x_test, s.x_test)


def test_missing_file_names_path_and_fix(tmp_path):
    with pytest.raises(DataFileError, match=r"not found: .*nope\.npz.*dvc repro data_mnist1d"):
        load_mnist1d(tmp_path / "nope.npz")


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong_arrays", "bad_labels"])
def test_corrupt_file_gives_one_line_error(tmp_path, arrays, damage):
    path = tmp_path / "m.npz"
    write_mnist1d(path, arrays)
    raw = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"not a zip file at all")
    elif damage == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "wrong_arrays":
        np.savez(path, x_train=arrays["x_train"])
    else:
        bad = dict(arrays)
        bad["y_test"] = bad["y_test"] + 10
        write_mnist1d(path, bad)
    with pytest.raises(DataFileError) as e:
        load_mnist1d(path)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg and "mnist1d" in msg


def test_bad_generation_arguments():
    with pytest.raises(ParamError, match="num_samples"):
        generate_mnist1d(num_samples=5)
    with pytest.raises(ParamError, match="train_split"):
        generate_mnist1d(train_split=1.5)
