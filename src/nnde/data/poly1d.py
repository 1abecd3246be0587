"""The 1-D regression data of the Belkin et al. (2019) polynomial stages: a smooth target
on [-1, 1], noisy samples of it and polynomial design matrices (Legendre or monomial)."""

from __future__ import annotations

import numpy as np
from numpy.polynomial import legendre

from nnde.errors import ParamError

BASES = ("legendre", "monomial")


def target(x):
    """The smooth target on [-1, 1]."""
    return np.sin(np.pi * x) + 0.3 * np.cos(3 * np.pi * x)


def design(x, M: int, basis: str = "legendre"):
    """Design matrix ``(len(x), M)``: columns ``P_0 … P_{M-1}`` or ``1, x, …, x^{M-1}``.
    The columns are nested, so the matrix for a smaller ``M`` is a column slice."""
    x = np.asarray(x, dtype=np.float64)
    if basis == "legendre":
        return legendre.legvander(x, M - 1)
    if basis == "monomial":
        return np.vander(x, M, increasing=True)
    raise ParamError("basis", f"is {basis!r}", ", ".join(BASES))


def sample(n: int, noise: float, seed: int):
    """``n`` points uniform on [-1, 1] with Gaussian label noise of standard deviation
    ``noise``."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, n)
    return x, target(x) + noise * rng.standard_normal(n)
