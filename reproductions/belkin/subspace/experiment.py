"""Gradient descent and ridge regression on the polynomial problem (plain numpy).

``run`` writes to ``data/belkin/subspace/``: ``config.json`` (the checked config),
``gd.csv`` (distances at log-spaced iterations), ``gd_summary.csv`` (one row per seed,
basis and start) and ``ridge.csv`` (one row per seed, M and λ)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from nnde.data.poly1d import design, sample, target  # noqa: F401  (used by tests too)
from nnde.errors import ParamError
from nnde.results import ResultsWriter
from nnde.stage import get_list, get_number, positive_float

from . import PAPER, STAGE


@dataclass(frozen=True)
class Config:
    n: int
    noise: float
    seed: int
    repeats: int
    gd_repeats: int
    gd_factor: float
    gd_iterations: int
    gd_tol: float
    gd_max_iterations: int
    init_scale: float
    max_factor: float
    lambdas: tuple[float, ...]
    test_points: int
    gd_M: int
    M_max: int

    @property
    def seeds(self) -> list[int]:
        return list(range(self.seed, self.seed + self.repeats))


def read_config(p: Mapping) -> Config:
    sec = f"{PAPER}.{STAGE}"
    n = get_number(p, "n", sec, kind=int, ge=2)
    noise = get_number(p, "noise", sec, ge=0)
    seed = get_number(p, "seed", sec, kind=int, ge=0)
    repeats = get_number(p, "repeats", sec, kind=int, ge=1)
    gd_repeats = get_number(p, "gd_repeats", sec, kind=int, ge=1)
    gd_factor = get_number(p, "gd_factor", sec, gt=1)
    gd_iterations = get_number(p, "gd_iterations", sec, kind=int, ge=1)
    gd_tol = get_number(p, "gd_tol", sec, gt=0, le=0.1)
    gd_max_iterations = get_number(p, "gd_max_iterations", sec, kind=int, ge=1)
    init_scale = get_number(p, "init_scale", sec, gt=0)
    max_factor = get_number(p, "max_factor", sec, gt=1)
    lambdas = get_list(p, "lambdas", positive_float, sec)
    test_points = get_number(p, "test_points", sec, kind=int, ge=10)
    gd_M = int(round(gd_factor * n))
    M_max = int(round(max_factor * n))
    if gd_M <= n:
        raise ParamError(f"{sec}.gd_factor", "gives M ≤ n; gradient descent needs M > n")
    return Config(n, noise, seed, repeats, gd_repeats, gd_factor, gd_iterations, gd_tol,
                  gd_max_iterations, init_scale, max_factor, tuple(lambdas), test_points,
                  gd_M, M_max)


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


#: The Legendre runs stop where the contraction bound guarantees a relative distance of
#: ``gd_tol / GD_MARGIN``: the rounding of ``w*`` and of the iterates stays far below it.
GD_MARGIN = 100.0


def contraction_steps(A, e0: float, target: float, lr: float | None = None) -> int:
    """Steps after which gradient descent on ``½‖A w − y‖²`` (step ``lr``, default
    ``1/σ_max²``) is guaranteed within ``target`` of its limit, starting ``e0`` from it.

    The error ``w_t − w_lim`` lies in the row space of ``A`` and shrinks there by at
    least ``q = 1 − lr·σ_min²`` per step (``σ_min`` the smallest non-zero singular
    value; ``q = 1 − 1/κ²`` at the default step), so ``t ≥ ln(target/e0) / ln q``
    suffices. The count follows the conditioning: a fixed count fails at a large κ."""
    s = np.linalg.svd(A, compute_uv=False)
    s = s[s > s[0] * max(A.shape) * np.finfo(float).eps]
    if lr is None:
        lr = 1.0 / s[0] ** 2
    if e0 <= target:
        return 0
    q = 1.0 - lr * s[-1] ** 2
    if q <= 0:
        return 1
    return int(math.ceil(math.log(target / e0) / math.log(q)))


def gd_experiment(n, noise, seeds, M, iterations, init_scale, tol: float = 1e-6,
                  max_iterations: int = 10_000_000):
    """Distances of gradient-descent iterates to the minimum-norm solution ``w*`` and to
    ``w* + P_null w₀``, for starts at zero and at a random ``w₀``; tidy rows, plus a
    per-run summary.

    In the Legendre basis each run takes the steps its contraction bound needs to get
    within ``tol / GD_MARGIN × ‖w*‖`` of its limit (:func:`contraction_steps`), at most
    ``max_iterations``; the monomial runs (a contrast: far too ill-conditioned to get
    there) take ``iterations`` steps."""
    rows, summary = [], []
    for seed in seeds:
        x, y = sample(n, noise, seed)
        for basis in ("legendre", "monomial"):
            A = design(x, M, basis)
            w_star = np.linalg.pinv(A) @ y
            scale = np.linalg.norm(w_star)
            s = np.linalg.svd(A, compute_uv=False)
            starts = {"zero": np.zeros(M)}
            if basis == "legendre":
                rng = np.random.default_rng(10_000 + seed)
                starts["random"] = init_scale * rng.standard_normal(M)
            for start, w0 in starts.items():
                w0_null = null_projector(A) @ w0
                w_lim = w_star + w0_null
                e0 = float(np.linalg.norm(w0 - w_lim))
                if basis == "legendre":
                    need = contraction_steps(A, e0, tol / GD_MARGIN * scale)
                    steps = max(1, min(need, max_iterations))
                else:
                    need, steps = None, iterations
                rec = checkpoints(steps)
                w, snaps = gradient_descent(A, y, w0, steps, rec)
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
                q = 1.0 - (s[-1] / s[0]) ** 2
                summary.append(
                    {
                        "seed": seed,
                        "basis": basis,
                        "start": start,
                        "M": M,
                        "cond": float(s[0] / s[-1]),
                        "iterations": int(steps),
                        "iterations_needed": math.nan if need is None else int(need),
                        "bound_rel_dist_limit": float(q ** steps * e0 / scale),
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


def run(config: Config, out: ResultsWriter) -> None:
    c = config
    out.json("config", asdict(c))
    seeds = c.seeds
    traj, gd_sum = gd_experiment(c.n, c.noise, seeds[: c.gd_repeats], c.gd_M,
                                 c.gd_iterations, c.init_scale, c.gd_tol,
                                 c.gd_max_iterations)
    out.frame("gd", traj)
    out.frame("gd_summary", gd_sum)
    out.frame("ridge", ridge_sweep(c.n, c.noise, seeds, list(range(1, c.M_max + 1)),
                                   list(c.lambdas), c.test_points))
