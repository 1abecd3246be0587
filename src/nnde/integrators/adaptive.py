"""Adaptive step-size control with an embedded Runge–Kutta pair (bosh3, dopri5).

Each attempted step of size h gives the solution y_{n+1} (weights b) and the local error
estimate err = h Σ e_i k_i (error weights e = b − b̂). The step is accepted when

    ‖err‖ = sqrt( mean( (err_i / (atol + rtol·max(|y_n,i|, |y_{n+1},i|)))² ) ) ≤ 1,

the mixed relative/absolute RMS norm of Hairer, Nørsett and Wanner (1993, §II.4). The
next h comes from the controller: standard, h·safety·‖err‖^(−1/k), or PI,
h·safety·‖err_n‖^(−0.7/k)·‖err_{n−1}‖^(0.4/k) (Gustafsson 1991; k = embedded order + 1),
clipped to [min_factor, max_factor]·h, and never grown right after a rejection. The
first h follows the same book's starting-step heuristic (two field evaluations, the first
of which is reused as stage 1). With a first-same-as-last (FSAL) table the last stage of
an accepted step is the next step's first, so dopri5 costs 6 evaluations per step.

Step acceptance needs a host-side comparison, so this loop reads one scalar per attempted
step; the fixed-grid loops read none.
"""

from __future__ import annotations

import math

import torch

from nnde.errors import NndeError
from nnde.integrators._base import SolveStats


class MaxStepsError(NndeError, RuntimeError):
    """An adaptive solve used up ``max_steps`` attempted steps; ``.t`` is where it stopped."""

    def __init__(self, method: str, max_steps: int, t: float, t1: float, h: float):
        self.t = t
        super().__init__(
            f"solve({method!r}) stopped at t = {t:.6g} after max_steps = {max_steps} attempted "
            f"steps (target t1 = {t1:.6g}, last step size {h:.3g}); raise max_steps, loosen "
            "rtol/atol, or check the field for stiffness or blow-up"
        )


class StepSizeError(NndeError, RuntimeError):
    """The controller drove the step size to zero (non-finite or stiff field)."""

    def __init__(self, method: str, t: float, h: float):
        self.t = t
        super().__init__(
            f"solve({method!r}): step size {h:.3g} underflowed at t = {t:.6g}; the field is "
            "probably non-finite or very stiff there"
        )


#: a proposed step within this factor of the distance left to t1 becomes the last step
STRETCH = 1.05


def _rms(x: torch.Tensor) -> torch.Tensor:
    # mean of |x|² works for complex states as well
    return x.abs().square().mean().sqrt()


def _initial_step(f, t0, y0, f0, order, rtol, atol, direction, tdt, span, norm=_rms):
    """Hairer–Nørsett–Wanner's starting-step heuristic, in the norm of the error
    control; returns (h, nfe)."""
    scale = atol + rtol * y0.detach().abs()
    d0 = float(norm(y0.detach() / scale))
    d1 = float(norm(f0.detach() / scale))
    h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    h0 = min(h0, span)
    y1 = y0 + (direction * h0) * f0
    f1 = f(torch.tensor(t0 + direction * h0, dtype=tdt, device=y0.device), y1)
    d2 = float(norm((f1 - f0).detach() / scale)) / h0
    if max(d1, d2) <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / (order + 1))
    return min(100 * h0, h1, span), 1


def integrate_adaptive(
    method,
    f,
    y0,
    t0: float,
    t1: float,
    rtol: float,
    atol: float,
    max_steps: int,
    trajectory: bool,
    f_first,
    norm=None,
):
    """Integrate from t0 to t1 (either direction) with error control.

    ``norm(e)`` measures the scaled error estimate ``e = err / (atol + rtol·|y|)`` (a
    step is accepted when it is ≤ 1); default the RMS over every entry of the state.

    Returns ``(y1, ts, ys, stats)``: ``ts``/``ys`` are the accepted times and states
    (including t0, y0) when ``trajectory`` is true, else None. Raises MaxStepsError after
    ``max_steps`` attempted (accepted + rejected) steps.
    """
    tab = method.tableau
    s = tab.stages
    c = tab.c
    rows = tab._rows
    b_coef = tuple((i, bi) for i, bi in enumerate(tab.b) if bi != 0.0)
    e_coef = tuple((i, ei) for i, ei in enumerate(tab.b_err) if ei != 0.0)
    fsal = tab.fsal
    k = tab.error_order + 1
    safety, fmin, fmax = method.safety, method.min_factor, method.max_factor
    pi = method.controller == "pi"
    alpha, beta = (0.7 / k, 0.4 / k) if pi else (1.0 / k, 0.0)

    tdt = torch.empty((), dtype=y0.dtype).real.dtype
    dev = y0.device
    direction = 1.0 if t1 > t0 else -1.0
    span = abs(t1 - t0)
    stats = SolveStats()

    def tt(x):
        return torch.tensor(x, dtype=tdt, device=dev)

    t = t0
    y = y0
    k1 = f_first(tt(t0), y0)
    stats.nfe += 1
    h, extra = _initial_step(f, t0, y0, k1, tab.error_order, rtol, atol, direction, tdt, span,
                             _rms if norm is None else norm)
    stats.nfe += extra
    err_prev = 1.0
    ts = [t0] if trajectory else None
    ys = [y0] if trajectory else None
    ks: list = [None] * s
    grow_ok = True
    while direction * (t1 - t) > 0:
        if stats.accepted + stats.rejected >= max_steps:
            stats.t_stopped = t
            raise MaxStepsError(method.name, max_steps, t, t1, h)
        remaining = abs(t1 - t)
        # A step that would stop just short of t1 is stretched to land on it: otherwise
        # a sliver of a last step (t = 0.9993 → 1.0, say) costs a full step's stages.
        # The stretched step is error-controlled like any other (rejected if too long).
        last = h * STRETCH >= remaining
        if last:
            h = remaining
        if not h > 16 * math.ulp(max(abs(t), abs(t1), 1e-300)):  # NaN too: a non-finite field
            raise StepSizeError(method.name, t, h)
        hs = direction * h
        ks[0] = k1
        y_new = None
        for i in range(1, s):
            yi = y
            for j, aij in rows[i]:
                yi = torch.add(yi, ks[j], alpha=hs * aij)
            if fsal and i == s - 1:
                y_new = yi  # last row of A is b: this stage's input is the solution
            ks[i] = f(tt(t + c[i] * hs), yi)
        stats.nfe += s - 1
        if y_new is None:
            y_new = y
            for i, bi in b_coef:
                y_new = torch.add(y_new, ks[i], alpha=hs * bi)
        err = torch.zeros_like(y)
        for i, ei in e_coef:
            err = torch.add(err, ks[i], alpha=hs * ei)
        scale = atol + rtol * torch.maximum(y.abs(), y_new.abs())
        scaled = err.detach() / scale.detach()
        en = float(_rms(scaled) if norm is None else norm(scaled))
        if not math.isfinite(en):
            en = math.inf
        if en <= 1.0:
            stats.accepted += 1
            t = t1 if last else t + hs
            y = y_new
            if fsal:
                k1 = ks[-1]
            else:
                k1 = f(tt(t), y)
                stats.nfe += 1
            if trajectory:
                ts.append(t)
                ys.append(y)
            if en == 0.0:
                factor = fmax
            else:
                factor = safety * en ** (-alpha) * (err_prev**beta if pi else 1.0)
            factor = min(fmax, max(fmin, factor))
            if not grow_ok:
                factor = min(1.0, factor)
            grow_ok = True
            err_prev = max(en, 1e-4)
        else:
            stats.rejected += 1
            factor = fmin if en == math.inf else min(1.0, max(fmin, safety * en ** (-1.0 / k)))
            grow_ok = False
        h = h * factor
    stats.t_stopped = t
    return y, ts, ys, stats
