"""Stability regions of the integrators and the eigenvalue statistics of the layer
Jacobians (numpy only): what one step of each scheme does to a mode z = h λ."""

from __future__ import annotations

import numpy as np

from nnde.integrators import get_method

#: Methods whose scalar test equation is the two-step recursion r² − (2 + z²) r + 1 = 0.
TWO_STEP = ("verlet", "leapfrog", "symplectic_euler")
#: An eigenvalue is "off the imaginary axis" when |Re λ| > OFF_AXIS · |λ| (about 3° away).
OFF_AXIS = 0.05
#: Relative round-off allowed where Re λ = 0 (or ≥ −γ) holds by construction.
EIG_TOL = 1e-6


def two_step_growth(z):
    """max |r| over the roots of r² − (2 + z²) r + 1 = 0: the per-step amplification of
    leapfrog (Y'' = μ Y, z² = h² μ) and of Verlet / staggered symplectic Euler on a
    linear Hamiltonian system with eigenvalues λ = ±iω (z = h λ). Equal to 1 exactly on
    the segment z ∈ i[−2, 2] (|hω| ≤ 2) and larger everywhere else."""
    z = np.asarray(z, dtype=complex)
    b = 2 + z * z
    disc = np.sqrt(b * b - 4 + 0j)
    return np.maximum(np.abs((b + disc) / 2), np.abs((b - disc) / 2))


def growth_factor(method: str, z):
    """|R(z)| for a one-step method, or the two-step growth for Verlet / leapfrog."""
    if method in TWO_STEP:
        return two_step_growth(z)
    return np.abs(get_method(method).stability_function(np.asarray(z, dtype=complex)))


def region_grid(method: str, re=(-3.5, 1.0), im=(-3.5, 3.5), n=301):
    """(X, Y, growth) on a grid of the complex plane, for contour plots of the region."""
    X, Y = np.meshgrid(np.linspace(*re, n), np.linspace(*im, n))
    with np.errstate(all="ignore"):
        return X, Y, growth_factor(method, X + 1j * Y)


def predicted_growth(method: str, hlam: np.ndarray):
    """Per point and member, the product over layers of the largest one-step factor
    max_i g(h λ_i): the linearised amplification the stability function predicts.
    Returns (log-growth (P, E), fraction of eigenvalues outside the region (E,))."""
    g = growth_factor(method, hlam)  # (N, P, E, k)
    logg = np.log(np.maximum(g.max(-1), 1e-300)).sum(0)
    return logg, (g > 1 + 1e-6).mean(axis=(0, 1, 3))


def eigen_stats(lam: np.ndarray) -> dict[str, np.ndarray]:
    """Per member, from the layer-Jacobian eigenvalues λ (N, P, E, k): the share of
    non-negligible eigenvalues (|λ| > 1e-6 · max |λ|) off the imaginary axis
    (|Re λ| > OFF_AXIS |λ|), the share with Re λ > OFF_AXIS |λ| (modes the ODE itself
    amplifies), max Re λ and max |Re λ| relative to max |λ|, and min Re λ."""
    E = lam.shape[2]
    z = np.moveaxis(lam, 2, 0).reshape(E, -1)
    mag = np.abs(z)
    top = np.maximum(mag.max(1), 1e-300)
    big = mag > 1e-6 * top[:, None]
    off = (np.abs(z.real) > OFF_AXIS * mag) & big
    pos = (z.real > OFF_AXIS * mag) & big
    n = np.maximum(big.sum(1), 1)
    return {"eig_off_axis": off.sum(1) / n, "eig_re_pos": pos.sum(1) / n,
            "eig_max_re_rel": z.real.max(1) / top,
            "eig_max_abs_re_rel": np.abs(z.real).max(1) / top,
            "eig_min_re": z.real.min(1), "eig_max_abs": top}
