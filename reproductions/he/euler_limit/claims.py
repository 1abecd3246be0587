"""The Euler-limit stage's claims. Both are checks: the net is built to be forward Euler on
a smooth ODE (first order follows from Euler's convergence theorem), and with α = 1 it
adds L bounded increments by construction. Nothing is trained; the claims test our code
and show the lecture's point, they are not evidence about a paper."""

from __future__ import annotations

import numpy as np

from nnde.claims import ClaimSet, check, fmt
from nnde.results import Results

claim = ClaimSet()


def cauchy_means(res: Results, alpha: str):
    """Mean over seeds of ‖y_next − y_L‖ per L (the largest L has no next depth)."""
    df = res.frame("distances")
    return df[(df.alpha == alpha) & df.cauchy_next.notna()].groupby("layers").cauchy_next.mean()


@claim
def euler_first_order(res: Results):
    """Lecture (ResNet layer = explicit Euler step with α = Δt): with α = T/L the net's
    output converges to the ODE flow at first order, error ∝ 1/L (log-log slope −1)."""
    s = res.frame("slopes").slope.to_numpy()
    tol = res.record("config")["slope_tolerance"]
    return check(
        "euler_first_order",
        "With α = T/L the residual net converges to the ODE flow at first order (forward "
        "Euler): error ∝ 1/L",
        paper="ResNet layer = explicit Euler step with α = Δt (lecture)",
        ours="log-log slope " + ", ".join(f"{fmt(x, 3)}" for x in s) + " (per seed)",
        rule=f"|slope + 1| ≤ {tol} for every seed; partly if for the mean slope",
        passed=bool(np.all(np.abs(s + 1) <= tol)), partly=abs(s.mean() + 1) <= tol,
        note="A check: the net is forward Euler by construction, so first order follows "
        "from Euler's convergence theorem; the measurement tests our code.",
        kind="check",
    )


@claim
def alpha_one_no_limit(res: Results):
    """Lecture (without α = T/L there is no ODE limit): with α = 1 the differences
    between successive depths do not shrink as L grows, while with α = T/L they do."""
    one, tl = cauchy_means(res, "1"), cauchy_means(res, "T/L")
    return check(
        "alpha_one_no_limit",
        "With α = 1 the outputs do not converge as L grows: the differences between "
        "successive depths do not shrink",
        paper="without α = T/L there is no ODE limit (lecture)",
        ours="α = 1: ‖y_2L − y_L‖ = " + ", ".join(f"{fmt(v, 3)} (L={L})" for L, v in one.items())
             + "; α = T/L: " + ", ".join(f"{fmt(v, 3)} (L={L})" for L, v in tl.items()),
        rule="α = 1: the Cauchy difference at the largest L ≥ the one at the smallest L, "
             "while for α = T/L it falls",
        passed=one.iloc[-1] >= one.iloc[0] and tl.iloc[-1] < tl.iloc[0],
        note="A check: with α = 1 each layer adds an increment of size O(1) by "
        "construction.",
        kind="check",
    )
