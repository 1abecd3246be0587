"""The claims of the sub-space and regularisation stage (the lecture; Belkin et al.
2019), judged from ``gd_summary.csv``, ``ridge.csv`` and ``config.json`` alone."""

from __future__ import annotations

import math

import numpy as np

from nnde.claims import ClaimSet, check, compare, fmt

from .summary import ridge_summary

#: GD "reaches" a point when the distance to it is below this fraction of ‖w*‖ (the
#: config's ``gd_tol``; this default for results that do not record it).
GD_TOL = 1e-6
#: Floor of the ridge comparison: each ridge strength's best fit over M has at most this
#: fraction of the test risk of the constant fit (M = 1, λ = 0: the training mean).
FLOOR_FRACTION = 0.5
claim = ClaimSet()


def _known(c) -> bool:
    """The comparison has a noise estimate (a seed spread, or the evaluation set's
    sampling error): without one no difference is decided."""
    return math.isfinite(c.se_seeds) or c.se_eval > 0


def _gd_legendre(res, start: str):
    s = res.frame("gd_summary")
    return s[(s.basis == "legendre") & (s.start == start)]


def _tol(res) -> float:
    return float(res.record("config").get("gd_tol", GD_TOL))


def _steps_note(runs) -> str:
    """The steps each run took (set by its contraction bound) and any run the cap cut."""
    if "iterations" not in runs:
        return ""
    parts = [f"seed {int(r.seed)}: κ = {fmt(r.cond, 3)}, {int(r.iterations)} steps"
             for r in runs.itertuples()]
    out = ("Each run took the steps its contraction bound (1 − 1/κ²)^t needs to get "
           "within gd_tol/100 of its limit: " + "; ".join(parts) + ".")
    if "iterations_needed" in runs:
        cut = runs[runs.iterations_needed > runs.iterations]
        if len(cut):
            out += (" Stopped at gd_max_iterations before the bound was met: seeds "
                    + ", ".join(str(int(v)) for v in cut.seed) + " (raise gd_max_iterations).")
    return out


@claim
def gd_zero_reaches_min_norm(res):
    """Lecture ("optimisation chooses the sub-space"; Belkin et al. 2019), a check:
    gradient descent from w₀ = 0 converges to the minimum-norm interpolant w* (relative
    distance < gd_tol for every seed). Each run iterates until the contraction bound of
    gradient descent guarantees that distance, so the check holds for any seed and
    condition number when the theorem (and our code) holds."""
    z = _gd_legendre(res, "zero")
    if not len(z):
        return None
    cfg, tol = res.record("config"), _tol(res)
    worst = float(z.final_rel_dist_min_norm.max())
    return check(
        "gd_zero_reaches_min_norm",
        "Gradient descent from w₀ = 0 converges to the minimum-norm interpolant "
        "(optimisation chooses the sub-space)",
        paper="GD from zero → minimum-norm solution (lecture; Belkin et al. 2019)",
        ours="‖w_T − w*‖ / ‖w*‖: "
        + ", ".join(f"{fmt(v, 3)} (seed {s})"
                    for s, v in zip(z.seed, z.final_rel_dist_min_norm, strict=True)),
        rule=f"largest relative distance over seeds < {tol:g}",
        passed=worst < tol,
        kind="check",
        subject="gradient descent from w₀ = 0 (Legendre basis)",
        reference="the minimum-norm interpolant w* = pinv(A) y",
        note=" ".join(t for t in (
            f"Legendre basis, M = {int(z.M.iloc[0])}, n = {cfg['n']}, step 1/σ_max².",
            _steps_note(z)) if t) + " A theorem of linear algebra (every gradient lies in the "
        "row space of A, and GD with this step converges there): the run tests our "
        "code, not the paper.",
    )


@claim
def gd_random_start_keeps_null_component(res):
    """Lecture (the sub-space depends on the initialisation), a check: from a random w₀
    gradient descent converges to w* + P_null w₀, so its distance to w* levels off at
    ‖P_null w₀‖, which is not negligible."""
    r = _gd_legendre(res, "random")
    if not len(r):
        return None
    tol = _tol(res)
    lim_ok = float(r.final_rel_dist_limit.max()) < tol
    plateau = np.abs(r.final_dist_min_norm - r.norm_null_start) / r.norm_min_norm
    far = bool((r.norm_null_start > 100 * tol * r.norm_min_norm).all())
    return check(
        "gd_random_start_keeps_null_component",
        "From a non-zero start w₀, gradient descent converges to w* + P_null w₀, not "
        "to w*: its distance to w* levels off at ‖P_null w₀‖",
        paper="the start's null-space component is kept (lecture: the sub-space "
        "depends on the initialisation)",
        ours="‖w_T − (w* + P_null w₀)‖ / ‖w*‖: "
        + ", ".join(fmt(v, 3) for v in r.final_rel_dist_limit)
        + "; ‖w_T − w*‖ = "
        + ", ".join(fmt(v, 4) for v in r.final_dist_min_norm)
        + " vs ‖P_null w₀‖ = "
        + ", ".join(fmt(v, 4) for v in r.norm_null_start),
        rule=f"relative distance to w* + P_null w₀ < {tol:g} AND "
        f"|‖w_T − w*‖ − ‖P_null w₀‖| / ‖w*‖ < {tol:g} AND ‖P_null w₀‖ > "
        f"{100 * tol:g} ‖w*‖ (not negligible), for every seed",
        passed=lim_ok and float(plateau.max()) < tol and far,
        kind="check",
        subject="gradient descent from a random w₀ (Legendre basis)",
        reference="w* + P_null w₀, and the minimum-norm interpolant w*",
        note=(_steps_note(r) + " " if _steps_note(r) else "") + "A theorem of linear "
        "algebra (the gradients Aᵀ(Aw − y) never touch the null space of A): the run "
        "tests our code, not the paper.",
    )


def _peak_gaps(ridge):
    """Per λ > 0: the paired comparison over seeds of log10 of the largest test risk over
    M with λ against log10 of the minimum-norm fit's (λ = 0) on the same data."""
    peak = ridge.groupby(["lam", "seed"])["test_risk"].max().unstack("lam")
    base = np.log10(peak[0.0])
    return {lam: compare(list(np.log10(peak[lam]) - base), 0.0)
            for lam in peak.columns if lam != 0.0}


@claim
def ridge_flattens_peak(res):
    """Lecture ("optimisation + regularisation" panel; Belkin et al. 2019): for every
    λ > 0 the largest median test risk over M is below the minimum-norm fit's (λ = 0),
    and on the same data (paired over seeds) the largest risk over M is lower by more
    than the seed noise (log10 scale). Floors: the ridge fits (the subject) and the
    minimum-norm fits (the reference) each beat the constant fit (M = 1, λ = 0) at their
    best M."""
    ridge = res.frame("ridge")
    if not len(ridge):
        return None
    summ = ridge_summary(ridge)
    peaks = summ.groupby("lam")["median"].max()
    M_peak = summ.loc[summ[summ.lam == 0]["median"].idxmax(), "M"]
    base = float(peaks.loc[0.0])
    others = peaks.drop(index=0.0)
    one = summ[(summ.lam == 0.0) & (summ.M == 1)]["median"]
    const = float(one.iloc[0]) if len(one) else float("nan")
    best = summ[summ.lam > 0].groupby("lam")["median"].min()
    best0 = float(summ[summ.lam == 0.0]["median"].min())
    gaps = _peak_gaps(ridge)
    lower = len(others) > 0 and bool((others < base).all())
    return check(
        "ridge_flattens_peak",
        "Ridge regularisation lowers the double-descent peak (the lecture's "
        '"optimisation + regularisation" panel)',
        paper="regularisation flattens the peak (lecture; Belkin et al. 2019)",
        ours=f"largest median test risk over M: λ = 0: {fmt(base)} (at M = "
        f"{int(M_peak)}); "
        + ", ".join(f"λ = {lam:g}: {fmt(v)}" for lam, v in others.items())
        + ". Best over M: "
        + ", ".join(f"λ = {lam:g}: {fmt(v)}" for lam, v in best.items())
        + f"; λ = 0: {fmt(best0)}; constant fit (M = 1) {fmt(const)}",
        rule="for every λ > 0 the largest median test risk over M is below λ = 0's AND "
        "log10(largest risk over M, λ) − log10(the same, λ = 0), paired over seeds, "
        "is below 0 by more than 2 SE",
        passed=lower and all(_known(c) and c.below(0.0) for c in gaps.values()),
        decided=all(c.decided for c in gaps.values()),
        subject="ridge fits (λ > 0, Legendre basis)",
        reference="the minimum-norm fits (λ = 0)",
        floor=f"the best fit over M has ≤ {FLOOR_FRACTION:g} × the median test risk of "
        "the constant fit (M = 1, the training mean), for every λ > 0 (the subject: a λ "
        "so large that the fit learns nothing flattens the peak trivially) and for "
        "λ = 0 (the reference: the data carry a learnable signal)",
        subject_ok=len(best) > 0 and bool((best <= FLOOR_FRACTION * const).all()),
        reference_ok=best0 <= FLOOR_FRACTION * const,
        note="Peak gaps (log10, paired over seeds): "
        + "; ".join(f"λ = {lam:g}: {c.text()}" for lam, c in gaps.items()) + ".",
    )
