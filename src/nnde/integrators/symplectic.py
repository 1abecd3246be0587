"""Integrators for partitioned systems (q, p) and for second-order ODEs Y'' = F(t, Y).

Partitioned convention (used by ``solve`` for kind "symplectic"): the system is
*separable*,

    q' = fq(t, p),      p' = fp(t, q),

as for a Hamiltonian H(q, p) = T(p) + V(q) with fq = ∂T/∂p and fp = −∂V/∂q. ``f`` is
the pair ``(fq, fp)`` and the state is the pair ``(q, p)`` of tensors (any shapes). For
Haber and Ruthotto's (2017) Hamiltonian network, q = Y, p = Z, fq(Z) = σ(K Z + b) and
fp(Y) = −σ(Kᵀ Y + b).

Both methods are symplectic; Störmer–Verlet is also symmetric (time-reversible: a step
with −h undoes a step with h) and second order, so its energy error stays bounded over
exponentially long times instead of drifting (Hairer, Lubich, Wanner 2006).
"""

from __future__ import annotations

import torch

from nnde.errors import ParamError
from nnde.integrators._base import Method


def _times(t0, h, steps, offsets, like):
    dt = torch.empty((), dtype=like.dtype).real.dtype
    grid = (
        torch.arange(steps + 1, dtype=torch.float64)[:, None]
        + torch.tensor(offsets, dtype=torch.float64)[None, :]
    )
    return (t0 + h * grid).to(dtype=dt, device=like.device).unbind(0)


class SymplecticEuler(Method):
    """Symplectic Euler, momentum first (the order Haber–Ruthotto's Hamiltonian layer uses):

        p_{n+1} = p_n + h fp(t_n, q_n)
        q_{n+1} = q_n + h fq(t_n, p_{n+1})

    First order, symplectic, not symmetric. One evaluation of each part per step.
    """

    name = "symplectic_euler"
    order = 1
    stages = 1
    kind = "symplectic"
    description = "symplectic Euler (p updated first, q with the new p)"

    def step(self, f, t, state, h):
        fq, fp = f
        q, p = state
        p = p + h * fp(t, q)
        q = q + h * fq(t, p)
        return q, p

    def integrate_fixed(self, f, y0, t0, h, steps, trajectory, f_first):
        fq, fp = f
        fq0, fp0 = f_first
        q, p = y0
        times = _times(t0, h, steps, (0.0,), q)
        qs, ps = ([q], [p]) if trajectory else (None, None)
        for n in range(steps):
            t = times[n][0]
            p = torch.add(p, (fp0 if n == 0 else fp)(t, q), alpha=h)
            q = torch.add(q, (fq0 if n == 0 else fq)(t, p), alpha=h)
            if trajectory:
                qs.append(q)
                ps.append(p)
        out = (torch.stack(qs), torch.stack(ps)) if trajectory else (q, p)
        return out, 2 * steps


class StormerVerlet(Method):
    """Störmer–Verlet, kick–drift–kick form:

        p_{n+1/2} = p_n + (h/2) fp(t_n, q_n)
        q_{n+1}   = q_n + h fq(t_n + h/2, p_{n+1/2})
        p_{n+1}   = p_{n+1/2} + (h/2) fp(t_{n+1}, q_{n+1})

    Second order, symplectic and symmetric. fp(t_{n+1}, q_{n+1}) is reused as the next
    step's first kick, so a solve costs ``steps`` evaluations of fq and ``steps + 1`` of fp.
    """

    name = "verlet"
    order = 2
    stages = 2
    kind = "symplectic"
    description = "Störmer–Verlet (velocity Verlet), symmetric and symplectic"

    def step(self, f, t, state, h):
        fq, fp = f
        q, p = state
        p = p + (0.5 * h) * fp(t, q)
        q = q + h * fq(t + 0.5 * h, p)
        p = p + (0.5 * h) * fp(t + h, q)
        return q, p

    def integrate_fixed(self, f, y0, t0, h, steps, trajectory, f_first):
        fq, fp = f
        fq0, fp0 = f_first
        q, p = y0
        times = _times(t0, h, steps, (0.0, 0.5), q)
        hh = 0.5 * h
        qs, ps = ([q], [p]) if trajectory else (None, None)
        force = fp0(times[0][0], q)
        for n in range(steps):
            p = torch.add(p, force, alpha=hh)
            q = torch.add(q, (fq0 if n == 0 else fq)(times[n][1], p), alpha=h)
            force = fp(times[n + 1][0], q)
            p = torch.add(p, force, alpha=hh)
            if trajectory:
                qs.append(q)
                ps.append(p)
        out = (torch.stack(qs), torch.stack(ps)) if trajectory else (q, p)
        return out, 2 * steps + 1


class Leapfrog(Method):
    """The two-step leapfrog for the second-order ODE Y'' = F(t, Y):

        Y_{k+1} = 2 Y_k − Y_{k−1} + h² F(t_k, Y_k).

    The recursion is second order and reversible (Y_{k−1} = 2Y_k − Y_{k+1} + h² F(Y_k)),
    but it needs a start value Y_{−1}:

    * ``start="rest"``: Y_{−1} = Y_0, as in Haber and Ruthotto (2017) and Ruthotto and
      Haber (2020). For the ODE with Y'(0) = 0 this start is only first-order
      consistent (it amounts to an initial velocity h F(Y_0)/2), so the *global* error is
      O(h): ``order`` is 1.
    * ``start="taylor"``: Y_{−1} = Y_0 − h V_0 + (h²/2) F(t_0, Y_0) (V_0 the initial
      velocity, zero in ``solve``), a second-order start, hence global order 2. The
      evaluation F(t_0, Y_0) is reused by the first step.

    Convention in ``solve``: ``f`` is the acceleration F(t, Y), ``y0`` is Y_0, the result
    is Y at t1 (or the stacked Y_0..Y_N).
    """

    kind = "multistep"
    stages = 1

    def __init__(self, start: str = "rest"):
        if start not in ("rest", "taylor"):
            raise ParamError("start", f"unknown leapfrog start {start!r}", "rest, taylor")
        self.start = start
        self.name = "leapfrog" if start == "rest" else "leapfrog_taylor"
        self.order = 1 if start == "rest" else 2
        self.description = (
            "two-step leapfrog for Y'' = F(Y), start Y_{-1} = Y_0 (Haber–Ruthotto)"
            if start == "rest"
            else "two-step leapfrog for Y'' = F(Y), second-order Taylor start"
        )

    def integrate_fixed(self, f, y0, t0, h, steps, trajectory, f_first, v0=None):
        times = _times(t0, h, steps, (0.0,), y0)
        h2 = h * h
        y = y0
        out = [y0] if trajectory else None
        acc = f_first(times[0][0], y0)
        if self.start == "rest":
            y_prev = y0
        else:
            y_prev = torch.add(y0, acc, alpha=0.5 * h2)
            if v0 is not None:
                y_prev = torch.add(y_prev, v0, alpha=-h)
        for n in range(steps):
            if n > 0:
                acc = f(times[n][0], y)
            y_next = torch.add(torch.sub(2 * y, y_prev), acc, alpha=h2)
            y_prev, y = y, y_next
            if trajectory:
                out.append(y)
        return (torch.stack(out) if trajectory else y), steps
