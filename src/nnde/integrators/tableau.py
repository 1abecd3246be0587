"""Butcher tableaux and the one generic explicit Runge–Kutta step that serves them all.

A Runge–Kutta method with ``s`` stages is the data (A, b, c):

    k_i     = f(t + c_i h, y + h Σ_j a_ij k_j),     i = 1..s
    y_{n+1} = y + h Σ_i b_i k_i

and, for an embedded pair, error weights e = b − b̂ whose combination
h Σ_i e_i k_i estimates the local error. The table is plain, frozen, validated data;
everything else (fixed-grid loops, adaptive control, layers) reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from nnde.errors import ParamError

_TOL = 1e-12


def _square(rows: Sequence[Sequence[float]], s: int) -> tuple[tuple[float, ...], ...]:
    """Pad ragged rows (an explicit table is usually written lower-triangular) to s × s."""
    if len(rows) != s:
        raise ParamError("a", f"has {len(rows)} rows but c has {s} entries")
    out = []
    for i, row in enumerate(rows):
        if len(row) > s:
            raise ParamError("a", f"row {i} has {len(row)} entries, more than s = {s}")
        out.append(tuple(float(x) for x in row) + (0.0,) * (s - len(row)))
    return tuple(out)


@dataclass(frozen=True)
class ButcherTableau:
    """A validated Butcher table.

    Parameters
    ----------
    name, order:
        The method's name and classical order p (global error O(h^p)).
    c, a, b:
        Nodes, stage matrix (rows may be given ragged; they are padded with zeros to
        s × s) and weights.
    b_err:
        Optional embedded *error* weights e = b − b̂ (they sum to 0); ``h Σ e_i k_i``
        is the local error estimate of an embedded pair.
    error_order:
        Order of the embedded (lower-order) solution b̂.
    fsal:
        First-same-as-last: the last stage is evaluated at (t + h, y_{n+1}), so it is
        the next step's first stage.

    Validation on creation: ``Σ_j a_ij = c_i`` for every row, ``Σ b_i = 1`` and
    ``Σ e_i = 0``, all to 1e-12. ``explicit`` is true when A is strictly lower-triangular.
    """

    name: str
    order: int
    c: tuple[float, ...]
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    b_err: tuple[float, ...] | None = None
    error_order: int | None = None
    fsal: bool = False
    description: str = ""
    # Precomputed sparse coefficient lists for the generic step (not part of equality).
    _rows: tuple = field(default=(), init=False, repr=False, compare=False)
    _needed: tuple = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        s = len(self.c)
        if s == 0:
            raise ParamError("c", "must have at least one stage")
        c = tuple(float(x) for x in self.c)
        a = _square(self.a, s)
        if len(self.b) != s:
            raise ParamError("b", f"has {len(self.b)} weights but the table has {s} stages")
        b = tuple(float(x) for x in self.b)
        for i in range(s):
            if abs(sum(a[i]) - c[i]) > _TOL * max(1.0, abs(c[i])):
                raise ParamError(
                    "a", f"row {i} of {self.name!r} sums to {sum(a[i])!r}, but c[{i}] = {c[i]!r}"
                )
        if abs(sum(b) - 1.0) > _TOL:
            raise ParamError("b", f"weights of table {self.name!r} sum to {sum(b)!r}, not 1")
        b_err = None
        if self.b_err is not None:
            if len(self.b_err) != s:
                raise ParamError("b_err", f"has {len(self.b_err)} entries, expected {s}")
            b_err = tuple(float(x) for x in self.b_err)
            if abs(sum(b_err)) > _TOL:
                raise ParamError(
                    "b_err", f"error weights of table {self.name!r} sum to {sum(b_err)!r}, not 0"
                )
            if self.error_order is None:
                raise ParamError("error_order", "is required when b_err is given")
        if self.order < 1:
            raise ParamError("order", f"must be >= 1, got {self.order}")
        if self.fsal:
            fsal_ok = (
                c[-1] == 1.0
                and all(abs(a[-1][j] - b[j]) <= _TOL for j in range(s))
                and b[-1] == 0.0
            )
            if not fsal_ok:
                raise ParamError("fsal", f"{self.name!r}: last row of A must equal b and c_s = 1")
        object.__setattr__(self, "c", c)
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "b_err", b_err)
        # Sparse rows: for stage i, the (j, a_ij) with a_ij != 0.
        rows = tuple(tuple((j, a[i][j]) for j in range(s) if a[i][j] != 0.0) for i in range(s))
        object.__setattr__(self, "_rows", rows)
        # Stages that the solution needs (b_i != 0, or used by a needed stage). The FSAL
        # stage of dopri5/bosh3 is only needed for the error estimate.
        needed = {i for i in range(s) if b[i] != 0.0}
        changed = True
        while changed:  # close under "is used by a needed stage"
            changed = False
            for i in list(needed):
                for j, _ in rows[i]:
                    if j not in needed:
                        needed.add(j)
                        changed = True
        object.__setattr__(self, "_needed", tuple(sorted(needed)))

    # ------------------------------------------------------------------ properties
    @property
    def stages(self) -> int:
        return len(self.c)

    @property
    def explicit(self) -> bool:
        """True when A is strictly lower-triangular (each stage uses only earlier ones)."""
        s = self.stages
        return all(self.a[i][j] == 0.0 for i in range(s) for j in range(i, s))

    @property
    def embedded(self) -> bool:
        return self.b_err is not None

    @property
    def b_hat(self) -> tuple[float, ...] | None:
        """Weights of the embedded lower-order solution, b̂ = b − e."""
        if self.b_err is None:
            return None
        return tuple(bi - ei for bi, ei in zip(self.b, self.b_err, strict=True))

    # ------------------------------------------------------------------ stability
    def stability_function(self, z):
        """R(z) = 1 + z bᵀ (I − zA)⁻¹ 1, the factor one step multiplies y by for y' = λy,
        z = hλ. Vectorised over numpy arrays (real or complex) of any shape.

        Computed as det(I − zA + z 1 bᵀ) / det(I − zA); at poles of an implicit method
        the result is inf.
        """
        z = np.asarray(z, dtype=complex)
        s = self.stages
        A = np.asarray(self.a, dtype=float)
        b = np.asarray(self.b, dtype=float)
        ones_bT = np.outer(np.ones(s), b)
        eye = np.eye(s)
        zz = z[..., None, None]
        num = np.linalg.det(eye - zz * A + zz * ones_bT)
        den = np.linalg.det(eye - zz * A)
        with np.errstate(divide="ignore", invalid="ignore"):
            return num / den

    # ------------------------------------------------------------------ stepping
    def step(
        self,
        f: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        t: torch.Tensor | float,
        y: torch.Tensor,
        h: float,
        k1: torch.Tensor | None = None,
        all_stages: bool = False,
    ) -> tuple[torch.Tensor, list]:
        """One explicit step of this table: returns ``(y_next, ks)``.

        ``k1`` (optional) is f(t, y) if the caller already has it (FSAL). With
        ``all_stages=False`` stages that the solution does not use (the FSAL stage of an
        embedded pair) are skipped, and their slot in ``ks`` is None. Convenient for
        layers; the solve() loops use a precomputed, h-scaled variant of the same code.
        """
        if not self.explicit:
            raise ParamError("method", f"{self.name!r} is implicit; use its Newton step")
        stage_coef, b_coef = scaled_coefficients(self, h, all_stages)
        ks: list = [None] * self.stages
        return _rk_combine(f, t, y, h, self.c, stage_coef, b_coef, ks, k1), ks


def scaled_coefficients(tab: ButcherTableau, h: float, all_stages: bool = False):
    """h-scaled sparse coefficient lists, computed once per solve (not per step).

    Returns ``stage_coef``: for each stage to evaluate, ``(i, [(j, h a_ij), ...])``, and
    ``b_coef``: ``[(i, h b_i), ...]`` for the nonzero weights.
    """
    order = range(tab.stages) if all_stages else tab._needed
    stage_coef = tuple((i, tuple((j, h * aij) for j, aij in tab._rows[i])) for i in order)
    b_coef = tuple((i, h * bi) for i, bi in enumerate(tab.b) if bi != 0.0)
    return stage_coef, b_coef


def _rk_combine(f, t, y, h, c, stage_coef, b_coef, ks, k1=None):
    """Evaluate the stages into ``ks`` (a list, length s) and return y + h Σ b_i k_i.

    ``t`` may be a float or a 0-d tensor. Kept free of per-step allocation apart from the
    stage tensors themselves: combinations are chains of fused ``add(x, k, alpha=c)``.
    """
    for i, row in stage_coef:
        if i == 0 and k1 is not None:
            ks[0] = k1
            continue
        yi = y
        for j, coef in row:
            yi = torch.add(yi, ks[j], alpha=coef)
        ks[i] = f(t + c[i] * h if c[i] != 0.0 else t, yi)
    out = y
    for i, coef in b_coef:
        out = torch.add(out, ks[i], alpha=coef)
    return out
