"""The claims of Haber & Ruthotto (2017) on the stable architectures, judged from the
saved tables (``cells.csv``; ``levels.csv``, ``refine.csv`` of the multi-level runs).
Each names the part of the paper it follows (mostly §3, the stability of the forward
propagation); each is shown able to fail in tests/test_haber_ruthotto_verdicts.py."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from nnde.claims import ClaimSet, check, fmt

from .stability import EIG_TOL, OFF_AXIS
from .summary import (
    gap_noise,
    grad_ratios,
    majority_baseline,
    seed_means,
    spearman,
    sweep,
    table,
    within,
)

#: Gradient norms of the first and last layers within this factor count as bounded.
GRAD_FACTOR = 10.0
#: |M(N) − M(N/2)| / M(N) at the finest N below this counts as converged.
CONVERGE_TOL = 0.05
#: The accuracy comparison's floor: every model beats predicting the majority class of
#: its validation set by this much (validation accuracy).
ACC_FLOOR_MARGIN = 0.10
#: M at the deeper depths within this factor of M at the middle depth counts as bounded.
BAND = 2.0
#: Accuracy gaps smaller than this (or than twice their seed noise) count as comparable.
ACC_TOL = 0.05

claim = ClaimSet()


@claim
def stable_archs_eigenvalues_on_axis(res):
    """§3: the antisymmetric (K − Kᵀ − γI), Hamiltonian and second-order
    parametrisations put the Jacobians' eigenvalues on the imaginary axis (γ = 0) or just
    left of it (Re λ ∈ [−γ, 0]) for any weights: an identity of the parametrisation
    (a check), which this tests in our layers along trained trajectories."""
    sw = sweep(res)
    df = sw.df
    if not sw.stable or "eig_max_abs_re_rel" not in df:
        return None
    bad = []
    for a in sw.stable:
        d = df[df.arch == a]
        if a == "antisym_euler":
            ok = (d.eig_max_re_rel <= EIG_TOL) & (d.eig_min_re >= -d.gamma * (1 + EIG_TOL))
        else:
            ok = d.eig_max_abs_re_rel <= EIG_TOL
        bad += [f"{a} N={r.depth} {r.dataset} seed {r.seed}"
                for r in d[~ok].itertuples(index=False)]
    worst = {a: float(df[df.arch == a].eig_max_abs_re_rel.max()) for a in sw.stable}
    return check(
        "stable_archs_eigenvalues_on_axis",
        "Antisymmetric, Hamiltonian and second-order layers have Jacobian eigenvalues "
        "on the imaginary axis (antisymmetric with γ > 0: Re λ ∈ [−γ, 0]) (§3)",
        paper="Re λ(J) = 0 by construction of the stable parametrisations (§3)",
        ours="max |Re λ| / max |λ| over layers, points and members: " + ", ".join(
            f"{a} {fmt(v, 2)}" for a, v in worst.items()),
        rule=f"every member of every stable architecture: |Re λ| ≤ {EIG_TOL:g} · max |λ| "
             f"(antisymmetric with γ > 0: −γ ≤ Re λ ≤ {EIG_TOL:g} · max |λ|)",
        passed=not bad, kind="check",
        note="An identity of the parametrisations, which tests our layers; not evidence "
             "about the paper." + (" Off: " + ", ".join(bad[:6]) + "." if bad else ""),
    )


@claim
def resnet_eigenvalues_off_axis(res):
    """§3: the plain ResNet's K is unconstrained, so nothing keeps Re λ(J) ≤ 0 or ≈ 0:
    its trained layer Jacobians have eigenvalues well off the imaginary axis, some with
    Re λ > 0 (partly: one of the two)."""
    sw = sweep(res)
    if "resnet" not in sw.archs or "eig_off_axis" not in sw.df:
        return None
    r = sw.df[sw.df.arch == "resnet"]
    off = float(r.eig_off_axis.median())
    pos = float(r.eig_re_pos.median())
    return check(
        "resnet_eigenvalues_off_axis",
        "The plain ResNet's trained layer Jacobians have eigenvalues well off the "
        "imaginary axis, with Re λ > 0 among them (§3)",
        paper="K unconstrained: nothing keeps Re λ(J) ≤ 0 or ≈ 0, so the forward "
              "propagation can amplify (Re λ > 0) or be lossy (Re λ ≪ 0) (§3)",
        ours=f"share of eigenvalues with |Re λ| > {OFF_AXIS:g} |λ|: median {fmt(off, 3)} "
             f"(Re λ > {OFF_AXIS:g} |λ|: {fmt(pos, 3)}) over {len(r)} trained members",
        rule=f"median over trained members of the share off the axis ≥ 0.25 and of the "
             f"share with Re λ > {OFF_AXIS:g} |λ| ≥ 0.05 (partly: one of the two)",
        passed=off >= 0.25 and pos >= 0.05, partly=off >= 0.25 or pos >= 0.05,
        note="Off the axis: |Re λ| > " + f"{OFF_AXIS:g} |λ| (about 3°), among "
             "eigenvalues larger than 10⁻⁶ of the largest.",
    )


@claim
def stable_archs_M_bounded_in_depth(res):
    """§3: Re λ(K(t)) ≈ 0 (with a step inside the integrator's region) makes the forward
    propagation stable, M bounded independently of the number of layers at fixed T
    (h = T/N); it does not say M ≈ 1. So M (median over members) must not grow by more
    than BAND as the net deepens past the middle depth of the sweep."""
    sw = sweep(res)
    depths = sw.depths
    if not sw.stable or len(depths) < 2:
        return None
    n_ref = depths[(len(depths) - 1) // 2]
    deeper = [n for n in depths if n > n_ref]
    bounded, worst = {}, {}
    for a in sw.stable:
        m = dict(sw.series(a, "M"))
        vals = [m[n_ref], *(m[n] for n in deeper)]
        # a diverged cell (M not finite) or a collapsed reference is not bounded
        ok = all(math.isfinite(v) for v in vals) and m[n_ref] > 0
        worst[a] = max(vals[1:]) / m[n_ref] if ok else math.inf
        bounded[a] = bool(worst[a] <= BAND)
    return check(
        "stable_archs_M_bounded_in_depth",
        "Antisymmetric, Hamiltonian and second-order networks keep the stability "
        "constant M bounded as the number of layers grows at fixed T (§3)",
        paper="Re λ(K(t)) ≈ 0: M bounded independently of the number of layers "
              "(§3; not M ≈ 1)",
        ours="; ".join(f"{a}: " + ", ".join(f"{fmt(m, 3)} (N={n})" for n, m in sw.series(a, "M"))
                       for a in sw.stable),
        rule=f"per stable architecture, with M the median over data sets and seeds: "
             f"max M over the depths above the middle one (N > {n_ref}) ≤ {BAND:g} × "
             f"M(N = {n_ref}), for every stable architecture (partly: for most)",
        passed=all(bounded.values()), partly=np.mean(list(bounded.values())) > 0.5,
        note=f"max M(N > {n_ref}) / M(N = {n_ref}): " + ", ".join(
            f"{a} {fmt(r, 3)}" for a, r in worst.items()) + ". Each depth is trained "
             "separately, so each N has its own weights.",
    )


@claim
def M_converges_as_h_to_0(res):
    """§2–3: the network is the discretisation of one ODE with weights θ(t); refining h
    at fixed T and fixed θ(t) (the finest multi-level net's) must converge to the ODE's
    flow, so M(N) of one θ(t) sampled at finer and finer h settles."""
    refine = table(res, "refine")
    if refine is None or not len(refine):
        return None
    conv, txt, typ = {}, [], []
    for a, t in refine.groupby("arch", sort=False):
        m = t.groupby("depth").M.median().sort_index()
        mt = t.groupby("depth").M_median.median().sort_index()
        if len(mt) > 1:
            typ.append(f"{a} {fmt(abs(mt.iloc[-1] - mt.iloc[-2]) / mt.iloc[-1], 2)}")
        rel = (m.diff().abs() / m).iloc[1:]
        finite = bool(np.isfinite(t.M).all())  # a diverged member does not converge
        last = float(rel.iloc[-1]) if len(rel) and finite else math.nan
        conv[a] = (math.isfinite(last) and last <= CONVERGE_TOL,
                   len(rel) < 2 or last < float(rel.iloc[:-1].max()))
        txt.append(f"{a}: " + ", ".join(f"{fmt(v, 3)} (N={n})" for n, v in m.items()))
    return check(
        "M_converges_as_h_to_0",
        "One weight function θ(t) sampled at finer and finer h (fixed T) gives networks "
        "whose M converges: the network is a discretisation of one ODE (§2–3)",
        paper="deep network = forward Euler (or another scheme) on y' = f(y, θ(t)); "
              "as h → 0 the discrete network approaches the ODE's flow",
        ours="; ".join(txt),
        rule=f"per multi-level architecture, M the median over members of one θ(t) (the "
             f"finest trained level's weights, linear in time between layers) sampled at "
             f"N = 16, 32, …: |M(N) − M(N/2)| / M(N) ≤ "
             f"{CONVERGE_TOL:g} at the finest N and smaller than at coarser N, for every "
             "architecture (partly: the first for some)",
        passed=all(c[0] and c[1] for c in conv.values()),
        partly=any(c[0] for c in conv.values()),
        note="M is a maximum over inputs and directions, dominated by the inputs nearest "
             "a decision boundary; the typical ratio (median) moved by " +
             (", ".join(typ) or "—") + " at the finest N (not part of the rule). Where "
             "|R(hλ)| > 1 at coarse h (the Euler disk: |1 + hλ| > 1) the coarse networks "
             "amplify modes the ODE does not; see the refinement table.",
    )


def _ratio_text(gr, a: str, n: int) -> str:
    """‖∇θ_first‖ / ‖∇θ_last‖ initial→trained of one cell."""
    return f"{fmt(gr.loc[(a, n), 'r_init'], 2)}→{fmt(gr.loc[(a, n), 'r_trained'], 2)}"


@claim
def stable_archs_gradients_bounded(res):
    """§3: a stable forward propagation makes a well-posed learning problem, without
    exploding or vanishing gradients: for the stable architectures the first and last
    layers' gradient norms stay within GRAD_FACTOR of each other, at initialisation and
    after training, at every depth (partly: in most of these cases)."""
    sw = sweep(res)
    if not sw.stable:
        return None
    gr = grad_ratios(sw.df)
    ok = {(a, n, w): within(gr.loc[(a, n), w], GRAD_FACTOR)
          for a in sw.stable for n in sw.depths for w in ("r_init", "r_trained")}
    out = [f"{a} N={n} {w[2:]} {fmt(gr.loc[(a, n), w], 2)}"
           for (a, n, w), good in ok.items() if not good]
    return check(
        "stable_archs_gradients_bounded",
        "Stable architectures keep the first and last layers' gradient norms within "
        f"a factor {GRAD_FACTOR:g} of each other at every depth (§3: a stable "
        "forward propagation makes a well-posed learning problem)",
        paper="no exploding or vanishing gradients for the stable networks (§3); "
              "IMEXnet (2019) disputes it for Hamiltonian networks",
        ours="; ".join(f"{a}: " + ", ".join(f"{_ratio_text(gr, a, n)} (N={n})"
                                            for n in sw.depths) for a in sw.stable),
        rule=f"‖∇θ_first‖ / ‖∇θ_last‖ (median over members) within [1/{GRAD_FACTOR:g}, "
             f"{GRAD_FACTOR:g}] at initialisation and after training, at every depth, "
             "for every stable architecture (partly: in most of these cases)",
        passed=all(ok.values()), partly=np.mean(list(ok.values())) > 0.5,
        note="Written initial→trained. Outside: " + (", ".join(out) or "none") + ".",
    )


@claim
def resnet_gradients_unbounded(res):
    """§3: an unstable or lossy forward propagation makes the plain ResNet's gradients
    explode or vanish: its first and last layers' gradient norms drift apart by more
    than GRAD_FACTOR at the deepest depth (partly: at some other depth)."""
    sw = sweep(res)
    if "resnet" not in sw.archs:
        return None
    gr, depths = grad_ratios(sw.df), sw.depths
    deep = depths[-1]
    out_deep = [not within(gr.loc[("resnet", deep), w], GRAD_FACTOR)
                for w in ("r_init", "r_trained")]
    out_any = [not within(gr.loc[("resnet", n), w], GRAD_FACTOR)
               for n in depths for w in ("r_init", "r_trained")]
    return check(
        "resnet_gradients_unbounded",
        "The plain ResNet's first and last layers' gradient norms drift apart by more "
        f"than a factor {GRAD_FACTOR:g} (exploding or vanishing gradients) (§3)",
        paper="unstable or lossy forward propagation makes gradients explode or "
              "vanish in the plain ResNet (§3)",
        ours=", ".join(f"{_ratio_text(gr, 'resnet', n)} (N={n})" for n in depths),
        rule=f"‖∇θ_first‖ / ‖∇θ_last‖ (median over members) outside [1/{GRAD_FACTOR:g},"
             f" {GRAD_FACTOR:g}] at the deepest N = {deep}, initial or trained (partly: "
             "at some other depth)",
        passed=any(out_deep), partly=any(out_any),
        note="Written initial→trained.",
    )


def _below_floor(rows: pd.DataFrame) -> pd.DataFrame:
    """The models that do not beat predicting their majority class by ACC_FLOOR_MARGIN
    (a NaN accuracy is below)."""
    return rows[~(rows.val_acc - majority_baseline(rows) >= ACC_FLOOR_MARGIN - 1e-12)]


def _models(below: pd.DataFrame) -> str:
    return ", ".join(f"{r.arch} N={r.depth} {r.dataset} seed {r.seed} ({fmt(r.val_acc, 3)})"
                     for r in below.itertuples(index=False))


@claim
def stable_archs_comparable_accuracy(res):
    """The paper's numerical experiments: the stable architectures reach validation
    accuracy comparable to the plain ResNet — per depth, no worse than the ResNet's
    beyond max(ACC_TOL, twice the seed noise of the gap) (partly: in most cells).
    Floor: every model beats its majority class by ACC_FLOOR_MARGIN."""
    sw = sweep(res)
    df, stable, depths = sw.df, sw.stable, sw.depths
    if "resnet" not in sw.archs or not stable:
        return None
    per = df.groupby(["arch", "depth"]).val_acc.mean()  # mean over data sets & seeds
    gaps, ok = {}, []
    for a in stable:
        for n in depths:
            g, se = gap_noise(seed_means(df[(df.arch == a) & (df.depth == n)]),
                              seed_means(df[(df.arch == "resnet") & (df.depth == n)]))
            gaps[(a, n)] = (g, se)
            ok.append(g >= -max(ACC_TOL, 2 * se))
    cmp = df[df.arch.isin(["resnet", *stable])]
    base = majority_baseline(cmp)
    below = _below_floor(cmp)
    base_txt = ", ".join(f"{d} {fmt(v, 2)}" for d, v in
                         base.groupby(cmp.dataset, sort=False).median().items())
    return check(
        "stable_archs_comparable_accuracy",
        "Stable architectures reach validation accuracy comparable to the plain ResNet "
        "(numerical experiments)",
        paper="comparable or better accuracy (the paper's tables are [unverified] here)",
        ours="; ".join(f"{a}: " + ", ".join(f"{fmt(per[(a, n)], 3)} (N={n})" for n in depths)
                       for a in ["resnet", *stable]),
        rule=f"per depth, mean validation accuracy (over data sets, then over the "
             f"{df.seed.nunique()} seeds) ≥ the ResNet's − max({ACC_TOL:g}, 2 × the standard "
             "error of the difference over seeds), for every stable architecture "
             "(partly: in most cells)",
        passed=all(ok), partly=np.mean(ok) > 0.5,
        floor=f"each model (architecture × depth × data set × seed) beats predicting "
              f"the majority class of its validation set (≥ 1/classes; median {base_txt})"
              f" by {ACC_FLOOR_MARGIN * 100:g} pp of validation accuracy",
        competent=below.empty,
        note="Cells below: " + (", ".join(
            f"{a} N={n} ({fmt(g, 2)} ± {fmt(se, 2)})" for (a, n), (g, se) in gaps.items()
            if g < -max(ACC_TOL, 2 * se)) or "none") + "." + (
            " Models below the floor: " + _models(below) + "." if len(below) else ""),
    )


@claim
def multilevel_matches_direct_faster(res):
    """The paper's multi-level learning (the authors' code: double the layers, halve h,
    interpolate the weights in time) reaches the accuracy of training the deepest net
    directly, in less training CPU time (partly: the accuracy alone, or both for some).
    Floor: every member of both beats its majority class by ACC_FLOOR_MARGIN."""
    levels = table(res, "levels")
    if levels is None or not len(levels):
        return None
    sw = sweep(res)
    top = int(levels.depth.max())
    fin = levels[levels.depth == top]
    direct = pd.concat([sw.df, sw.extra])
    outcome, txt = [], []
    for a, t in fin.groupby("arch", sort=False):
        d = direct[(direct.arch == a) & (direct.depth == top)]
        if d.empty:
            continue
        g, se = gap_noise(seed_means(t), seed_means(d))
        t_ml, t_dir = float(t.cpu_seconds.max()), float(d.cpu_seconds_cell.max())
        outcome.append((g >= -max(ACC_TOL, 2 * se), t_ml < t_dir))
        txt.append(f"{a}: multi-level {fmt(t.val_acc.mean(), 3)} in {fmt(t_ml, 3)} s vs "
                   f"direct {fmt(d.val_acc.mean(), 3)} in {fmt(t_dir, 3)} s "
                   f"(gap {fmt(g, 2)} ± {fmt(se, 2)})")
    if not outcome:
        return None
    below = _below_floor(pd.concat([fin, direct[direct.arch.isin(fin.arch.unique())
                                                & (direct.depth == top)]]))
    return check(
        "multilevel_matches_direct_faster",
        f"Multi-level training (double the layers, halve h, interpolate the weights "
        f"in time) reaches the accuracy of training {top} layers directly, in less "
        "time (the paper's multi-level learning; the authors' code)",
        paper="multi-level training as a cheaper way to train deep networks "
              "(the paper gives no timing; [unverified] beyond the method)",
        ours="; ".join(txt),
        rule=f"per multi-level architecture, mean validation accuracy at N = {top} ≥ "
             f"the directly trained net's − max({ACC_TOL:g}, 2 × the standard error "
             "over seeds), and total training CPU time (all levels) below the direct "
             "run's, for every architecture (partly: the accuracy part alone, or "
             "both for some)",
        passed=all(a and f for a, f in outcome),
        partly=all(a for a, _ in outcome) or any(a and f for a, f in outcome),
        floor=f"every member of both beats predicting its majority class by "
              f"{ACC_FLOOR_MARGIN * 100:g} pp of validation accuracy",
        competent=below.empty,
        note=f"Levels: {sorted(levels.depth.unique())}; epochs per level "
             f"{levels.groupby('level').epochs.first().tolist()}." + (
                 " Below the floor: " + _models(below) + "." if len(below) else ""),
    )


@claim
def antisym_euler_gamma0_unstable(res):
    """§3: for λ on the imaginary axis forward Euler amplifies by |1 + hλ| =
    (1 + h²|λ|²)^½ > 1 per layer. The γ = 0 antisymmetric weights (trained with the
    higher-order step) run under forward Euler: measured M must follow the predicted
    Π(1 + h²|λ|²)^½ in rank (Spearman ρ ≥ 0.8) and exceed 1 wherever the prediction is
    ≥ 1.1 (partly: one of the two)."""
    df = sweep(res).df
    if "M_euler" not in df:
        return None
    d = df[df.M_euler.notna()]
    rho = spearman(np.log(d.P_euler), np.log(d.M_euler))
    unstable = d[d.P_euler >= 1.1]
    grows = bool((unstable.M_euler > 1).all()) if len(unstable) else False
    by = d.groupby("depth").agg(M=("M_euler", "median"), P=("P_euler", "median"),
                                Mr=("M", "median"))
    return check(
        "antisym_euler_gamma0_unstable",
        "Forward Euler on γ = 0 antisymmetric weights amplifies perturbations like "
        "(1 + h²|λ|²)^{N/2} (§3)",
        paper="|1 + hλ| = (1 + h²|λ|²)^{1/2} > 1 per layer for λ on the imaginary axis",
        ours=", ".join(f"N={n}: M_euler = {fmt(r.M, 3)} vs Π(1+h²|λ|²)^½ = {fmt(r.P, 3)}"
                       f" (same weights under the higher-order step: M = {fmt(r.Mr, 3)})"
                       for n, r in by.iterrows()),
        rule="over all cells, Spearman ρ(log predicted, log measured M) ≥ 0.8, and "
             "M > 1 wherever the prediction is ≥ 1.1 (partly: one of the two)",
        passed=(rho >= 0.8) and grows, partly=(rho >= 0.8) or grows,
        note=f"ρ = {fmt(rho, 3)} over {len(d)} cells; {len(unstable)} cells with "
             "predicted growth ≥ 1.1. The prediction multiplies, layer by layer, the "
             "largest |1 + hλ| of the layer's Jacobian diag(σ′)(K − Kᵀ) along the "
             "trajectory (median over validation points).",
    )
