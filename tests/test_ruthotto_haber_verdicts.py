"""Ruthotto & Haber (2020): verdict cases for every claim of the table1, theorems and
stencils stages — made-up results fed to the stages' own claim functions, with the verdict
each must give (see tests/verdict_cases.py). No training."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from nnde.models.ruthotto_haber import LABELS
from nnde.results import Results
from reproductions.ruthotto_haber.stencils import betamap as stb
from reproductions.ruthotto_haber.stencils import claims as stc
from reproductions.ruthotto_haber.table1 import claims as t1c
from reproductions.ruthotto_haber.table1 import experiment as t1x
from reproductions.ruthotto_haber.table1.summary import PAPER_TABLE1
from reproductions.ruthotto_haber.theorems import claims as thc
from tests.verdict_cases import Case, verdict_test

VARIANTS = ("parabolic", "hamiltonian", "second_order")
PAPER10 = {v: PAPER_TABLE1["cifar10"][v][0] for v in VARIANTS}
#: Our small-profile numbers (held-out accuracy per seed, 718 digits; linear classifier
#: 96.9 %): the Hamiltonian network 1.2 pp behind the parabolic one, within the noise.
OURS = {"parabolic": [98.2, 97.9, 98.0], "hamiltonian": [96.7, 96.8, 97.0],
        "second_order": [98.5, 98.2, 96.4]}


# --------------------------------------------------------------------------- table 1
@functools.cache
def _paper_counts() -> pd.DataFrame:
    return t1x.paper_width_counts()  # builds the paper-width networks: once per session


def _t1(acc, *, dataset="digits", eval_n=718, linear=96.9, conv=None, counts=None):
    """Table 1's results: ``acc`` {variant: per-seed held-out accuracies (%) or one mean
    (three seeds at ±0.1)}, the same run's baselines, convergence rows ``conv``
    ({variant: converged}) and the paper-width counts."""
    rows = []
    for v, a in acc.items():
        vals = list(a) if isinstance(a, (list, tuple)) else [a - 0.1, a, a + 0.1]
        for seed, x in enumerate(vals):
            rows.append({"variant": v, "seed": seed, "dataset": dataset,
                         "weights": 13_794 if v == "hamiltonian" else 25_890,
                         "test_accuracy": x, "test_loss": 0.1, "heldout_accuracy": x,
                         "heldout_examples": eval_n, "train_accuracy": 100.0, "epochs": 12,
                         "paper_cifar10_accuracy": PAPER_TABLE1["cifar10"][v][0],
                         "paper_cifar10_weights": PAPER_TABLE1["cifar10"][v][1]})
    base = pd.DataFrame([{"model": "majority class", "accuracy": 10.0, "examples": eval_n},
                         {"model": "linear (logistic regression)", "accuracy": linear,
                          "examples": eval_n}])
    conv = conv or {}
    records = {"convergence": [
        {"model": f"{LABELS[v]} seed {s}", "variant": v, "seed": s, "final_train_loss": 0.01,
         "final_train_error": 0.0, "epochs_run": 12, "converged": conv.get(v, True),
         "stop_reason": "floor"} for s in range(3) for v in acc]}
    counts = _paper_counts().copy() if counts is None else counts
    return Results(frames={"seeds": pd.DataFrame(rows), "weights_at_paper_widths": counts,
                           "baselines": base}, records=records)


def _counts(change):
    c = _paper_counts().copy()
    change(c)
    return c


def _same_weights(c):
    c.loc[c.variant == "hamiltonian", "library_blocks"] = int(
        c.loc[c.variant == "parabolic", "library_blocks"].iloc[0])


def _one_more(c):
    c.loc[c.variant == "second_order", "paper_norm_layer"] += 1


EQUAL = dict.fromkeys(VARIANTS, [98.0, 98.1, 97.9])
ORDERED = {"parabolic": 93.0, "hamiltonian": 99.0, "second_order": 96.0}  # the paper's order

T1_CASES = [
    # comparable_accuracy
    Case("comparable_accuracy", "reproduced", lambda: _t1(EQUAL),
         "three networks at the same accuracy: every pair within 2 pp beyond the noise"),
    Case("comparable_accuracy", "reproduced",
         lambda: _t1(EQUAL, conv=dict.fromkeys(VARIANTS, None)),
         "a fixed-budget run (converged None, the paper's schedule) meets the floor"),
    Case("comparable_accuracy", "reproduced", lambda: _t1(OURS),
         "our numbers (seed set A): 0.9 pp apart, 2 SE 1.4 pp: within 4 pp beyond the noise "
         "(the old 2 pp rule said partly here and reproduced on seed set B)"),
    Case("comparable_accuracy", "not reproduced",
         lambda: _t1({"parabolic": 98.0, "hamiltonian": 90.0, "second_order": 97.5}, linear=85),
         "one network 8 pp behind, beyond the noise"),
    Case("comparable_accuracy", "inconclusive",
         lambda: _t1({"parabolic": 98.0, "hamiltonian": 93.5, "second_order": 97.5}, linear=85),
         "4.5 pp behind with 2 SE of 1.9 pp: neither within 4 pp nor beyond it"),
    Case("comparable_accuracy", "inconclusive",
         lambda: _t1({"parabolic": 98.0, "hamiltonian": [90.0, 96.0, 96.0],
                      "second_order": 98.0}),
         "a 4 pp gap inside a 3.5 pp seed spread: neither within 4 pp nor beyond it"),
    Case("comparable_accuracy", "not reproduced",
         lambda: _t1(dict.fromkeys(VARIANTS, 10.0)),
         "every network at chance: comparable, but no network delivered (below the floor)"),
    Case("comparable_accuracy", "not reproduced",
         lambda: _t1({**EQUAL, "second_order": [98.0, 98.0, 11.0]}),
         "one seed of one network collapsed: below the linear classifier"),
    Case("comparable_accuracy", "not reproduced",
         lambda: _t1(EQUAL, conv={"parabolic": False}),
         "one network stopped at its epoch cap: below the floor"),
    # hamiltonian_half_weights (check)
    Case("hamiltonian_half_weights", "reproduced", lambda: _t1(EQUAL),
         "the paper-width counts: ratio 0.52 against the paper's 0.53"),
    Case("hamiltonian_half_weights", "not reproduced",
         lambda: _t1(EQUAL, counts=_counts(_same_weights)),
         "the Hamiltonian network as heavy as the parabolic one"),
    # weight_counts_exact (check)
    Case("weight_counts_exact", "reproduced", lambda: _t1(EQUAL), "the paper's counts exactly"),
    Case("weight_counts_exact", "not reproduced",
         lambda: _t1(EQUAL, counts=_counts(_one_more)), "one weight off"),
    # hamiltonian_not_worse
    Case("hamiltonian_not_worse", "reproduced",
         lambda: _t1({**EQUAL, "hamiltonian": 98.8, "parabolic": 98.0}),
         "Hamiltonian 0.8 pp ahead: not worse by 1 pp beyond the noise"),
    Case("hamiltonian_not_worse", "not reproduced",
         lambda: _t1({**EQUAL, "hamiltonian": 92.0, "parabolic": 98.0}, linear=85),
         "Hamiltonian 6 pp behind, beyond the noise"),
    Case("hamiltonian_not_worse", "inconclusive", lambda: _t1(OURS),
         "our numbers (fresh seeds gave partly, then reproduced, under the old rule): "
         "1.2 pp behind with 2 SE of 1.8 pp"),
    Case("hamiltonian_not_worse", "not reproduced",
         lambda: _t1({**EQUAL, "hamiltonian": 80.0}),
         "the Hamiltonian network (the subject) below the linear classifier"),
    Case("hamiltonian_not_worse", "inconclusive",
         lambda: _t1({**EQUAL, "parabolic": 10.0, "hamiltonian": 25.0}),
         "'better' than a parabolic net at chance: the reference is below the floor"),
    Case("hamiltonian_not_worse", "not reproduced",
         lambda: _t1(EQUAL, conv={"hamiltonian": False}),
         "the Hamiltonian network stopped at its epoch cap"),
    Case("hamiltonian_not_worse", "reproduced",
         lambda: _t1({**EQUAL, "hamiltonian": 98.8}, conv={"second_order": False}),
         "a network the claim does not compare does not matter"),
    # ranking
    Case("ranking", "reproduced", lambda: _t1(ORDERED, linear=90),
         "the paper's order, every gap (3 pp) beyond the noise"),
    Case("ranking", "not reproduced",
         lambda: _t1({"parabolic": 99.0, "hamiltonian": 93.0, "second_order": 96.0},
                     linear=90), "the reverse order, decided"),
    Case("ranking", "partly",
         lambda: _t1({"parabolic": 95.0, "hamiltonian": 99.0, "second_order": 98.8},
                     linear=90),
         "Hamiltonian and second-order tied within the noise, both decidedly above parabolic"),
    Case("ranking", "inconclusive", lambda: _t1(OURS),
         "our numbers (fresh seeds gave not, then partly, under the old rule): no pair "
         "decided"),
    Case("ranking", "not reproduced",
         lambda: _t1({"parabolic": 11.0, "hamiltonian": 17.0, "second_order": 14.0}),
         "the paper's order among networks near chance: below the floor"),
    Case("ranking", "not reproduced", lambda: _t1(ORDERED, linear=90,
                                                  conv={"second_order": False}),
         "one network stopped at its epoch cap"),
    # cifar10_accuracy
    Case("cifar10_accuracy", "reproduced",
         lambda: _t1(PAPER10, dataset="cifar10", eval_n=10_000, linear=40),
         "the paper's accuracies on 10,000 test images"),
    Case("cifar10_accuracy", "partly",
         lambda: _t1({v: a - 2.5 for v, a in PAPER10.items()}, dataset="cifar10",
                     eval_n=10_000, linear=40), "2.5 pp below the paper's"),
    Case("cifar10_accuracy", "not reproduced",
         lambda: _t1({v: a - 10 for v, a in PAPER10.items()}, dataset="cifar10",
                     eval_n=10_000, linear=40), "10 pp below the paper's"),
    Case("cifar10_accuracy", "inconclusive",
         lambda: _t1({v: [a - 9, a, a + 9] for v, a in PAPER10.items()}, dataset="cifar10",
                     eval_n=10_000, linear=40), "the paper's means inside a 9 pp seed spread"),
    Case("cifar10_accuracy", "not reproduced",
         lambda: _t1({v: [a - 5, a - 4, a - 3] for v, a in PAPER10.items()},
                     dataset="cifar10", eval_n=10_000, linear=40),
         "4 pp below the paper's ± 1.3 pp: off by more than 1.5 pp, within 4 pp not shown"),
    Case("cifar10_accuracy", "not reproduced",
         lambda: _t1({**PAPER10, "hamiltonian": 30.0}, dataset="cifar10", eval_n=10_000,
                     linear=40), "one network below the linear classifier"),
]
test_table1_verdict_cases = verdict_test(t1c.claim, T1_CASES)


# --------------------------------------------------------------------------- theorems
def _summary(rows):
    base = {"stage": 0, "h": 0.1, "max_K_norm": 2.0, "n_ratios": 10, "median_ratio": 0.7,
            "min_ratio": 0.5}
    cols = [*base, "variant", "weights", "setting", "max_ratio", "jacobian_sigma_max"]
    return pd.DataFrame([{**base, **r} for r in rows], columns=cols)


def _energy(max_e=1.02, late=1.0):
    return pd.DataFrame([
        {"case": "c", "run": "inside (h‖K‖ < 2)", "max_E_over_E0": max_e,
         "late_over_early_max_E": late, "max_norm_Y_over_Y0": 2.0,
         "late_over_early_max_norm_Y": 1.5},
        {"case": "c", "run": "outside (h‖K‖ = 4)", "max_E_over_E0": 1e9,
         "late_over_early_max_E": 1e5, "max_norm_Y_over_Y0": 1e4,
         "late_over_early_max_norm_Y": 1e3}])


def _rev(e64=1e-16, e32=1e-7):
    return pd.DataFrame([{"weights": "random", "stage": 0, "dtype": d, "relative_error": e}
                         for d, e in (("float64", e64), ("float32", e32))])


def _th(rows, en=None, rev=None):
    return Results(frames={"summary": _summary(rows),
                           "energy_summary": _energy() if en is None else en,
                           "reversibility": _rev() if rev is None else rev})


def _t1rows(weights, max_ratio, sigma):
    return [{"variant": "parabolic", "weights": weights, "setting": "no norm, h = h*",
             "max_ratio": max_ratio, "jacobian_sigma_max": sigma}]


def _as_used(weights, sigma, median):
    return [{"variant": "parabolic", "weights": weights, "setting": "as used (TV, h = 1)",
             "max_ratio": max(median, 0.9), "median_ratio": median,
             "jacobian_sigma_max": sigma}]


def _others(ham, so, ctrl=(60.0, 25.0)):
    """Hamiltonian / second-order blocks as used, σ_max per block (lists), and the same
    blocks at h = 4h* without norm (one σ_max per type)."""
    rows = []
    for v, sig, c in (("hamiltonian", ham, ctrl[0]), ("second_order", so, ctrl[1])):
        for k, s in enumerate(sig):
            rows.append({"variant": v, "weights": "trained", "stage": k,
                         "setting": "as used (TV, h = 1)", "max_ratio": min(s, 2.0),
                         "min_ratio": 0.6, "jacobian_sigma_max": s})
            rows.append({"variant": v, "weights": "trained", "stage": k,
                         "setting": "no norm, h = 4h*", "max_ratio": 5.0, "min_ratio": 2.0,
                         "jacobian_sigma_max": c})
    return rows


TH_CASES = [
    *[c for w in ("random", "trained") for c in (
        Case(f"theorem1_{w}", "reproduced", lambda w=w: _th(_t1rows(w, 0.99, 1.0)),
             "ratios and σ_max ≤ 1"),
        Case(f"theorem1_{w}", "partly", lambda w=w: _th(_t1rows(w, 0.99, 1.3)),
             "random ratios ≤ 1 but the worst direction grows"),
        Case(f"theorem1_{w}", "not reproduced", lambda w=w: _th(_t1rows(w, 1.2, 1.3)),
             "a random perturbation grows"),
        Case(f"theorem1_as_used_{w}", "reproduced", lambda w=w: _th(_as_used(w, 0.9, 0.7)),
             "the worst direction shrinks"),
        Case(f"theorem1_as_used_{w}", "partly", lambda w=w: _th(_as_used(w, 1.7, 0.7)),
             "our numbers: the worst direction grows (σ_max 1.7), a typical one shrinks"),
        Case(f"theorem1_as_used_{w}", "not reproduced",
             lambda w=w: _th(_as_used(w, 5.0, 1.3)), "typical perturbations grow"),
    )],
    Case("step_size_condition", "reproduced",
         lambda: _th([{"variant": "parabolic", "weights": "random", "setting":
                       "no norm, h = 4h*", "max_ratio": 0.9, "jacobian_sigma_max": 2.5}]),
         "beyond the step-size limit the block amplifies"),
    Case("step_size_condition", "not reproduced",
         lambda: _th([{"variant": "parabolic", "weights": "random", "setting":
                       "no norm, h = 4h*", "max_ratio": 0.9, "jacobian_sigma_max": 0.95}]),
         "no growth even beyond the limit"),
    Case("others_not_contractive", "reproduced",
         lambda: _th(_others([8.3, 9.6, 4.3, 4.5], [3.2, 4.4, 2.3, 2.1])),
         "our numbers: not contractive, bounded"),
    Case("others_not_contractive", "reproduced",
         lambda: _th(_others([8.3, 12.0, 4.3, 4.5], [3.2, 4.4, 2.3, 2.1])),
         "one block beyond the bound (as on fresh seeds, which flipped the old max rule): "
         "the median block decides"),
    Case("others_not_contractive", "not reproduced",
         lambda: _th(_others([0.8, 0.9], [0.7, 0.95])), "both contractive"),
    Case("others_not_contractive", "partly",
         lambda: _th(_others([0.8, 0.9], [1.3, 2.5])), "only one not contractive"),
    Case("others_not_contractive", "not reproduced",
         lambda: _th(_others([1.6, 1.7], [5e3, 1e5])), "a block type that blows up"),
    Case("others_not_contractive", "not reproduced",
         lambda: _th(_others([1.6, float("nan")], [1.3, 2.5])), "an overflow (NaN)"),
    Case("others_not_contractive", "inconclusive",
         lambda: _th(_others([1.6, 1.7], [1.3, 2.5], ctrl=(60.0, 6.0))),
         "the unstable reference stays below the bound: the bound cannot tell them apart"),
    Case("theorem2_energy_bounded", "reproduced", lambda: _th([], en=_energy(1.02, 1.0)),
         "energy bounded, no drift"),
    Case("theorem2_energy_bounded", "not reproduced", lambda: _th([], en=_energy(1.02, 3.0)),
         "the energy drifts"),
    Case("theorem2_energy_bounded", "not reproduced", lambda: _th([], en=_energy(50.0, 1.0)),
         "the energy grows"),
    Case("hamiltonian_reversible", "reproduced", lambda: _th([], rev=_rev(1e-16, 1e-7)),
         "round-off only"),
    Case("hamiltonian_reversible", "not reproduced", lambda: _th([], rev=_rev(1e-6, 1e-7)),
         "float64 error far above round-off"),
]
test_theorems_verdict_cases = verdict_test(thc.claim, TH_CASES)


# --------------------------------------------------------------------------- stencils
def _det(change=None):
    det = stb.determinant_table([0.5, 1.0, 2.0])
    if change:
        change(det)
    return det


def _zero_det(det):
    det.loc[1, "det"] = 0.0


def _far_det(det):
    det.loc[2, "relative_error"] = 1e-3


_INIT = np.random.default_rng(0).normal(size=(12, 3, 3)) / 3


def _kernel_shares(kernels, weights):
    return pd.DataFrame([{"variant": "parabolic", "weights": weights, "stage": 0, "field": j,
                          **stb.group_shares(stb.decompose(W))} for j, W in enumerate(kernels)])


def _st(trained):
    shares = pd.concat([_kernel_shares(_INIT, "initial"), _kernel_shares(trained, "trained")],
                       ignore_index=True)
    return Results(frames={"determinant": _det(), "shares": shares})


def _learned():
    M = stb.beta_matrix(1.0)
    B = np.zeros((3, 3))  # rows: vertical, columns: horizontal (reaction, ∂, ∂²)
    B[0, 0], B[0, 1] = 1.0, 1.0  # reaction, convection ∂ₓ
    B[0, 2] = B[2, 0] = 1.0  # diffusion ∂ₓₓ + ∂ᵧᵧ
    return _INIT + 2.0 * (M @ B @ M.T)


def _shares_moved(shifts):
    """Shares whose per-kernel TV distance from the initial ones is ``shifts``: each kernel
    moves that much of its Σβ² from 'higher' to 'reaction' (all groups stay ≥ 5 %)."""
    rows = []
    for j, d in enumerate(shifts):
        init = {"reaction": 0.3, "convection": 0.3, "diffusion": 0.2, "higher": 0.2}
        tr = {**init, "reaction": 0.3 + d, "higher": 0.2 - d}
        for w, s in (("initial", init), ("trained", tr)):
            rows.append({"variant": "parabolic", "weights": w, "stage": 0, "field": j, **s})
    return Results(frames={"determinant": _det(), "shares": pd.DataFrame(rows)})


ST_CASES = [
    Case("beta_map_nonsingular", "reproduced", lambda: Results(frames={"determinant": _det()}),
         "det M(h) = −1/h³"),
    Case("beta_map_nonsingular", "not reproduced",
         lambda: Results(frames={"determinant": _det(_zero_det)}), "a zero determinant"),
    Case("beta_map_nonsingular", "not reproduced",
         lambda: Results(frames={"determinant": _det(_far_det)}), "det far from −1/h³"),
    Case("trained_kernels_use_all_three", "reproduced", lambda: _st(_learned()),
         "training added a reaction–convection–diffusion operator to each kernel"),
    Case("trained_kernels_use_all_three", "not reproduced", lambda: _st(_INIT),
         "the initial kernels fed as trained: all three groups, but nothing moved"),
    Case("trained_kernels_use_all_three", "not reproduced", lambda: _st(0.5 * _INIT),
         "weight decay alone (a uniform shrink) does not change the mix"),
    Case("trained_kernels_use_all_three", "not reproduced",
         lambda: _st(_INIT * 1e-3 + np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], float)),
         "moved, but all into diffusion: not a combination of the three"),
    Case("trained_kernels_use_all_three", "partly", lambda: _shares_moved([0.07] * 12),
         "every kernel moved by 0.07: above 0.05, below 0.10"),
    Case("trained_kernels_use_all_three", "not reproduced",
         lambda: _shares_moved([0.01, 0.09] * 6),
         "our case: a mean shift of 0.05 ± 0.023, below 0.10 beyond the noise, not shown "
         "above 0.05"),
    Case("trained_kernels_use_all_three", "inconclusive",
         lambda: _shares_moved([0.03, 0.12] * 6),
         "a mean shift of 0.075 ± 0.027: neither shown nor refuted at 0.10, nor above 0.05"),
    Case("trained_kernels_use_all_three", "partly",
         lambda: _shares_moved([0.06, 0.10] * 6),
         "a mean shift of 0.08 ± 0.012: above 0.05, within the noise of 0.10"),
]
test_stencils_verdict_cases = verdict_test(stc.claim, ST_CASES)


# --------------------------------------------------------------------------- kinds
#: The kind of every claim, by nnde.claims.KIND_CRITERION: the weight counts, the theorems
#: (any weights), the β-map (an identity), the as-used and non-contractive properties (they
#: hold at initialisation already: random blocks give the same verdict) are checks; the
#: accuracy comparisons of trained networks and the change training makes to the kernels
#: are experiments.
KINDS = {
    "comparable_accuracy": "experiment", "hamiltonian_half_weights": "check",
    "weight_counts_exact": "check", "hamiltonian_not_worse": "experiment",
    "ranking": "experiment", "cifar10_accuracy": "experiment",
    "theorem1_random": "check", "theorem1_trained": "check", "step_size_condition": "check",
    "theorem1_as_used_random": "check", "theorem1_as_used_trained": "check",
    "others_not_contractive": "check", "theorem2_energy_bounded": "check",
    "hamiltonian_reversible": "check", "beta_map_nonsingular": "check",
    "trained_kernels_use_all_three": "experiment",
}


def test_claim_kinds_follow_the_criterion():
    seen = {}
    for claim_set, cases in ((t1c.claim, T1_CASES), (thc.claim, TH_CASES),
                             (stc.claim, ST_CASES)):
        for case in cases:
            for c in claim_set.judge(case.results()):
                seen.setdefault(c.id, set()).add(c.kind)
    ids = set(t1c.claim.ids) | set(thc.claim.ids) | set(stc.claim.ids)
    assert set(KINDS) == ids
    assert {i: k.pop() for i, k in seen.items() if len(k) == 1} == KINDS
