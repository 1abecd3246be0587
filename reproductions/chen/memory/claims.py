"""Chen et al. (2018), memory and adjoint gradients: the claims, judged from the memory
against solver steps and the gradient error against tolerance.

All three are checks (:data:`nnde.claims.KIND_CRITERION`): the saved-tensor counts follow
from how the gradient is built (the adjoint keeps only the block's input and output; the
direct method every stage of every step), whatever the weights, and the adjoint's error
against the tolerance is a property of the solver on an untrained field. They test our
code; they are no evidence about trained models."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nnde.claims import ClaimSet, check, fmt
from nnde.results import Results

claim = ClaimSet()


def slopes(df: pd.DataFrame, col: str = "peak_saved_MB") -> dict:
    """Least-squares slope of log(memory) against log(steps), per gradient method."""
    out = {}
    for g, d in df.groupby("gradient"):
        out[g] = float(np.polyfit(np.log(d.steps), np.log(d[col]), 1)[0])
    return out


def _steps_range(mem: pd.DataFrame) -> str:
    return f"{int(mem.steps.min())}–{int(mem.steps.max())}"


@claim
def adjoint_memory_flat(res: Results):
    """Table 1 and Sec. 2: adjoint gradients need O(1) memory in the number of solver
    steps: |log-log slope of peak saved-tensor memory vs steps| ≤ flat_slope."""
    mem, flat = res.frame("steps"), res.record("config")["flat_slope"]
    s = slopes(mem)["adjoint"]
    return check(
        "adjoint_memory_flat",
        "Adjoint gradients use memory that does not grow with the number of steps",
        paper="O(1) memory (Table 1, Sec. 2)",
        ours=f"log-log slope of peak memory vs steps ({_steps_range(mem)}): {fmt(s, 3)}",
        rule=f"|slope| ≤ {flat}",
        passed=abs(s) <= flat,
        kind="check",
        subject="adjoint gradients (nnde.integrators.solve_adjoint), untrained field",
        reference="the same block at fewer steps",
        note="A saved-tensor count of a construction: the same for any weights.",
    )


@claim
def direct_memory_linear(res: Results):
    """Table 1 (RK-Net, O(L̃)): backpropagating through the solver's operations needs
    memory linear in the steps: log-log slope ≥ linear_slope."""
    mem, linear = res.frame("steps"), res.record("config")["linear_slope"]
    s = slopes(mem)["direct"]
    return check(
        "direct_memory_linear",
        "Backpropagating through the solver uses memory growing linearly with the steps",
        paper="O(L̃) memory (RK-Net, Table 1)",
        ours=f"log-log slope of peak memory vs steps ({_steps_range(mem)}): {fmt(s, 3)}",
        rule=f"slope ≥ {linear}",
        passed=s >= linear,
        kind="check",
        subject="backpropagation through the solver's operations, untrained field",
        reference="the same block at fewer steps",
        note="A saved-tensor count of a construction: the same for any weights.",
    )


@claim
def adjoint_gradient_approximate(res: Results):
    """Sec. 2: the adjoint gradient is accurate only to the solver tolerance. Reproduced
    when its error is > 0 at every tolerance, rises with the tolerance (Spearman ρ ≥ 0.8)
    and falls over 100-fold from the loosest to the tightest; partly when it falls."""
    err = res.frame("gradient_error")
    adj = err[err.gradient == "adjoint"].sort_values("tol")
    e_tight, e_loose = float(adj.rel_error.iloc[0]), float(adj.rel_error.iloc[-1])
    rho = adj[["tol", "rel_error"]].rank().corr().iloc[0, 1]
    return check(
        "adjoint_gradient_approximate",
        "The adjoint gradient is approximate, its error set by the tolerance",
        paper="gradients accurate to the solver tolerance (Sec. 2)",
        ours=f"relative error {fmt(e_loose, 3)} at tol {fmt(adj.tol.iloc[-1])}, "
        f"{fmt(e_tight, 3)} at tol {fmt(adj.tol.iloc[0])}; Spearman ρ(tol, error) = "
        f"{fmt(rho, 3)}",
        rule="error > 0 at every tolerance, Spearman ρ(tol, error) ≥ 0.8 and "
        "error(tightest) < error(loosest) / 100",
        passed=bool((adj.rel_error > 0).all()) and rho >= 0.8 and e_tight < e_loose / 100,
        partly=e_tight < e_loose,
        kind="check",
        subject="the adjoint gradient (dopri5 at each tolerance), untrained field",
        reference="the gradient backpropagated through a dopri5 solve at the reference "
        "tolerance",
        note="A property of the solver on an untrained field, not evidence about "
        "trained models.",
    )
