"""The claims of the sub-space and regularisation stage (the lecture; Belkin et al.
2019), judged from ``gd_summary.csv``, ``ridge.csv`` and ``config.json`` alone."""

from __future__ import annotations

import numpy as np

from nnde.claims import ClaimSet, check, fmt

from .summary import ridge_summary

#: GD "reaches" a point when the distance to it is below this fraction of ‖w*‖.
GD_TOL = 1e-6
#: Floor of the ridge comparison: each ridge strength's best fit over M has at most this
#: fraction of the test risk of the constant fit (M = 1, λ = 0: the training mean).
FLOOR_FRACTION = 0.5
claim = ClaimSet()


def _gd_legendre(res, start: str):
    s = res.frame("gd_summary")
    return s[(s.basis == "legendre") & (s.start == start)]


@claim
def gd_zero_reaches_min_norm(res):
    """Lecture ("optimisation chooses the sub-space"; Belkin et al. 2019), a check:
    gradient descent from w₀ = 0 converges to the minimum-norm interpolant w* (relative
    distance < GD_TOL for every seed)."""
    z = _gd_legendre(res, "zero")
    if not len(z):
        return None
    cfg = res.record("config")
    worst = float(z.final_rel_dist_min_norm.max())
    return check(
        "gd_zero_reaches_min_norm",
        "Gradient descent from w₀ = 0 converges to the minimum-norm interpolant "
        "(optimisation chooses the sub-space)",
        paper="GD from zero → minimum-norm solution (lecture; Belkin et al. 2019)",
        ours=f"‖w_T − w*‖ / ‖w*‖ after {cfg['gd_iterations']} steps: "
        + ", ".join(f"{fmt(v, 3)} (seed {s})"
                    for s, v in zip(z.seed, z.final_rel_dist_min_norm, strict=True)),
        rule=f"largest relative distance over seeds < {GD_TOL:g}",
        passed=worst < GD_TOL,
        kind="check",
        note=f"Legendre basis, M = {int(z.M.iloc[0])}, n = {cfg['n']}, step 1/σ_max²; "
        "condition numbers " + ", ".join(fmt(c, 3) for c in z.cond) + ". A theorem "
        "of linear algebra (every gradient lies in the row space of A, and GD with "
        "this step converges there): the run tests our code, not the paper.",
    )


@claim
def gd_random_start_keeps_null_component(res):
    """Lecture (the sub-space depends on the initialisation), a check: from a random w₀
    gradient descent converges to w* + P_null w₀, so its distance to w* levels off at
    ‖P_null w₀‖, which is not negligible."""
    r = _gd_legendre(res, "random")
    if not len(r):
        return None
    lim_ok = float(r.final_rel_dist_limit.max()) < GD_TOL
    plateau = np.abs(r.final_dist_min_norm - r.norm_null_start) / r.norm_min_norm
    far = bool((r.norm_null_start > 100 * GD_TOL * r.norm_min_norm).all())
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
        rule=f"relative distance to w* + P_null w₀ < {GD_TOL:g} AND "
        f"|‖w_T − w*‖ − ‖P_null w₀‖| / ‖w*‖ < {GD_TOL:g} AND ‖P_null w₀‖ is not "
        "negligible",
        passed=lim_ok and float(plateau.max()) < GD_TOL and far,
        kind="check",
        note="A theorem of linear algebra (the gradients Aᵀ(Aw − y) never touch the "
        "null space of A): the run tests our code, not the paper.",
    )


@claim
def ridge_flattens_peak(res):
    """Lecture ("optimisation + regularisation" panel; Belkin et al. 2019): for every
    λ > 0 the largest median test risk over M is below the minimum-norm fit's (λ = 0).
    Floor: each λ's best fit over M beats the constant fit (M = 1, λ = 0)."""
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
        + f"; constant fit (M = 1) {fmt(const)}",
        rule="for every λ > 0 the largest median test risk over M is below λ = 0's",
        passed=len(others) > 0 and bool((others < base).all()),
        floor=f"for every λ > 0 the best fit over M has ≤ {FLOOR_FRACTION:g} × the "
        "median test risk of the constant fit (M = 1, the training mean): a λ so "
        "large that the fit learns nothing flattens the peak trivially",
        competent=len(best) > 0 and bool((best <= FLOOR_FRACTION * const).all()),
    )
