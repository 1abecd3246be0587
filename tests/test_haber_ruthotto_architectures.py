"""Haber & Ruthotto, stable architectures: packing, measured M, eigenvalues over the
stability regions, claims and parameters."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from nnde.diagnostics import jacobian, stability_constant
from nnde.errors import ParamError
from nnde.results import Results, ResultsWriter
from nnde.stage import stage_main
from reproductions.haber_ruthotto.architectures import (
    claims,
    experiment,
    model,
    multilevel,
    stability,
)

DT = torch.float64


# --------------------------------------------------------------------------- regions
def test_two_step_growth_is_one_exactly_on_the_imaginary_segment():
    inside = 1j * np.linspace(-2, 2, 41)
    np.testing.assert_allclose(stability.two_step_growth(inside), 1.0, atol=1e-7)
    for z in (2.05j, -2.5j, 0.1, -0.1, -0.05 + 1j):
        assert stability.two_step_growth(z) > 1 + 1e-3
    # leapfrog on y'' = μ y with h²μ = −4.41 (hω = 2.1) grows by the larger root per step
    h2mu = -2.1**2
    r = np.roots([1, -(2 + h2mu), 1])
    assert abs(stability.two_step_growth(2.1j) - np.abs(r).max()) < 1e-12


def test_euler_and_rk4_factors_on_the_imaginary_axis():
    y = np.linspace(0.1, 2.5, 9)
    np.testing.assert_allclose(stability.growth_factor("euler", 1j * y), np.sqrt(1 + y**2))
    assert np.all(stability.growth_factor("rk4", 1j * y) <= 1 + 1e-12)  # |y| ≤ 2√2
    assert stability.growth_factor("rk4", 3.0j) > 1


def test_forward_euler_on_antisymmetric_weights_grows_like_the_prediction():
    # linear layers y ← y + h W y, W antisymmetric: ‖(I + hW)^N‖ = (1 + h²ρ(W)²)^{N/2}
    torch.manual_seed(0)
    A = torch.randn(4, 4, dtype=DT)
    W = A - A.T
    h, N = 0.3, 12
    step = torch.eye(4, dtype=DT) + h * W
    Phi = torch.linalg.matrix_power(step, N)
    rho = float(torch.linalg.eigvals(W).abs().max())
    pred = (1 + h**2 * rho**2) ** (N / 2)
    x = torch.randn(64, 4, dtype=DT)
    ratios = model.block_stability(lambda v: v @ Phi.T, x, 1, 4, n_perturbations=64)
    M = float(ratios.max())
    assert M <= pred * (1 + 1e-9) and M > 0.8 * pred
    lam = torch.linalg.eigvals(W).numpy()
    logg, frac = stability.predicted_growth("euler", h * lam[None, None, None, :].repeat(N, 0))
    assert abs(np.exp(logg[0, 0]) - pred) < 1e-9 * pred and frac[0] == 1.0
    logg4, frac4 = stability.predicted_growth("rk4", h * lam[None, None, None, :].repeat(N, 0))
    assert np.exp(logg4[0, 0]) <= 1 + 1e-9 and frac4[0] == 0.0


# --------------------------------------------------------------------------- M
def test_block_stability_on_known_linear_maps():
    c, s = np.cos(0.7), np.sin(0.7)
    R = torch.tensor([[c, -s, 0, 0], [s, c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=DT)
    D = torch.diag(torch.tensor([3.0, 0.5, 1.0, 2.0], dtype=DT))
    big = torch.block_diag(R, D)  # member 0: orthogonal; member 1: stretch by at most 3
    x = torch.randn(32, 8, dtype=DT, generator=torch.Generator().manual_seed(1))
    ratios = model.block_stability(lambda v: v @ big.T, x, 2, 4, n_perturbations=16)
    np.testing.assert_allclose(ratios[:, 0].numpy(), 1.0, atol=1e-9)
    assert 2.5 < float(ratios[:, 1].max()) <= 3 + 1e-9 and float(ratios[:, 1].min()) >= 0.5
    # one member: the same draws and value as the library's stability constant
    f = lambda v: torch.tanh(v @ D.T)  # noqa: E731
    mine = float(model.block_stability(f, x[:, :4], 1, 4, 1e-4, 8, seed=3).max())
    assert mine == stability_constant(f, x[:, :4], eps=1e-4, n_perturbations=8, seed=3)


# --------------------------------------------------------------------------- packing
@pytest.mark.parametrize("name", list(model.ARCHS))
def test_packed_members_are_the_library_networks(name):
    torch.manual_seed(0)
    E, w, N, h = 3, 4, 5, 0.7
    stack = model.build_stack(name, E * w, N, h, 0.1, "rk4")
    packed = model.Packed(stack, E, w, [2, 5, 2])
    x = torch.randn(7, E * w)
    with torch.no_grad():
        out = stack(x)
        logits = packed(x)
    assert logits.shape == (7, 5, E)
    assert float(logits[:, 2:, 0].max()) < -1e8  # a 2-class member's extra classes
    for e in range(E):
        net = model.member_stack(stack, name, e, w, E, 0.1, "rk4")
        with torch.no_grad():
            torch.testing.assert_close(net(x[:, e * w:(e + 1) * w]), out[:, e * w:(e + 1) * w])
    # off-diagonal blocks stay zero through a training step (their gradients are masked)
    loss = torch.nn.functional.cross_entropy(packed(x), torch.randint(0, 2, (7, E)))
    loss.backward()
    K = stack.fields[0].K
    mask = model.block_mask(E, K.shape[0] // E, K.shape[1] // E)
    assert float((K.grad * (1 - mask)).abs().max()) == 0.0
    assert float((K.detach() * (1 - mask)).abs().max()) == 0.0


@pytest.mark.parametrize("name", list(model.ARCHS))
def test_layer_jacobians_match_autograd(name):
    torch.manual_seed(1)
    E, w, N, h, gamma = 2, 4, 3, 0.5, 0.1
    stack = model.build_stack(name, E * w, N, h, gamma, "rk4").to(DT)
    model.Packed(stack, E, w, [2, 2])  # block-diagonal weights
    stack = stack.to(DT)
    x = torch.randn(3, E * w, dtype=DT)
    g = gamma if name == "antisym_euler" else 0.0
    J = model.layer_jacobians(name, stack, x, E, w, g)
    e, k = 1, 2
    net = model.member_stack(stack, name, e, w, E, gamma, "rk4").to(DT)
    xe = x[:, e * w:(e + 1) * w]
    f = net.fields[k]
    if name == "hamiltonian":
        ys, zs = net.flow(xe, torch.zeros_like(xe), return_states=True)
        ref = jacobian(lambda s: f(k * h, s), torch.cat([ys[k], zs[k]], 1))
    else:
        ref = jacobian(lambda s: f(k * h, s), net(xe, return_states=True)[k])
    torch.testing.assert_close(J[k, :, e], ref)
    hl = model.layer_eigenvalues(name, stack, x, E, w, g)
    if name in ("antisym_rk4", "hamiltonian", "second_order"):  # on the imaginary axis
        assert np.abs(hl.real).max() < 1e-9
    if name == "antisym_euler":
        assert hl.real.max() <= 1e-12 and hl.real.min() >= -h * gamma - 1e-12


# --------------------------------------------------------------------------- claims
def _table(M_stable, M_resnet, acc_stable=0.9, acc_resnet=0.9, euler=True):
    """Two seeds with equal values (no seed spread: the accuracy comparison decides;
    with one seed its noise would be unknown)."""
    rows = []
    for a, seed in itertools.product(model.ARCHS, (0, 1)):
        for i, n in enumerate([8, 32, 128]):
            for d in ("swiss_roll", "peaks"):
                M = M_resnet[i] if a == "resnet" else M_stable[i]
                r = {"arch": a, "depth": n, "h": 20 / n, "dataset": d, "seed": seed, "M": M,
                     "M_min": 0.5, "M_median": M,
                     "val_acc": acc_resnet if a == "resnet" else acc_stable,
                     "train_acc": 1.0, "grad_first": 1.0, "grad_last": 1.0,
                     "grad_first_init": 1.0, "grad_last_init": 1.0,
                     "frac_outside_region": 0.0, "predicted_growth": 1.0, "seconds_cell": 1.0}
                if a == "antisym_rk4":
                    P = [9.0, 3.0, 1.2][i] if euler else 1.0
                    r.update(M_euler=P * 1.3 if euler else 0.9, P_euler=P)
                rows.append(r)
    return pd.DataFrame(rows)


def _judge(df, levels=None, refine=None):
    frames = {"cells": df}
    if levels is not None:
        frames.update(levels=levels, refine=refine)
    return claims.claim.judge(Results(frames=frames))


def test_claims_follow_the_data():
    ids = ("stable_archs_M_bounded_in_depth", "stable_archs_comparable_accuracy",
           "antisym_euler_gamma0_unstable")
    good = {c.id: c.verdict for c in _judge(_table([1.1, 1.0, 1.2], [1.5, 4.0, 30.0]))
            if c.id in ids}
    assert set(good) == set(ids) and set(good.values()) == {"reproduced"}, good
    # M far from 1 but flat in depth is bounded (§3 says bounded, not M ≈ 1), so the
    # bad table's stable M must grow with depth to break the claim
    bad = {c.id: c.verdict for c in _judge(
        _table([1.0, 1.0, 30.0], [1.0, 1.0, 1.0], acc_stable=0.7, euler=False)) if c.id in ids}
    assert set(bad) == set(ids) and set(bad.values()) == {"not reproduced"}, bad


# --------------------------------------------------------------------------- params
def _params(**over):
    p = {"archs": ["resnet", "hamiltonian"], "datasets": ["swiss_roll"], "depths": [2, 4],
         "seeds": [0], "T": 2.0, "width": 4, "gamma": 0.1, "higher_method": "rk4",
         "n_train": 16, "n_val": 16, "epochs": 2, "lr": 0.01,
         "smooth": 0.0, "smooth_antisym": 0.0, "plateau": None, "eps": 1e-4,
         "n_perturbations": 2, "init_draws": 3, "eig_points": 4, "workers": 1,
         "threads": 1, "multilevel_archs": ["resnet"], "multilevel_start": 2,
         "multilevel_depth": 4,
         "multilevel_refine_to": 8,
         "multilevel_epochs_first": 2, "multilevel_epochs_level": 1}
    p.update(over)
    return p


@pytest.mark.parametrize("key,value", [("archs", ["resnet", "mlp"]), ("depths", [0, 4]),
                                       ("T", 0), ("T", -1.0), ("width", 3), ("seeds", [-1]),
                                       ("datasets", ["moons"]), ("higher_method", "verlet"),
                                       ("n_val", 18), ("smooth", -1.0),
                                       ("smooth_antisym", -1e-4), ("init_draws", 0),
                                       ("plateau", {"patience": 0}),
                                       ("plateau", {"speed": 1})])
def test_bad_params_name_the_key(key, value):
    with pytest.raises(ParamError, match=f"haber_ruthotto.architectures.{key}"):
        experiment.read_config(_params(**{key: value}))


def test_bad_params_leave_no_output(tmp_path, monkeypatch):
    doc = {"profile": "small", "haber_ruthotto": {"architectures": {
        "common": _params(), "small": {"depths": [0]}, "tiny": {}, "paper": {}}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(doc))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NNDE_PROFILE", raising=False)
    with pytest.raises(SystemExit) as exc:
        stage_main("reproductions.haber_ruthotto.architectures", ["run"])
    assert exc.value.code == 2
    assert not (tmp_path / "data").exists() and not (tmp_path / "reports").exists()


def test_tiny_run_is_deterministic_and_complete(tmp_path):
    cfg = experiment.read_config(_params(archs=list(model.ARCHS), smooth=1e-3,
                                         smooth_antisym=1e-4,
                                         plateau={"patience": 1, "rel": 0.5, "drops": 0},
                                         multilevel_archs=["resnet", "hamiltonian"]))
    df1, kept, lv1, rf1 = experiment.sweep(cfg, keep={("resnet", 2)})
    df2, _, lv2, rf2 = experiment.sweep(cfg)
    assert len(df1) == len(model.ARCHS) * 2
    cols = ["val_acc", "M", "grad_first", "grad_last", "predicted_growth", "eig_off_axis",
            "grad_ratio_init_median"]
    pd.testing.assert_frame_equal(df1[cols], df2[cols])
    assert np.isfinite(df1[cols].to_numpy()).all()
    assert kept[("resnet", 2)]["hlam"].shape == (2, 4, 1, 4)
    # every cell records its plateau run: steps, whether the criterion was met, and why
    assert set(df1.stop_reason) <= {"plateau", "floor", "cap"}
    assert (df1.steps_run <= 2).all() and set(df1.converged) <= {True, False}
    assert (df1.converged == (df1.stop_reason != "cap")).all()
    # multi-level: levels 2 → 4 for both architectures, deterministic too; one θ(t)
    # sampled at 2, 4, 8
    assert sorted(lv1.depth.unique()) == [2, 4] and set(lv1.arch) == {"resnet", "hamiltonian"}
    assert sorted(rf1.depth.unique()) == [2, 4, 8]
    pd.testing.assert_frame_equal(lv1[["val_acc", "train_acc"]], lv2[["val_acc", "train_acc"]])
    pd.testing.assert_frame_equal(rf1[["M", "frac_step_only"]], rf2[["M", "frac_step_only"]])
    assert (lv1.groupby("arch").cpu_seconds.apply(lambda c: c.is_monotonic_increasing)).all()
    judged = _judge(df1, lv1, rf1)
    assert {c.id for c in judged} == set(claims.claim.ids)
    # the eigenvalue identity holds in our layers along trained trajectories
    checks = {c.id: c for c in judged}
    assert checks["stable_archs_eigenvalues_on_axis"].verdict == "reproduced"


def test_saved_results_give_the_same_claims(tmp_path, monkeypatch):
    """The tables read back from CSV (float32 gradient norms restored) give exactly the
    claims of the in-memory tables, and the kept weights rebuild the trained network."""
    cfg = experiment.read_config(_params(archs=["resnet", "antisym_rk4"], seeds=[0, 1]))
    swept = []
    sweep = experiment.sweep
    monkeypatch.setattr(experiment, "sweep", lambda *a: swept.append(sweep(*a)) or swept[0])
    with ResultsWriter("haber_ruthotto", "architectures", root=tmp_path) as out:
        experiment.run(cfg, out)
    res = Results.load("haber_ruthotto", "architectures", root=tmp_path)
    df, kept, lv, rf = swept[0]  # the run's own tables, in memory
    assert claims.claim.judge(res) == _judge(df, lv, rf)
    assert {c.id for c in claims.claim.judge(res)} == set(claims.claim.ids)
    from reproductions.haber_ruthotto.architectures.figures import kept_cells

    saved = kept_cells(res)
    assert set(saved) == {(a, n) for a in cfg.archs for n in cfg.depths}
    for k, v in kept[("resnet", 4)]["state"].items():
        assert np.array_equal(saved[("resnet", 4)]["state"][k], v.numpy())
    assert np.array_equal(saved[("resnet", 4)]["hlam"], kept[("resnet", 4)]["hlam"])


def test_objective_adds_the_time_derivative_regulariser():
    from reproductions.haber_ruthotto.architectures.cells import objective

    torch.manual_seed(0)
    E, w, N, h, alpha = 2, 4, 3, 0.5, 0.01
    stack = model.build_stack("resnet", E * w, N, h, 0.1, "rk4")
    packed = model.Packed(stack, E, w, [2, 2])
    x, y = torch.randn(5, E * w), torch.randint(0, 2, (5, E))
    out = packed(x)
    ce = torch.nn.functional.cross_entropy(out, y) * E
    reg = sum(((f1.K - f0.K).square().sum() + (f1.b - f0.b).square().sum())
              for f0, f1 in zip(stack.fields[:-1], stack.fields[1:], strict=True))
    got = objective(packed, E, h, alpha)(out, y)
    torch.testing.assert_close(got, ce + alpha / h * reg)
    torch.testing.assert_close(objective(packed, E, h, 0.0)(out, y), ce)


def test_resample_weights_prolongs_and_restricts_one_weight_function():
    torch.manual_seed(0)
    src = model.build_stack("resnet", 4, 4, 0.5, 0.1, "rk4")
    # θ_k linear in t: interpolation at the finer grid reproduces the line exactly
    with torch.no_grad():
        for k, f in enumerate(src.fields):
            f.K.copy_(torch.full((4, 4), float(k)))
            f.b.copy_(torch.full((4,), 2.0 * k))
    fine = model.build_stack("resnet", 4, 8, 0.25, 0.1, "rk4")
    multilevel.resample_weights(src, fine)
    got = torch.stack([f.K[0, 0] for f in fine.fields])
    # t_j / h_src = j / 2, held at the last layer's value past t_{N−1}
    assert torch.allclose(got, torch.tensor([0, 0.5, 1, 1.5, 2, 2.5, 3, 3]))
    assert torch.allclose(torch.stack([f.b[1] for f in fine.fields]), 2 * got)
    # sampling the prolonged net back at the coarse grid returns the original weights
    back = model.build_stack("resnet", 4, 4, 0.5, 0.1, "rk4")
    multilevel.resample_weights(fine, back)
    for a, b in zip(src.fields, back.fields, strict=True):
        assert torch.equal(a.K, b.K) and torch.equal(a.b, b.b)


def test_multilevel_start_must_double_to_the_deepest_level():
    with pytest.raises(ParamError, match="multilevel_start"):
        experiment.read_config(_params(multilevel_depth=6, multilevel_start=2))
    with pytest.raises(ParamError, match="multilevel_refine_to"):
        experiment.read_config(_params(multilevel_depth=8, multilevel_refine_to=4))
    # no multi-level architectures: any start is accepted
    experiment.read_config(_params(multilevel_archs=[], multilevel_depth=6, multilevel_start=2))
