"""Chen et al. (2018): the spiral system, model sizes, measured memory, latent ODE / RNN,
claims and parameters of the reproduction stages."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from nnde.errors import ParamError
from nnde.models.chen import (
    LatentODE,
    RNNBaseline,
    SavedTensorMeter,
    make_classifier,
    make_spirals,
    sample_observations,
)
from nnde.train import count_parameters

ROOT = Path(__file__).resolve().parents[1] / "reproductions/chen"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"chen_{name}", ROOT / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors: one thread is faster, and immune to a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


spiral, table1, fig3, memory, table2 = (
    _load(n) for n in ("spiral", "table1", "fig3", "memory", "table2")
)


# --------------------------------------------------------------------------- spiral data
def test_spiral_data_obey_the_energy_law():
    """V = Σ y⁴/4 falls with dV/dt = −0.1 Σ y⁶ along the generated trajectory."""
    t, y = spiral.true_trajectory(2.0, 201)
    assert torch.allclose(y[0], torch.tensor([2.0, 0.0], dtype=y.dtype))
    dV, integral = spiral.energy_balance(t, y)
    assert dV < 0
    assert abs(dV - integral) <= 1e-3 * abs(dV)
    V = (y**4).sum(-1) / 4
    assert bool((V.diff() <= 1e-12).all())  # monotone decay


def test_spiral_claims_flip():
    log = pd.DataFrame({"iteration": [1, 10], "train_loss": [1.0, 0.1], "test_loss": [2.0, 0.5]})
    good = spiral.make_claims(log, (-1.0, -1.0), 0.5, 10)
    assert [c.verdict for c in good] == ["reproduced", "reproduced"]
    bad_log = log.assign(test_loss=[0.5, 2.0], train_loss=[0.1, 1.0])
    bad = spiral.make_claims(bad_log, (1.0, -1.0), 0.5, 10)
    assert [c.verdict for c in bad] == ["not reproduced", "not reproduced"]


# --------------------------------------------------------------------------- Table 1
def test_odenet_has_fewer_parameters_than_resnet():
    n = {
        k: count_parameters(make_classifier(k, image_size=8, channels=8, downsample=1))
        for k in ("mlp", "resnet", "rknet", "odenet")
    }
    assert n["odenet"] < n["resnet"]
    assert n["odenet"] == n["rknet"]
    # Paper scale: 64 channels on 28x28, downsampled twice; close to 0.22M / 0.60M.
    ode = count_parameters(make_classifier("odenet", image_size=28, channels=64, downsample=2))
    res = count_parameters(make_classifier("resnet", image_size=28, channels=64, downsample=2))
    assert 0.18e6 < ode < 0.26e6 and 0.5e6 < res < 0.7e6


def test_table1_claims_flip():
    def table(ode_err, ode_mem):
        return pd.DataFrame(
            {
                "kind": ["mlp", "resnet", "rknet", "odenet"],
                "test_error_pct": [5.0, 3.0, 3.0, ode_err],
                "params": [100, 500, 200, 200],
                "peak_saved_MB": [0.1, 5.0, 9.0, ode_mem],
                "nfe_forward": [0, 0, 8, 26],
            }
        )

    good = {c.id: c.verdict for c in table1.make_claims(table(3.5, 1.0), 2.0)}
    bad = {c.id: c.verdict for c in table1.make_claims(table(9.0, 20.0), 2.0)}
    assert good["odenet_close_to_resnet"] == "reproduced"
    assert good["odenet_least_memory"] == "reproduced"
    assert bad["odenet_close_to_resnet"] == "partly"  # fewer parameters only
    assert bad["odenet_least_memory"] == "not reproduced"


# --------------------------------------------------------------------------- memory
def test_memory_grows_with_steps_for_direct_not_adjoint():
    mem = memory.memory_vs_steps([2, 8], dim=2, hidden=4, batch=4, seed=0)
    d = mem[mem.gradient == "direct"].set_index("steps").peak_saved_MB
    a = mem[mem.gradient == "adjoint"].set_index("steps").peak_saved_MB
    assert d[8] > 3 * d[2]
    assert a[8] == a[2]
    s = memory.slopes(mem)
    assert s["direct"] > 0.9 and abs(s["adjoint"]) < 1e-6


def test_meter_releases_after_backward():
    x = torch.randn(16, 4, requires_grad=True)
    with SavedTensorMeter() as m:
        y = torch.tanh(x @ torch.randn(4, 4)).exp().sum()
        peak_before = m.current
        y.backward()
    assert peak_before > 0 and m.current == 0 and m.peak >= peak_before


def test_memory_claims_flip():
    steps = [8, 32, 128]
    good = pd.DataFrame(
        {
            "gradient": ["direct"] * 3 + ["adjoint"] * 3,
            "steps": steps * 2,
            "peak_saved_MB": [1, 4, 16, 0.1, 0.1, 0.1],
        }
    )
    bad = good.assign(peak_saved_MB=[1, 1, 1, 0.1, 0.4, 1.6])
    err = pd.DataFrame(
        {"gradient": ["adjoint"] * 3, "tol": [1e-2, 1e-4, 1e-6], "rel_error": [1e-1, 1e-3, 1e-5]}
    )
    v = lambda cs: [c.verdict for c in cs]  # noqa: E731
    assert v(memory.make_claims(good, err, 0.1, 0.8)) == ["reproduced"] * 3
    flipped = memory.make_claims(bad, err.assign(rel_error=[1e-5, 1e-3, 1e-1]), 0.1, 0.8)
    assert v(flipped) == ["not reproduced"] * 3


def test_fig3_claims_flip():
    sweep = pd.DataFrame(
        {
            "tol": [1e-1, 1e-2, 1e-3],
            "nfe_forward": [14, 20, 32],
            "rel_error": [1e-2, 1e-3, 1e-4],
            "seconds": [1.4, 2.0, 3.2],
            "train_nfe_forward": [14, 20, 32],
            "train_nfe_backward": [7, 10, 16],
        }
    )
    hist = pd.DataFrame({"epoch": [1, 2], "nfe_forward": [20, 26], "nfe_backward": [10, 13]})
    assert all(c.verdict == "reproduced" for c in fig3.make_claims(sweep, hist))
    sweep2 = sweep.assign(
        nfe_forward=[32, 20, 14],
        rel_error=[1e-4, 1e-3, 1e-2],
        seconds=[1.0, 3.0, 1.0],
        train_nfe_backward=[40, 50, 70],
    )
    hist2 = hist.assign(nfe_forward=[26, 20], nfe_backward=[60, 50])
    assert all(c.verdict == "not reproduced" for c in fig3.make_claims(sweep2, hist2))


# --------------------------------------------------------------------------- Table 2
def test_spirals_turn_both_ways_and_observations_are_sorted():
    t, clean, noisy, direction = make_spirals(10, 20, 5, noise=0.0, seed=1)
    assert clean.shape == (10, 25, 2) and np.allclose(clean, noisy)
    assert set(direction) == {1.0, -1.0}
    # angular velocity sign = direction
    ang = np.unwrap(np.arctan2(clean[..., 1], clean[..., 0]), axis=1)
    assert np.all(np.sign(np.diff(ang, axis=1)).mean(1) == direction)
    idx = sample_observations(10, 20, 7, torch.Generator().manual_seed(0))
    assert idx.shape == (10, 7) and bool((idx.diff(dim=1) > 0).all()) and int(idx.max()) < 20


@pytest.mark.parametrize("cls", [LatentODE, RNNBaseline])
def test_sequence_models_shapes_and_tiny_overfit(cls):
    torch.manual_seed(0)
    t, _, noisy, _ = make_spirals(4, 12, 4, b=0.05, noise=0.0, seed=0)
    t, x = torch.from_numpy(t), torch.from_numpy(noisy)
    model = cls(method="euler") if cls is LatentODE else cls()
    idx = sample_observations(4, 12, 6, torch.Generator().manual_seed(0))
    pred, kl = model(t, x, idx, sample=False)
    assert pred.shape == (4, 16, 2) and kl.shape == (4,)
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    first = None
    for _ in range(40):
        pred, _ = model(t, x, idx, sample=False)
        loss = (pred - x).square().mean()
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.8 * first  # the loss falls (latent ODE: slowly)


def test_table2_claims_flip():
    rows = [("rnn", 30, 0.4), ("rnn", 100, 0.2), ("latent_ode", 30, 0.15), ("latent_ode", 100, 0.1)]
    tab = pd.DataFrame(rows, columns=["kind", "observed", "extrap_rmse"])
    assert [c.verdict for c in table2.make_claims(tab)] == ["reproduced", "reproduced"]
    swapped = tab.assign(kind=tab.kind.map({"rnn": "latent_ode", "latent_ode": "rnn"}))
    assert table2.make_claims(swapped)[0].verdict == "not reproduced"


# --------------------------------------------------------------------------- params
def _params(section):
    import yaml

    doc = yaml.safe_load((ROOT.parents[1] / "params.yaml").read_text())["chen"][section]
    return {**doc["common"], **doc["small"]}


@pytest.mark.parametrize(
    "mod,section,key,value",
    [
        (table1, "table1", "models", ["mlp", "transformer"]),
        (table1, "table1", "tol", -1.0),
        (table1, "table1", "dataset", "cifar"),
        (spiral, "spiral", "window", 0),
        (memory, "memory", "steps", [8, 0]),
        (fig3, "fig3", "tols", []),
        (table2, "table2", "observed", [30, 500]),
        (table2, "table2", "joint", "yes"),
    ],
)
def test_bad_params_name_the_key(mod, section, key, value):
    p = _params(section)
    mod.read_config(p)  # the shipped small profile is valid
    p[key] = value
    with pytest.raises(ParamError) as exc:
        mod.read_config(p)
    assert exc.value.key.startswith(f"chen.{section}.{key}")
