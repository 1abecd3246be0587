"""Belkin et al. (2019) / the lecture: optimisation chooses the sub-space; regularisation.

Past the interpolation threshold (``M > n``) the equations ``A w = y`` have a whole
affine space of solutions ``w* + null(A)``, where ``w* = pinv(A) y`` is the one of minimum
norm. Gradient descent on ``½‖A w − y‖²`` moves only in the row space of ``A`` (every
gradient ``Aᵀ(A w − y)`` lies there), so

* started from ``w₀ = 0`` it converges to ``w*`` — the optimiser, not the loss, picks the
  minimum-norm interpolant;
* started from any ``w₀`` it converges to ``w* + P_null w₀``: the start's null-space
  component is never touched, and the distance to ``w*`` levels off at ``‖P_null w₀‖``.

Regularisation picks a solution explicitly: ridge regression
``argmin ‖A w − y‖² + λ‖w‖²`` damps the directions of small singular values, which are
what blow up at the threshold, and so flattens the double-descent peak.

The stage runs gradient descent (step ``1/σ_max²``) on the Legendre problem of the
polynomial stage at ``M = gd_factor · n`` from zero and from a random start, records the
distances over the iterations, and sweeps ridge fits over ``M`` for a few ``λ``. The same
iteration in the monomial basis is shown for contrast: its condition number makes plain
gradient descent far too slow to get there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.polynomial import legendre

from nnde.errors import ParamError
from nnde.stage import (
    StageOutputs,
    check,
    fmt,
    get_list,
    get_number,
    load_params,
    positive_float,
    run_main,
)

PAPER, STAGE = "belkin", "subspace"
#: GD "reaches" a point when the distance to it is below this fraction of ‖w*‖.
GD_TOL = 1e-6
#: Floor of the ridge comparison: each ridge strength's best fit over M has at most this
#: fraction of the test risk of the constant fit (M = 1, λ = 0: the training mean).
FLOOR_FRACTION = 0.5
#: Every claim id make_claims can produce.
CLAIM_IDS = (
    "gd_zero_reaches_min_norm",
    "gd_random_start_keeps_null_component",
    "ridge_flattens_peak",
)


# The data of the polynomial stage (tests/test_belkin.py checks the two stay identical).
def target(x):
    return np.sin(np.pi * x) + 0.3 * np.cos(3 * np.pi * x)


def design(x, M: int, basis: str = "legendre"):
    x = np.asarray(x, dtype=np.float64)
    return legendre.legvander(x, M - 1) if basis == "legendre" else np.vander(x, M, True)


def sample(n: int, noise: float, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, n)
    return x, target(x) + noise * rng.standard_normal(n)


def checkpoints(iterations: int, per_decade: int = 20) -> np.ndarray:
    """Iteration counts at which distances are recorded: 0 and log-spaced up to the end."""
    pts = np.unique(np.round(np.logspace(0, np.log10(iterations), per_decade * 6)).astype(int))
    return np.concatenate([[0], pts[pts <= iterations]])


def gradient_descent(A, y, w0, iterations: int, record, lr: float | None = None):
    """Full-batch gradient descent on ``½‖A w − y‖²`` from ``w0``; step ``1/σ_max(A)²``
    unless ``lr`` is given. Returns the final iterate and the iterates at ``record``."""
    if lr is None:
        lr = 1.0 / np.linalg.norm(A, 2) ** 2
    w = np.array(w0, dtype=np.float64)
    record = set(int(r) for r in record)
    snaps = {0: w.copy()} if 0 in record else {}
    for t in range(1, iterations + 1):
        w -= lr * (A.T @ (A @ w - y))
        if t in record:
            snaps[t] = w.copy()
    return w, snaps


def null_projector(A):
    """Orthogonal projector onto the null space of ``A``: ``I − pinv(A) A``."""
    return np.eye(A.shape[1]) - np.linalg.pinv(A) @ A


def gd_experiment(n, noise, seeds, M, iterations, init_scale):
    """Distances of gradient-descent iterates to the minimum-norm solution ``w*`` and to
    ``w* + P_null w₀``, for starts at zero and at a random ``w₀``; tidy rows, plus a
    per-run summary."""
    rec = checkpoints(iterations)
    rows, summary = [], []
    for seed in seeds:
        x, y = sample(n, noise, seed)
        for basis in ("legendre", "monomial"):
            A = design(x, M, basis)
            w_star = np.linalg.pinv(A) @ y
            scale = np.linalg.norm(w_star)
            starts = {"zero": np.zeros(M)}
            if basis == "legendre":
                rng = np.random.default_rng(10_000 + seed)
                starts["random"] = init_scale * rng.standard_normal(M)
            for start, w0 in starts.items():
                w0_null = null_projector(A) @ w0
                w_lim = w_star + w0_null
                w, snaps = gradient_descent(A, y, w0, iterations, rec)
                for t, wt in snaps.items():
                    rows.append(
                        {
                            "seed": seed,
                            "basis": basis,
                            "start": start,
                            "iteration": t,
                            "dist_min_norm": float(np.linalg.norm(wt - w_star)),
                            "dist_limit": float(np.linalg.norm(wt - w_lim)),
                            "train_mse": float(np.mean((A @ wt - y) ** 2)),
                        }
                    )
                s = np.linalg.svd(A, compute_uv=False)
                summary.append(
                    {
                        "seed": seed,
                        "basis": basis,
                        "start": start,
                        "M": M,
                        "cond": float(s[0] / s[-1]),
                        "norm_min_norm": float(scale),
                        "norm_null_start": float(np.linalg.norm(w0_null)),
                        "final_dist_min_norm": float(np.linalg.norm(w - w_star)),
                        "final_dist_limit": float(np.linalg.norm(w - w_lim)),
                        "final_rel_dist_min_norm": float(np.linalg.norm(w - w_star) / scale),
                        "final_rel_dist_limit": float(np.linalg.norm(w - w_lim) / scale),
                        "final_norm": float(np.linalg.norm(w)),
                        "final_train_mse": float(np.mean((A @ w - y) ** 2)),
                    }
                )
    return pd.DataFrame(rows), pd.DataFrame(summary)


def ridge_fit(A, y, lam: float):
    """``argmin ‖A w − y‖² + λ‖w‖²`` via the SVD; ``λ = 0`` gives ``pinv(A) y``."""
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    return _ridge_svd(U, s, Vt, y, lam, max(A.shape))


def _ridge_svd(U, s, Vt, y, lam: float, size: int):
    if lam == 0:  # the pseudo-inverse, with numpy's default cut-off
        cut = s > s[0] * size * np.finfo(float).eps
        d = np.where(cut, 1.0 / np.where(cut, s, 1.0), 0.0)
    else:
        d = s / (s**2 + lam)
    return Vt.T @ (d * (U.T @ y))


def ridge_sweep(n, noise, seeds, Ms, lambdas, test_points):
    """Test risk of ridge fits (Legendre basis) for every seed, M and λ (0 included)."""
    xt = np.linspace(-1.0, 1.0, test_points)
    ft = target(xt)
    T = design(xt, max(Ms))
    rows = []
    for seed in seeds:
        x, y = sample(n, noise, seed)
        A_full = design(x, max(Ms))
        for M in Ms:
            A = A_full[:, :M]
            U, s, Vt = np.linalg.svd(A, full_matrices=False)
            for lam in [0.0, *lambdas]:
                w = _ridge_svd(U, s, Vt, y, lam, max(A.shape))
                rows.append(
                    {
                        "seed": seed,
                        "M": M,
                        "lam": lam,
                        "test_risk": float(np.mean((T[:, :M] @ w - ft) ** 2)),
                        "train_risk": float(np.mean((A @ w - y) ** 2)),
                        "coef_norm": float(np.linalg.norm(w)),
                    }
                )
    return pd.DataFrame(rows)


def ridge_summary(df: pd.DataFrame) -> pd.DataFrame:
    g = df.groupby(["lam", "M"])["test_risk"]
    return pd.DataFrame(
        {"median": g.median(), "q25": g.quantile(0.25), "q75": g.quantile(0.75)}
    ).reset_index()


def make_claims(gd_sum: pd.DataFrame, ridge: pd.DataFrame, n: int, iterations: int):
    claims = []
    leg = gd_sum[gd_sum.basis == "legendre"]
    z = leg[leg.start == "zero"]
    if len(z):
        worst = float(z.final_rel_dist_min_norm.max())
        claims.append(
            check(
                "gd_zero_reaches_min_norm",
                "Gradient descent from w₀ = 0 converges to the minimum-norm interpolant "
                "(optimisation chooses the sub-space)",
                paper="GD from zero → minimum-norm solution (lecture; Belkin et al. 2019)",
                ours=f"‖w_T − w*‖ / ‖w*‖ after {iterations} steps: "
                + ", ".join(
                    f"{fmt(v, 3)} (seed {s})"
                    for s, v in zip(z.seed, z.final_rel_dist_min_norm, strict=True)
                ),
                rule=f"largest relative distance over seeds < {GD_TOL:g}",
                passed=worst < GD_TOL,
                kind="check",
                note=f"Legendre basis, M = {int(z.M.iloc[0])}, n = {n}, step 1/σ_max²; "
                "condition numbers " + ", ".join(fmt(c, 3) for c in z.cond) + ". A theorem "
                "of linear algebra (every gradient lies in the row space of A, and GD with "
                "this step converges there): the run tests our code, not the paper.",
            )
        )
    r = leg[leg.start == "random"]
    if len(r):
        lim_ok = float(r.final_rel_dist_limit.max()) < GD_TOL
        plateau = np.abs(r.final_dist_min_norm - r.norm_null_start) / r.norm_min_norm
        far = bool((r.norm_null_start > 100 * GD_TOL * r.norm_min_norm).all())
        claims.append(
            check(
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
        )
    if len(ridge):
        summ = ridge_summary(ridge)
        peaks = summ.groupby("lam")["median"].max()
        M_peak = summ.loc[summ[summ.lam == 0]["median"].idxmax(), "M"]
        base = float(peaks.loc[0.0])
        others = peaks.drop(index=0.0)
        one = summ[(summ.lam == 0.0) & (summ.M == 1)]["median"]
        const = float(one.iloc[0]) if len(one) else float("nan")
        best = summ[summ.lam > 0].groupby("lam")["median"].min()
        claims.append(
            check(
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
        )
    return claims


# --------------------------------------------------------------------------- figures
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def gd_figure(traj: pd.DataFrame, M: int, n: int):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    styles = [
        ("legendre", "zero", "dist_min_norm", "#0072B2", "-", "from 0: ‖w_t − w*‖"),
        ("legendre", "random", "dist_min_norm", "#D55E00", "--", "from w₀: ‖w_t − w*‖"),
        ("legendre", "random", "dist_limit", "#009E73", "-", "from w₀: ‖w_t − (w* + P_null w₀)‖"),
        ("monomial", "zero", "dist_min_norm", "0.5", ":", "monomial basis, from 0: ‖w_t − w*‖"),
    ]
    for basis, start, col, color, ls, label in styles:
        sub = traj[(traj.basis == basis) & (traj.start == start) & (traj.iteration > 0)]
        for i, (_, g) in enumerate(sub.groupby("seed")):
            ax.plot(
                g.iteration, g[col], color=color, ls=ls, lw=1.3, label=label if i == 0 else None
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("gradient-descent iteration t")
    ax.set_ylabel("distance")
    ax.set_title(
        f"Gradient descent on ½‖Aw − y‖², M = {M} > n = {n} (one line per seed)", fontsize=10
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def ridge_figure(summ: pd.DataFrame, n: int):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    lams = sorted(set(summ.lam))
    cmap = plt.get_cmap("viridis")
    for i, lam in enumerate(lams):
        s = summ[summ.lam == lam].sort_values("M")
        color = "k" if lam == 0 else cmap(i / max(1, len(lams) - 1) * 0.85)
        label = "λ = 0 (min-norm)" if lam == 0 else f"λ = {lam:g}"
        ax.plot(s.M, s["median"], color=color, lw=1.5, label=label)
        ax.fill_between(s.M, s.q25, s.q75, color=color, alpha=0.12, lw=0)
    ax.axvline(n, color="k", ls="--", lw=0.9)
    ax.set_yscale("log")
    ax.set_xlabel("number of parameters M (Legendre basis)")
    ax.set_ylabel("test risk (median, IQR band)")
    ax.set_title("Ridge regression: argmin ‖Aw − y‖² + λ‖w‖²", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- main
def read_config(p: dict) -> dict:
    sec = f"{PAPER}.{STAGE}"
    cfg = {
        "n": get_number(p, "n", sec, kind=int, ge=2),
        "noise": get_number(p, "noise", sec, ge=0),
        "seed": get_number(p, "seed", sec, kind=int, ge=0),
        "repeats": get_number(p, "repeats", sec, kind=int, ge=1),
        "gd_repeats": get_number(p, "gd_repeats", sec, kind=int, ge=1),
        "gd_factor": get_number(p, "gd_factor", sec, gt=1),
        "gd_iterations": get_number(p, "gd_iterations", sec, kind=int, ge=1),
        "init_scale": get_number(p, "init_scale", sec, gt=0),
        "max_factor": get_number(p, "max_factor", sec, gt=1),
        "lambdas": get_list(p, "lambdas", positive_float, sec),
        "test_points": get_number(p, "test_points", sec, kind=int, ge=10),
    }
    cfg["gd_M"] = int(round(cfg["gd_factor"] * cfg["n"]))
    cfg["M_max"] = int(round(cfg["max_factor"] * cfg["n"]))
    if cfg["gd_M"] <= cfg["n"]:
        raise ParamError(f"{sec}.gd_factor", "gives M ≤ n; gradient descent needs M > n")
    return cfg


def main() -> None:
    cfg = read_config(load_params(f"{PAPER}.{STAGE}"))
    n = cfg["n"]
    seeds = list(range(cfg["seed"], cfg["seed"] + cfg["repeats"]))
    traj, gd_sum = gd_experiment(
        n,
        cfg["noise"],
        seeds[: cfg["gd_repeats"]],
        cfg["gd_M"],
        cfg["gd_iterations"],
        cfg["init_scale"],
    )
    ridge = ridge_sweep(
        n, cfg["noise"], seeds, list(range(1, cfg["M_max"] + 1)), cfg["lambdas"], cfg["test_points"]
    )
    rsum = ridge_summary(ridge)
    claims = make_claims(gd_sum, ridge, n, cfg["gd_iterations"])
    with StageOutputs(PAPER, STAGE, "Optimisation chooses the sub-space; regularisation") as out:
        out.params(cfg)
        out.text(
            f"The polynomial problem of the polynomial section (n = {n}, same target, noise and "
            f"seeds) in the Legendre basis with M = {cfg['gd_M']} > n coefficients. "
            "Gradient descent on ½‖Aw − y‖² with step 1/σ_max(A)², "
            f"{cfg['gd_iterations']} iterations, from w₀ = 0 and from a random "
            f"w₀ ~ N(0, {cfg['init_scale']:g}² I). w* = pinv(A) y is the minimum-norm "
            "interpolant, P_null = I − pinv(A) A the projector onto the null space of A. "
            "Gradients Aᵀ(Aw − y) lie in the row space of A, so the null-space part of the "
            "start never changes.\n\n"
            "Ridge: argmin ‖Aw − y‖² + λ‖w‖² (via the SVD) for "
            + ", ".join(f"λ = {lam:g}" for lam in cfg["lambdas"])
            + f", against λ = 0 (the minimum-norm fit), {len(seeds)} seeds."
        )
        out.csv(f"{STAGE}_gd", traj)
        out.csv(
            f"{STAGE}_gd_summary",
            gd_sum,
            show=True,
            caption="Gradient descent: final distances (absolute and relative to ‖w*‖)",
        )
        out.csv(f"{STAGE}_ridge", ridge)
        out.figure(
            "gd",
            gd_figure(traj, cfg["gd_M"], n),
            "Distance of the gradient-descent iterates to the minimum-norm interpolant "
            "w* and to w* + P_null w₀. In the monomial basis (grey) the same iteration "
            "is slowed by the condition number.",
        )
        out.figure(
            "ridge",
            ridge_figure(rsum, n),
            "Test risk against M for ridge regularisation of several strengths λ; "
            "the dashed line marks M = n.",
        )
        peaks = rsum.groupby("lam")["median"].max()
        leg = gd_sum[gd_sum.basis == "legendre"]
        mono = gd_sum[gd_sum.basis == "monomial"]
        metrics = {
            "gd.zero.max_rel_dist_min_norm": float(
                leg[leg.start == "zero"].final_rel_dist_min_norm.max()
            ),
            "gd.random.max_rel_dist_limit": float(
                leg[leg.start == "random"].final_rel_dist_limit.max()
            ),
            "gd.random.min_rel_dist_min_norm": float(
                leg[leg.start == "random"].final_rel_dist_min_norm.min()
            ),
            "gd.monomial.zero.min_rel_dist_min_norm": float(mono.final_rel_dist_min_norm.min()),
            **{f"ridge.peak_test_risk.lam{lam:g}": float(v) for lam, v in peaks.items()},
        }
        out.metrics(metrics)
        out.claims(claims)


if __name__ == "__main__":
    run_main(main, f"{PAPER}.{STAGE}")
