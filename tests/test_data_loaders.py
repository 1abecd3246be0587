"""MNIST (IDX) and CIFAR-10 (binary) loaders on tiny files the tests write themselves."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from nnde.data import digits_split, load_cifar10, load_mnist, read_idx
from nnde.errors import DataFileError


def write_idx(path, arr: np.ndarray, gz=False):
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in arr.shape)
    data = header + arr.astype(np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_roundtrip(tmp_path, gz):
    rng = np.random.default_rng(0)
    d = tmp_path / "mnist"
    d.mkdir()
    imgs = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    labs = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    write_idx(d / "t10k-images-idx3-ubyte", imgs, gz)
    write_idx(d / "t10k-labels-idx1-ubyte", labs, gz)
    x, y = load_mnist(tmp_path, "test")
    assert x.shape == (5, 28, 28) and x.dtype.is_floating_point is False
    np.testing.assert_array_equal(x.numpy(), imgs)
    assert y.tolist() == [3, 1, 4, 1, 5]


def test_mnist_missing_names_path_format_and_source(tmp_path):
    with pytest.raises(DataFileError) as e:
        load_mnist(tmp_path, "train")
    msg = str(e.value)
    assert "train-images-idx3-ubyte" in msg and "IDX" in msg and "download" in msg


def test_idx_bad_magic_and_truncation(tmp_path):
    p = tmp_path / "x"
    p.write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(DataFileError, match="magic"):
        read_idx(p)
    p = write_idx(tmp_path / "y", np.zeros((4, 2, 2), np.uint8))
    p.write_bytes(p.read_bytes()[:-3])
    with pytest.raises(DataFileError, match="truncated"):
        read_idx(p)


def test_mnist_count_mismatch(tmp_path):
    d = tmp_path / "mnist"
    d.mkdir()
    write_idx(d / "t10k-images-idx3-ubyte", np.zeros((3, 28, 28), np.uint8))
    write_idx(d / "t10k-labels-idx1-ubyte", np.zeros((2,), np.uint8))
    with pytest.raises(DataFileError, match="do not match"):
        load_mnist(tmp_path, "test")


def write_cifar(path, images: np.ndarray, labels: np.ndarray):
    rec = np.concatenate([labels[:, None].astype(np.uint8),
                          images.reshape(len(images), -1).astype(np.uint8)], axis=1)
    path.write_bytes(rec.tobytes())


def test_cifar_roundtrip_channel_order(tmp_path):
    d = tmp_path / "cifar-10-batches-bin"
    d.mkdir()
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, size=(4, 3, 32, 32), dtype=np.uint8)
    imgs[0, 0] = 255  # red plane of the first image
    imgs[0, 1:] = 0
    write_cifar(d / "test_batch.bin", imgs, np.array([0, 9, 2, 3]))
    x, y = load_cifar10(tmp_path, "test")
    np.testing.assert_array_equal(x.numpy(), imgs)
    assert y.tolist() == [0, 9, 2, 3]
    assert x[0, 0].min() == 255 and x[0, 1].max() == 0


def test_cifar_missing_and_malformed(tmp_path):
    with pytest.raises(DataFileError) as e:
        load_cifar10(tmp_path, "train")
    assert "data_batch_1.bin" in str(e.value) and "binary" in str(e.value)
    d = tmp_path / "cifar-10-batches-bin"
    d.mkdir()
    (d / "test_batch.bin").write_bytes(b"\x00" * 3000)
    with pytest.raises(DataFileError, match="multiple of 3073"):
        load_cifar10(tmp_path, "test")
    (d / "test_batch.bin").write_bytes(bytes([12]) + b"\x00" * 3072)
    with pytest.raises(DataFileError, match="label"):
        load_cifar10(tmp_path, "test")


def test_digits_split_is_seeded_stratified_and_disjoint():
    a, b, c = digits_split(0), digits_split(0), digits_split(1)
    assert (a.x_train == b.x_train).all() and not (a.y_train.shape == c.y_train.shape
                                                   and (a.x_train == c.x_train).all())
    n = len(a.x_train) + len(a.x_val) + len(a.x_test)
    assert n == 1797
    assert a.x_train.shape[1:] == (1, 8, 8) and float(a.x_train.max()) <= 1.0
    counts = np.bincount(a.y_test.numpy(), minlength=10)
    assert counts.min() >= 30  # every class present in the test split
    flat = {tuple(v.flatten().tolist()) for v in a.x_test[:50]}
    assert len(flat) > 1
