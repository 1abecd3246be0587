"""Diagnostics of stability: measured growth constants, Jacobian spectra, stability regions.

* ``stability_constant(phi, x)``: the measured M in ‖Φ(a) − Φ(b)‖ ≤ M ‖a − b‖ (Haber and
  Ruthotto, 2017; Ruthotto and Haber, 2020), for any callable Φ on a batch.
* ``jacobian`` / ``jacobian_spectrum``: the per-example Jacobian of a layer step, a field
  or a whole flow map, and its eigenvalues or singular values.
* ``stability_region(method)``: |R(hλ)| on a grid of the complex plane, for contour plots
  of {z : |R(z)| ≤ 1}; ``real_stability_limit(method)``: where the region meets the
  negative real axis (−2 for Euler, ≈ −2.785 for RK4).

Tensors are batch first; "per example" means over all non-batch dimensions, flattened.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from nnde.errors import ParamError


def _row_norms(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1).norm(dim=1)


def pairwise_ratios(x, y) -> torch.Tensor:
    """‖y_a − y_b‖ / ‖x_a − x_b‖ for every pair of distinct rows a < b (rows with
    x_a = x_b are skipped); ``x`` are inputs and ``y`` the matching outputs (array-likes)."""
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    dtype = torch.promote_types(x.dtype, y.dtype)
    x, y = x.to(dtype), y.to(dtype)
    xf, yf = x.reshape(x.shape[0], -1), y.reshape(y.shape[0], -1)
    i, j = torch.triu_indices(x.shape[0], x.shape[0], offset=1)
    dx = (xf[i] - xf[j]).norm(dim=1)
    keep = dx > 0
    return (yf[i] - yf[j]).norm(dim=1)[keep] / dx[keep]


def stability_constant(
    phi: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    eps: float = 1e-4,
    n_perturbations: int = 8,
    pairs: str = "perturb",
    seed: int = 0,
    return_ratios: bool = False,
):
    """Measured stability constant M = max ‖Φ(a) − Φ(b)‖ / ‖a − b‖.

    pairs="perturb": b = a + δ for every input a (a row of ``x``) and ``n_perturbations``
        random δ of norm ``eps``·max(1, ‖a‖) — a local (linearised) growth factor.
    pairs="all": all pairs of distinct rows of ``x`` — a global one.

    Norms are Euclidean over each example's flattened entries. Φ is called on batches and
    evaluated under ``torch.no_grad()``. Returns M as a float, or with ``return_ratios``
    also the tensor of all ratios.
    """
    if not isinstance(x, torch.Tensor) or x.dim() < 1 or x.shape[0] < 1:
        raise ParamError("x", "must be a batch tensor (batch, ...)")
    if pairs not in ("perturb", "all"):
        raise ParamError("pairs", f"unknown mode {pairs!r}", "perturb, all")
    with torch.no_grad():
        if pairs == "all":
            if x.shape[0] < 2:
                raise ParamError("x", "needs at least 2 examples for pairs='all'")
            ratios = pairwise_ratios(x, phi(x))
        else:
            if not eps > 0 or n_perturbations < 1:
                raise ParamError("eps/n_perturbations", "need eps > 0 and n_perturbations >= 1")
            g = torch.Generator(device="cpu").manual_seed(seed)
            reps = x.repeat_interleave(n_perturbations, dim=0)
            d = torch.randn(reps.shape, generator=g, dtype=x.real.dtype).to(x.device, x.dtype)
            scale = eps * torch.clamp(_row_norms(reps), min=1.0) / _row_norms(d)
            d = d * scale.reshape(-1, *([1] * (x.dim() - 1)))
            y0 = phi(x).repeat_interleave(n_perturbations, dim=0)
            y1 = phi(reps + d)
            ratios = _row_norms(y1 - y0) / _row_norms(d)
    M = float(ratios.max())
    return (M, ratios) if return_ratios else M


def jacobian(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Per-example Jacobians of a batch map ``fn`` at the rows of ``x``: a tensor
    (batch, n_out, n_in) with n the flattened per-example sizes.

    Uses ``torch.func.vmap(jacrev(...))`` on fn applied to single examples (fn must
    treat examples independently, as layers do outside batch norm); falls back to a
    loop with ``torch.autograd.functional.jacobian`` if fn cannot be vmapped.
    """
    shape = x.shape[1:]

    def single(v):
        return fn(v.reshape(1, *shape)).reshape(-1)

    flat = x.reshape(x.shape[0], -1)
    try:
        J = torch.func.vmap(torch.func.jacrev(single))(flat)
    except (RuntimeError, NotImplementedError, ValueError):
        J = torch.stack([torch.autograd.functional.jacobian(single, v) for v in flat])
    return J.detach()


def jacobian_spectrum(fn, x: torch.Tensor, kind: str = "eig") -> torch.Tensor:
    """Eigenvalues (``kind="eig"``, complex, (batch, n); needs n_out = n_in) or singular
    values (``kind="svd"``, real, descending) of the per-example Jacobian of ``fn``.

    For a field f at time t pass ``lambda y: f(t, y)``; for one layer step of a stack
    ``lambda y: net.step(k, y)``; for the whole flow map the stack itself.
    """
    J = jacobian(fn, x)
    if kind == "eig":
        if J.shape[1] != J.shape[2]:
            raise ParamError("kind", "eigenvalues need a square Jacobian; use kind='svd'")
        return torch.linalg.eigvals(J)
    if kind == "svd":
        return torch.linalg.svdvals(J)
    raise ParamError("kind", f"unknown spectrum kind {kind!r}", "eig, svd")


def stability_region(method, re=(-5.0, 1.0), im=(-4.0, 4.0), n=201):
    """|R(z)| of ``method`` (a name or method object) on an n × n grid of z = x + iy.

    Returns ``(X, Y, absR)``, numpy arrays of shape (n, n) ready for
    ``plt.contour(X, Y, absR, levels=[1])``; the stability region is ``absR <= 1``.
    """
    from nnde.integrators import get_method

    m = get_method(method)
    if m.stability_function is None:
        raise ParamError("method", f"{m.name!r} ({m.kind}) has no scalar stability function")
    xs = np.linspace(re[0], re[1], n)
    ys = np.linspace(im[0], im[1], n)
    X, Y = np.meshgrid(xs, ys)
    with np.errstate(all="ignore"):
        absR = np.abs(m.stability_function(X + 1j * Y))
    return X, Y, absR


def real_stability_limit(method, lo=-100.0, tol=1e-12) -> float:
    """The most negative x such that |R(s)| ≤ 1 for all s in [x, 0] (bisection on the
    first crossing, found by scanning from 0 down to ``lo``); −inf if none is found
    (A-stable along the axis)."""
    from nnde.integrators import get_method

    m = get_method(method)
    if m.stability_function is None:
        raise ParamError("method", f"{m.name!r} ({m.kind}) has no scalar stability function")
    grid = np.linspace(0.0, lo, 100_001)[1:]
    bad = np.abs(m.stability_function(grid)) > 1 + 1e-14
    if not bad.any():
        return float("-inf")
    k = int(np.argmax(bad))
    a, b = (grid[k - 1] if k > 0 else 0.0), grid[k]  # |R(a)| ≤ 1 < |R(b)|
    while abs(a - b) > tol:
        mid = 0.5 * (a + b)
        if abs(m.stability_function(np.array(mid))) > 1 + 1e-14:
            b = mid
        else:
            a = mid
    return float(a)
