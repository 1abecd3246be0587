"""The 2-D data sets of Haber and Ruthotto (2017): shapes, balance, bands, seeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnde.data import toy2d_split
from nnde.data.toy2d import ellipses, pad_features, peaks, peaks_bands, peaks_function, swiss_roll
from nnde.errors import ParamError, UnknownNameError


def test_swiss_roll_curves_and_alternating_split():
    x, y = swiss_roll(50)
    assert x.shape == (100, 2) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.equal(torch.bincount(y), torch.tensor([50, 50]))
    r = x.norm(dim=1).numpy()
    # class 0 radius 0 → 1, class 1 radius 0.2 → 1.2, both along θ = 0..4π
    np.testing.assert_allclose(r[0::2], np.linspace(0, 1, 50), atol=1e-6)
    np.testing.assert_allclose(r[1::2], np.linspace(0.2, 1.2, 50), atol=1e-6)
    s = toy2d_split("swiss_roll", 40, 40, pad_to=4)
    assert s.x_train.shape == (40, 4) and s.x_val.shape == (40, 4)
    assert torch.equal(torch.bincount(s.y_train), torch.tensor([20, 20]))
    assert float(s.x_train[:, 2:].abs().max()) == 0.0
    full, _ = swiss_roll(40)
    # training points are the even pairs of the curve, validation the odd ones
    assert torch.equal(s.x_train[:, :2], full.view(40, 2, 2)[0::2].reshape(-1, 2))
    assert torch.equal(s.x_val[:, :2], full.view(40, 2, 2)[1::2].reshape(-1, 2))


def test_ellipses_radii_and_balance():
    x, y = ellipses(500, seed=3)
    assert x.shape == (1000, 2) and torch.equal(torch.bincount(y), torch.tensor([500, 500]))
    r = torch.sqrt(x[:, 0] ** 2 + (x[:, 1] / 0.4) ** 2)
    assert float(r[y == 0].max()) <= 1 + 1e-5
    assert float(r[y == 1].min()) >= 1 - 1e-5 and float(r[y == 1].max()) <= 2 + 1e-5


def test_peaks_bands_are_equal_value_intervals():
    assert abs(peaks_function(0.0, 0.0) - (3 * np.exp(-1) - np.exp(-1) / 3)) < 1e-12
    x, y = peaks(4000, seed=1)
    assert x.shape == (4000, 2) and set(np.unique(y.numpy())) == {0, 1, 2, 3, 4}
    assert float(x.abs().max()) <= 3
    z = peaks_function(x[:, 0].double().numpy(), x[:, 1].double().numpy())
    means = [z[y.numpy() == c].mean() for c in range(5)]
    assert all(np.diff(means) > 0)  # higher band, higher values
    # the bands cut [min, max] into 5 equal parts
    lo, hi = -6.5511, 8.1062
    edges = np.linspace(lo, hi, 6)
    assert peaks_bands(np.array([lo, edges[1] - 1e-3, edges[1] + 1e-3, 0.0, hi])).tolist() == [
        0, 0, 1, 2, 4]
    # the middle band (values near 0) dominates: the classes are unbalanced
    assert int(torch.bincount(y).argmax()) == 2


@pytest.mark.parametrize("name", ["swiss_roll", "ellipses", "peaks"])
def test_deterministic_under_a_seed(name):
    a, b = toy2d_split(name, 64, 64, seed=5), toy2d_split(name, 64, 64, seed=5)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_val, b.y_val)
    if name != "swiss_roll":
        c = toy2d_split(name, 64, 64, seed=6)
        assert not torch.equal(a.x_train, c.x_train)
    x1, _ = swiss_roll(30, seed=1, noise=0.05)
    x2, _ = swiss_roll(30, seed=2, noise=0.05)
    assert not torch.equal(x1, x2)


def test_bad_arguments():
    with pytest.raises(UnknownNameError, match="swiss_roll"):
        toy2d_split("spiral", 10, 10)
    with pytest.raises(ParamError, match="n_val"):
        toy2d_split("swiss_roll", 10, 12)
    with pytest.raises(ParamError, match="pad_to"):
        pad_features(torch.zeros(3, 2), 1)
    with pytest.raises(ParamError, match="'n'"):
        peaks(0)
