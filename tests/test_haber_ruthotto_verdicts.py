"""Verdict cases for the Haber & Ruthotto (2017) claim rules (Example 1 and the
architectures): made-up tables fed to the stages' own claim functions, with the verdict
each must give. No training here: the rules are pure functions of the tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nnde.results import Results
from reproductions.haber_ruthotto.architectures import claims as arch
from reproductions.haber_ruthotto.architectures.model import ARCHS, STABLE
from reproductions.haber_ruthotto.architectures.summary import majority_baseline
from reproductions.haber_ruthotto.example1 import MATRICES
from reproductions.haber_ruthotto.example1 import claims as ex1
from tests.verdict_cases import Case, verdict_test

# --------------------------------------------------------------------------- example 1
H = 0.1
LAYERS = (10, 20)


def _ex1_stats(over=None):
    """Example 1's stats table with values of the true claims (near the measured ones);
    ``over = {(matrix, scheme, column): [value per N]}`` replaces those series."""
    euler_lin = [abs(1 + 1j * H) ** n for n in LAYERS]
    series = {
        ("K_plus", "euler", "M"): [4.3, 13.7],
        ("K_minus", "euler", "M"): [0.33, 0.07],
        ("K_zero", "euler", "M"): [1.051, 1.126],
        ("K_zero", "euler", "M_linearised"): euler_lin,
        ("K_zero", "rk4", "M"): [1.00413, 1.02944],
        ("K_zero", "rk4", "M_linearised"): [1.0, 1.0],
        ("K_zero", "euler", "M_exact_flow"): [1.00413, 1.02944],
        ("K_zero", "rk4", "M_exact_flow"): [1.00413, 1.02944],
    }
    series.update(over or {})
    rows = []
    for m in MATRICES:
        for s in ("euler", "rk4"):
            for i, n in enumerate(LAYERS):
                r = {"matrix": m, "layers": n, "scheme": s}
                for col in ("M", "M_exact_flow", "M_linearised"):
                    r[col] = series.get((m, s, col), [1.0, 1.0])[i]
                rows.append(r)
    return pd.DataFrame(rows)


def _ex1(over=None):
    res = Results(frames={"stability": _ex1_stats(over)},
                  records={"config": {"h": H, "higher": "rk4"}})
    return {c.id: c for c in ex1.claim.judge(res)}


def test_example1_declares_every_claim_it_makes():
    claims = _ex1()
    assert set(claims) == set(ex1.claim.ids)
    # fixed matrices, nothing trained: every claim of Example 1 is a check
    assert {c.kind for c in claims.values()} == {"check"}


def _ex1_res(over=None):
    return Results(frames={"stability": _ex1_stats(over)},
                   records={"config": {"h": H, "higher": "rk4"}})


EUL = [abs(1 + 1j * H) ** n for n in LAYERS]
EX1_CASES = [
    Case("K_plus_diverges", "reproduced", _ex1_res, "M > 1 and growing"),
    *(Case("K_plus_diverges", "not reproduced",
           lambda f=f: _ex1_res({("K_plus", "euler", "M"): f}), f"M = {f}")
      for f in ([4.3, 3.0], [0.9, 1.2], [0.5, 0.4])),
    Case("K_minus_contracts", "reproduced", _ex1_res, "M < 1 and shrinking"),
    *(Case("K_minus_contracts", "not reproduced",
           lambda f=f: _ex1_res({("K_minus", "euler", "M"): f}), f"M = {f}")
      for f in ([0.33, 0.5], [1.2, 0.9], [2.0, 4.0])),
    Case("K_zero_euler_growth", "reproduced", _ex1_res, "|1 + ih|^N"),
    Case("K_zero_euler_growth", "not reproduced",
         lambda: _ex1_res({("K_zero", "euler", "M_linearised"): [1.0, 1.0]}), "no growth"),
    Case("K_zero_euler_growth", "not reproduced",
         lambda: _ex1_res({("K_zero", "euler", "M_linearised"):
                           [abs(1 + 1j * H) ** 10, abs(1 + 1j * H) ** 21]}), "wrong factor"),
    Case("K_zero_euler_growth_tanh", "reproduced", _ex1_res, "Euler above the exact flow"),
    Case("K_zero_euler_growth_tanh", "not reproduced",
         lambda: _ex1_res({("K_zero", "euler", "M"): [1.00413, 1.02944]}), "equal to exact"),
    Case("K_zero_euler_growth_tanh", "not reproduced",
         lambda: _ex1_res({("K_zero", "euler", "M"): [1.10, 1.10]}), "excess not growing"),
    Case("K_zero_higher_order_preserves", "reproduced", _ex1_res, "rk4 follows the flow"),
    Case("K_zero_higher_order_preserves", "not reproduced",
         lambda: _ex1_res({("K_zero", "rk4", "M_linearised"): EUL}), "rk4 grows like Euler"),
    Case("K_zero_higher_order_preserves", "not reproduced",
         lambda: _ex1_res({("K_zero", "rk4", "M"): [1.051, 1.126]}), "tanh off the flow"),
]
test_example1_verdict_cases = verdict_test(ex1.claim, EX1_CASES)


# --------------------------------------------------------------------------- architectures
DEPTHS = (8, 16, 64, 256)
DATASETS = {"swiss_roll": 0.5, "peaks": 0.72}  # data set → majority-class share


def _resnet_grad(a, n):
    """Default gradient ratios (initial, trained): flat in depth for the stable nets,
    growing ×√10 per doubling of N for the ResNet."""
    return (1.5, 10 ** (0.5 * np.log2(n / 8))) if a == "resnet" else (2.0, 2.0)


def _arch_table(M_stable=(5.0, 1.5, 1.6, 1.8), M_resnet=(1.5, 4.0, 30.0, 100.0),
                acc=None, M_by_arch=None, euler=True, majority=True, grad=None, eig=None,
                grad_seed=None):
    """A made-up measured table: 5 architectures × 4 depths × 2 data sets × 2 seeds.
    ``acc``: {arch: validation accuracy} (default 0.9 everywhere) or a callable
    (arch, depth, dataset, seed) → accuracy. ``grad``: callable (arch, depth) →
    (first/last ratio at initialisation, trained), ``grad_seed`` the same per seed;
    default :func:`_resnet_grad`. ``eig``: {arch: {column: value}} overrides."""
    acc = acc or {}
    rows = []
    for a in ARCHS:
        for i, n in enumerate(DEPTHS):
            for d, maj in DATASETS.items():
                for s in (0, 1):
                    M = (M_by_arch or {}).get(a, M_resnet if a == "resnet" else M_stable)[i]
                    v = acc(a, n, d, s) if callable(acc) else acc.get(a, 0.9)
                    gi, gt = (grad_seed(a, n, s) if grad_seed else
                              grad(a, n) if grad else _resnet_grad(a, n))
                    r = {"arch": a, "depth": n, "h": 20 / n, "dataset": d, "seed": s,
                         "integrator": "euler", "M": M, "M_min": 0.5, "M_median": M,
                         "val_acc": v, "train_acc": 1.0, "grad_first": gt,
                         "grad_last": 1.0, "grad_first_init": gi, "grad_last_init": 1.0,
                         "max_abs_hlam": 1.0, "frac_outside_region": 0.0,
                         "predicted_growth": 1.0, "seconds_cell": 1.0,
                         "cpu_seconds_cell": 10.0 * n / 256,
                         "gamma": 0.1 if a == "antisym_euler" else 0.0}
                    if a == "resnet":
                        r.update(eig_off_axis=0.9, eig_re_pos=0.4, eig_max_re_rel=1.0,
                                 eig_max_abs_re_rel=1.0, eig_min_re=-2.0, eig_max_abs=2.0)
                    elif a == "antisym_euler":
                        r.update(eig_off_axis=0.9, eig_re_pos=0.0, eig_max_re_rel=1e-17,
                                 eig_max_abs_re_rel=0.05, eig_min_re=-0.099, eig_max_abs=2.0)
                    else:
                        r.update(eig_off_axis=0.0, eig_re_pos=0.0, eig_max_re_rel=1e-16,
                                 eig_max_abs_re_rel=1e-16, eig_min_re=-1e-16, eig_max_abs=2.0)
                    r.update((eig or {}).get(a, {}))
                    if majority:
                        r["majority_val"] = maj
                    if a == "antisym_rk4":
                        P = [9.0, 5.0, 2.0, 1.2][i] if euler else 1.0
                        r.update(M_euler=P * 1.3 if euler else 0.9, P_euler=P)
                    rows.append(r)
    return pd.DataFrame(rows)


ML_LEVELS = (16, 32, 64, 128, 256)


def _levels(acc=0.9, cpu=5.0, archs=("resnet", "antisym_euler")):
    """Multi-level training table: levels 16 … 256 (the sweep's deepest depth); ``acc``
    and ``cpu`` (cumulative CPU seconds) at the last level; ``acc`` may be a callable
    (arch, seed) → accuracy."""
    rows = []
    for a in archs:
        for lev, n in enumerate(ML_LEVELS):
            for d, maj in DATASETS.items():
                for s in (0, 1):
                    last = n == ML_LEVELS[-1]
                    v = (acc(a, s) if callable(acc) else acc) if last else 0.8
                    rows.append({"arch": a, "depth": n, "level": lev, "epochs": 10,
                                 "dataset": d, "seed": s, "train_acc": v, "val_acc": v,
                                 "majority_val": maj, "diverged": "",
                                 "cpu_seconds": cpu * (lev + 1) / len(ML_LEVELS),
                                 "seconds": cpu})
    return pd.DataFrame(rows)


def _refine(M=(40.0, 20.0, 15.0, 14.5, 14.4), archs=("resnet", "antisym_euler"), M_max=None):
    """One θ(t) sampled at N = 16 … 256: the median ratio M̃ = M / 4 per N (the same for
    every member); the maximum ``M_max`` (default M)."""
    M_max = M if M_max is None else M_max
    return pd.DataFrame([{"arch": a, "depth": n, "h": 20 / n, "dataset": d, "seed": s,
                          "integrator": "euler", "M": mx, "M_median": m / 4,
                          "max_abs_hlam": 1.0, "frac_outside_region": 0.0,
                          "frac_step_only": 0.0}
                         for a in archs for n, m, mx in zip(ML_LEVELS, M, M_max, strict=True)
                         for d in DATASETS for s in (0, 1)])


def _arch(df, levels=None, refine=None):
    levels = _levels() if levels is None else levels
    refine = _refine() if refine is None else refine
    res = Results(frames={"cells": df, "levels": levels, "refine": refine})
    return {c.id: c for c in arch.claim.judge(res)}


def test_architectures_declares_every_claim_it_makes():
    claims = _arch(_arch_table())
    assert set(claims) == set(arch.claim.ids)
    kinds = {c.id: c.kind for c in claims.values()}
    # identities, properties at initialisation and of the integrators: checks
    for cid in ("stable_archs_eigenvalues_on_axis", "resnet_eigenvalues_off_axis",
                "M_converges_as_h_to_0", "antisym_euler_gamma0_unstable"):
        assert kinds.pop(cid) == "check", cid
    assert set(kinds.values()) == {"experiment"}
    assert all("§" in c.statement or "paper" in c.statement or "experiments" in c.statement
               for c in claims.values())


def _res(df=None, levels=None, refine=None):
    df = _arch_table() if df is None else df
    levels = _levels() if levels is None else levels
    refine = _refine() if refine is None else refine
    return Results(frames={"cells": df, "levels": levels, "refine": refine})


def _T(**kw):
    return lambda: _res(_arch_table(**kw))


def _peaks_at(v):
    return lambda a, n, d, s: v if d == "peaks" else 0.95


ARCH_CASES = [
    # --- eigenvalues on the axis (an identity of the parametrisations)
    Case("stable_archs_eigenvalues_on_axis", "reproduced", _T(), "on the axis"),
    Case("stable_archs_eigenvalues_on_axis", "not reproduced",
         _T(eig={"hamiltonian": {"eig_max_abs_re_rel": 0.01}}), "Hamiltonian off the axis"),
    Case("stable_archs_eigenvalues_on_axis", "not reproduced",
         _T(eig={"antisym_euler": {"eig_min_re": -0.2}}), "below −γ"),
    Case("stable_archs_eigenvalues_on_axis", "not reproduced",
         _T(eig={"antisym_euler": {"eig_max_re_rel": 1e-3}}), "above 0"),
    # --- the ResNet's eigenvalues (a check: true at initialisation)
    Case("resnet_eigenvalues_off_axis", "reproduced", _T(), "off the axis, some Re > 0"),
    Case("resnet_eigenvalues_off_axis", "not reproduced",
         _T(eig={"resnet": {"eig_off_axis": 0.0, "eig_re_pos": 0.0}}), "on the axis"),
    Case("resnet_eigenvalues_off_axis", "partly",
         _T(eig={"resnet": {"eig_off_axis": 0.8, "eig_re_pos": 0.0}}), "only to the left"),
    # --- M bounded in depth (§3: bounded, not ≈ 1)
    Case("stable_archs_M_bounded_in_depth", "reproduced", _T(), "flat past the middle"),
    Case("stable_archs_M_bounded_in_depth", "reproduced",
         _T(M_stable=(30.0, 40.0, 45.0, 50.0)), "large but flat is bounded"),
    Case("stable_archs_M_bounded_in_depth", "not reproduced",
         _T(M_stable=(1.0, 1.0, 3.0, 10.0)), "growing with depth"),
    Case("stable_archs_M_bounded_in_depth", "partly",
         _T(M_by_arch={"hamiltonian": (1.0, 1.0, 1.5, 8.0)}), "one of four grows"),
    Case("stable_archs_M_bounded_in_depth", "not reproduced",
         _T(M_stable=(1.0, 1.0, 1.0, float("nan"))), "a diverged deep cell"),
    Case("stable_archs_M_bounded_in_depth", "not reproduced",
         _T(acc=lambda a, n, d, s: 0.9 if a == "resnet" else DATASETS[d]),
         "stable nets stuck at the majority class: the subject below its floor"),
    # --- M converges as h → 0 (a check, on the median ratio)
    Case("M_converges_as_h_to_0", "reproduced", lambda: _res(), "settles"),
    Case("M_converges_as_h_to_0", "reproduced",
         lambda: _res(refine=_refine(M_max=(40.0, 20.0, 15.0, 25.0, 14.0))),
         "the max over few perturbations jumps 40 %, the median settles: converged"),
    Case("M_converges_as_h_to_0", "not reproduced",
         lambda: _res(refine=_refine(M=(10.0, 13.0, 17.0, 22.0, 29.0))), "still moving"),
    Case("M_converges_as_h_to_0", "partly",
         lambda: _res(refine=_refine(M=(14.0, 14.1, 14.0, 14.1, 14.6))), "an oscillation"),
    Case("M_converges_as_h_to_0", "not reproduced",
         lambda: _res(refine=_refine(M=(14.0, 14.1, 14.0, 14.1, float("nan")))), "diverged"),
    # --- gradients: the ratio's growth with depth (§3: independence of depth)
    Case("stable_archs_gradients_bounded", "reproduced", _T(), "flat in depth"),
    Case("stable_archs_gradients_bounded", "reproduced", _T(grad=lambda a, n: (50.0, 0.02)),
         "far from 1 but the same at every depth: independent of depth"),
    Case("stable_archs_gradients_bounded", "not reproduced",
         _T(grad=lambda a, n: (1.0, 1.0) if a == "resnet" else (1.0, 1e-3 * 8 / n)),
         "vanishing more with every doubling, every stable net"),
    Case("stable_archs_gradients_bounded", "partly",
         _T(grad=lambda a, n: (1.0, 50.0) if (a, n) == ("hamiltonian", 256) else (1.0, 1.0)),
         "one architecture explodes at the deepest depth"),
    Case("stable_archs_gradients_bounded", "not reproduced",
         _T(grad=lambda a, n: (1.0, float("inf"))), "a ratio that is not finite"),
    Case("stable_archs_gradients_bounded", "inconclusive",
         lambda: _res(_arch_table(grad_seed=lambda a, n, s: (
             1.0, (300.0 if s else 1.0) if (a != "resnet" and n == 256) else 1.0))),
         "grows ×17 on average (log mean) but ×1 on one seed, ×300 on the other: within the noise"),
    Case("stable_archs_gradients_bounded", "inconclusive",
         lambda: _res(_arch_table(grad_seed=lambda a, n, s: (
             1.0, (1 / 300 if s else 1.0) if (a != "resnet" and n == 256) else 1.0))),
         "shrinks ×1/17 on average, ×1 on one seed: vanishing within the noise"),
    Case("stable_archs_gradients_bounded", "not reproduced",
         _T(grad=lambda a, n: (1.0, 1.0) if a == "resnet" or n < 256 else (1.0, 0.05)),
         "shrinks ×1/20 at the deepest depth on every seed: beyond the noise"),
    # --- ResNet gradients (control)
    Case("resnet_gradients_unbounded", "reproduced", _T(), "ratio grows ×100 with depth"),
    Case("resnet_gradients_unbounded", "not reproduced", _T(grad=lambda a, n: (1.0, 30.0)),
         "far from 1 but independent of depth"),
    Case("resnet_gradients_unbounded", "inconclusive",
         lambda: _res(_arch_table(grad_seed=lambda a, n, s: (
             1.0, (300.0 if s else 1.0) if (a == "resnet" and n == 256) else 1.0))),
         "beyond the factor on average, within the seed noise"),
    # --- multi-level against direct
    Case("multilevel_matches_direct_faster", "reproduced", lambda: _res(),
         "as accurate, faster"),
    Case("multilevel_matches_direct_faster", "partly", lambda: _res(levels=_levels(cpu=20.0)),
         "as accurate, slower"),
    Case("multilevel_matches_direct_faster", "not reproduced",
         lambda: _res(levels=_levels(acc=0.83)), "7 pp worse, above the floor"),
    Case("multilevel_matches_direct_faster", "not reproduced",
         lambda: _res(levels=_levels(acc=0.83, cpu=20.0)), "worse and slower"),
    Case("multilevel_matches_direct_faster", "inconclusive",
         lambda: _res(_arch_table(acc={"resnet": 0.97, "antisym_euler": 0.97}),
                      levels=_levels(acc=lambda a, s: 0.99 if s else 0.83)),
         "6 pp worse on average, within the seed noise"),
    Case("multilevel_matches_direct_faster", "inconclusive",
         lambda: _res(levels=_levels(acc=lambda a, s: 0.88 if s else 0.84)),
         "4 pp worse on average: within the tolerance, but the seed noise does not "
         "exclude a gap beyond it (a point estimate inside the tolerance decides nothing)"),
    Case("multilevel_matches_direct_faster", "partly",
         lambda: _res(levels=_levels(
             acc=lambda a, s: (0.99 if s else 0.83) if a == "resnet" else 0.9)),
         "the antisymmetric net comparable and faster; the ResNet's part undecided"),
    Case("multilevel_matches_direct_faster", "inconclusive",
         lambda: _res(levels=_levels(
             acc=lambda a, s: 0.8 if a == "resnet" else (0.99 if s else 0.83))),
         "the ResNet 10 pp worse beyond the noise, the antisymmetric net undecided and "
         "faster: it could still be comparable, which would make the claim partly"),
    Case("multilevel_matches_direct_faster", "not reproduced",
         lambda: _res(levels=_levels(acc=0.5)),
         "multi-level stuck at the majority class: the subject below its floor"),
    Case("multilevel_matches_direct_faster", "inconclusive",
         lambda: _res(_arch_table(acc=lambda a, n, d, s: DATASETS[d] if n == 256 else 0.9)),
         "direct training at the majority class: the reference below its floor"),
    # --- comparable accuracy
    Case("stable_archs_comparable_accuracy", "reproduced", _T(acc={"resnet": 0.9}), "equal"),
    Case("stable_archs_comparable_accuracy", "not reproduced",
         _T(acc={"resnet": 0.97, **dict.fromkeys(STABLE, 0.85)}), "12 pp worse"),
    Case("stable_archs_comparable_accuracy", "not reproduced",
         _T(acc=lambda a, n, d, s: 0.95 if a == "resnet" else DATASETS[d]),
         "stable nets at the majority class, the ResNet at 0.95: the subject below its "
         "floor"),
    Case("stable_archs_comparable_accuracy", "inconclusive",
         _T(acc=lambda a, n, d, s: DATASETS[d] if a == "resnet" else 0.95),
         "the ResNet at the majority class: the reference below its floor"),
    Case("stable_archs_comparable_accuracy", "inconclusive",
         _T(acc=lambda a, n, d, s: DATASETS[d]), "every model at chance"),
    Case("stable_archs_comparable_accuracy", "not reproduced",
         _T(acc=lambda a, n, d, s: 0.75 if (d == "peaks" and a != "resnet") else 0.95),
         "stable nets' peaks at 0.75 against a majority of 0.72: the cell mean clears, "
         "but the stable nets are 20 pp worse on peaks"),
    Case("stable_archs_comparable_accuracy", "reproduced",
         _T(acc=lambda a, n, d, s: 0.55 if (a, n, d, s) == ("resnet", 256, "swiss_roll", 1)
            else 0.99 if n == 256 and a != "resnet" else 0.9),
         "one ResNet member below the member floor; the cells clear theirs, and at N = 256 "
         "the stable nets lead by 0.15, beyond the noise that member adds"),
    Case("stable_archs_comparable_accuracy", "partly",
         _T(acc=lambda a, n, d, s: 0.55 if (a, n, d, s) == ("resnet", 256, "swiss_roll", 1)
            else 0.9),
         "one ResNet member below the member floor: at N = 256 the stable nets' lead of "
         "0.09 has a lower 2 SE bound below −0.05 (undecided); the other cells, most of "
         "them, are comparable beyond the noise"),
    Case("stable_archs_comparable_accuracy", "partly",
         _T(acc=lambda a, n, d, s: 0.9 - (0.06 * s if (a, n) == ("hamiltonian", 64) else 0)),
         "the Hamiltonian net at N = 64 3 pp below the ResNet, with a seed spread that "
         "does not exclude 5 pp: that cell undecided, the others comparable"),
    Case("stable_archs_comparable_accuracy", "inconclusive",
         _T(acc=lambda a, n, d, s: (0.99 if s else 0.81) if a in STABLE else 0.96),
         "6 pp worse on average, within the seed noise"),
    Case("stable_archs_comparable_accuracy", "reproduced", _T(majority=False),
         "no majority column: 1/classes"),
    # --- forward Euler on γ = 0 antisymmetric weights (a check)
    Case("antisym_euler_gamma0_unstable", "reproduced", _T(), "follows the prediction"),
    Case("antisym_euler_gamma0_unstable", "not reproduced", _T(euler=False), "no growth"),
]


def _reversed_euler():
    df = _arch_table()
    rk = df.arch == "antisym_rk4"
    df.loc[rk, "M_euler"] = 20.0 / df.loc[rk, "P_euler"]
    return _res(df)


ARCH_CASES.append(Case("antisym_euler_gamma0_unstable", "partly", _reversed_euler,
                       "measured M reversed against the prediction, though above 1"))
test_architectures_verdict_cases = verdict_test(arch.claim, ARCH_CASES)


def test_floor_baseline_is_at_least_one_over_classes():
    df = _arch_table()
    df.loc[df.dataset == "peaks", "majority_val"] = 0.1  # below 1/5: clipped up
    assert np.allclose(majority_baseline(df)[df.dataset == "peaks"], 0.2)


def test_claims_on_trained_cells_name_a_cell_that_stopped_at_its_cap():
    """A cell whose training stopped at the step cap (not at the plateau criterion) is
    named in the notes of the claims that rest on its architecture, and only there."""
    df = _arch_table().assign(steps_run=300, converged=True, stop_reason="plateau",
                              final_objective=0.5)
    assert "Not converged" not in arch.claim.by_id(
        _res(df), "stable_archs_M_bounded_in_depth").note
    cap = (df.arch == "hamiltonian") & (df.depth == df.depth.min())
    df.loc[cap, ["steps_run", "converged", "stop_reason"]] = [800, False, "cap"]
    res = _res(df)
    n = int(df.depth.min())
    for cid in ("stable_archs_M_bounded_in_depth", "stable_archs_gradients_bounded",
                "stable_archs_comparable_accuracy"):
        assert f"Not converged: hamiltonian N={n}" in arch.claim.by_id(res, cid).note, cid
    assert "Not converged" not in arch.claim.by_id(res, "resnet_gradients_unbounded").note


def test_accuracy_gap_with_unknown_noise_decides_nothing():
    """One seed per side: the noise of an accuracy gap is unknown, so neither
    "comparable" nor "worse" is decided, however small or large the gap."""
    import math

    from nnde.claims import Comparison
    from reproductions.haber_ruthotto.architectures.claims import _acc_status

    for gap in (0.0, -0.01, -0.3):
        assert _acc_status(Comparison(gap, math.nan, 0.0, 1)) == "undecided"
    assert _acc_status(Comparison(-0.01, 0.005, 0.0, 3)) == "ok"
    assert _acc_status(Comparison(-0.2, 0.01, 0.0, 3)) == "bad"
    assert _acc_status(Comparison(-0.04, 0.02, 0.0, 3)) == "undecided"
