"""The polynomial double-descent sweep: config, data, fits (plain numpy, no training).

``run`` writes to ``data/belkin/polynomial/``: ``config.json`` (the checked config),
``sweep.csv`` (one row per basis, seed and M), ``fits.csv`` and ``points.csv`` (the
lecture's fit panels on one seed and its data points) and ``target.csv`` (the noise-free
target on the panels' grid)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from nnde.data.poly1d import design, sample, target  # noqa: F401  (used by tests too)
from nnde.errors import ParamError
from nnde.results import ResultsWriter
from nnde.stage import get_list, get_number, one_of, positive_int

from . import BASES, PAPER, STAGE

#: points of the fit panels' grid on [-1, 1]
PANEL_POINTS = 400


@dataclass(frozen=True)
class Config:
    n: int
    noise: float
    max_factor: float
    seed: int
    repeats: int
    fit_panels: tuple[int, ...]
    bases: tuple[str, ...]
    test_points: int
    M_max: int

    @property
    def seeds(self) -> list[int]:
        return list(range(self.seed, self.seed + self.repeats))


def read_config(p: Mapping) -> Config:
    sec = f"{PAPER}.{STAGE}"
    n = get_number(p, "n", sec, kind=int, ge=2)
    noise = get_number(p, "noise", sec, ge=0)
    max_factor = get_number(p, "max_factor", sec, gt=1)
    seed = get_number(p, "seed", sec, kind=int, ge=0)
    repeats = get_number(p, "repeats", sec, kind=int, ge=1)
    fit_panels = get_list(p, "fit_panels", positive_int, sec)
    bases = get_list(p, "bases", one_of(BASES), sec)
    test_points = get_number(p, "test_points", sec, kind=int, ge=10)
    if "legendre" not in bases:
        raise ParamError(f"{sec}.bases", "must include 'legendre' (the claims are about it)")
    M_max = int(round(max_factor * n))
    if max(fit_panels) > M_max:
        raise ParamError(f"{sec}.fit_panels", f"has M > max_factor·n = {M_max}")
    return Config(n, noise, max_factor, seed, repeats, tuple(fit_panels), tuple(bases),
                  test_points, M_max)


def min_norm_fit(A, y):
    """Least squares for a tall ``A``; the minimum-norm solution for a wide one (both are
    ``pinv(A) @ y``, computed by one SVD)."""
    return np.linalg.lstsq(A, y, rcond=None)[0]


def sweep(n: int, noise: float, seeds: list[int], Ms: list[int], bases, test_points: int):
    """Pure computation: one row per (basis, seed, M) with train and test risk, coefficient
    norm and condition number of the training design matrix."""
    xt = np.linspace(-1.0, 1.0, test_points)
    ft = target(xt)
    Mmax = max(Ms)
    rows = []
    for basis in bases:
        T = design(xt, Mmax, basis)
        for seed in seeds:
            x, y = sample(n, noise, seed)
            A_full = design(x, Mmax, basis)
            for M in Ms:
                A = A_full[:, :M]
                w = min_norm_fit(A, y)
                s = np.linalg.svd(A, compute_uv=False)
                rows.append(
                    {
                        "basis": basis,
                        "seed": seed,
                        "M": M,
                        "train_risk": float(np.mean((A @ w - y) ** 2)),
                        "test_risk": float(np.mean((T[:, :M] @ w - ft) ** 2)),
                        "coef_norm": float(np.linalg.norm(w)),
                        "cond": float(s[0] / s[-1]),
                    }
                )
    return pd.DataFrame(rows)


def fits(n: int, noise: float, seed: int, panels, bases, points: int = PANEL_POINTS):
    """The fitted curves of the lecture's panels (one seed), tidy, and the data points."""
    x, y = sample(n, noise, seed)
    xs = np.linspace(-1.0, 1.0, points)
    rows = []
    for basis in bases:
        for M in panels:
            w = min_norm_fit(design(x, M, basis), y)
            for xv, yv in zip(xs, design(xs, M, basis) @ w, strict=True):
                rows.append((basis, M, float(xv), float(yv)))
    curves = pd.DataFrame(rows, columns=["basis", "M", "x", "y"])
    return curves, pd.DataFrame({"x": x, "y": y})


def run(config: Config, out: ResultsWriter) -> None:
    c = config
    out.json("config", asdict(c))
    Ms = list(range(1, c.M_max + 1))
    out.frame("sweep", sweep(c.n, c.noise, c.seeds, Ms, c.bases, c.test_points))
    curves, pts = fits(c.n, c.noise, c.seed, c.fit_panels, c.bases)
    out.frame("fits", curves)
    out.frame("points", pts)
    xs = np.linspace(-1, 1, PANEL_POINTS)
    out.frame("target", pd.DataFrame({"x": xs, "f": target(xs)}))
