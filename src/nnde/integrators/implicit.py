"""One-stage implicit Runge–Kutta methods solved by Newton's method.

Backward Euler (A = [1], b = [1], c = [1]) and the implicit midpoint rule (A = [1/2],
b = [1], c = [1/2]) share one scheme: find the stage value Y with

    G(Y) = Y − y_n − h a f(t_n + c h, Y) = 0,       then  y_{n+1} = y_n + (b/a)(Y − y_n)

(so no extra field evaluation is needed for y_{n+1}). Newton's iteration on the flattened
state uses the exact Jacobian ∂G/∂Y = I − h a ∂f/∂y (reverse-mode autograd) and a dense
LU solve, so it is meant for small states (n up to a few thousand). For a linear field one
Newton step lands on the exact stage value; a second iteration confirms convergence.

The iterations are ordinary torch operations, so gradients flow through them by plain
autograd; the Jacobian is held constant there (once the iteration has converged its
derivative multiplies G(Y) = 0), which yields the implicit-function-theorem gradient.
"""

from __future__ import annotations

import torch

from nnde.errors import NndeError, ParamError
from nnde.integrators._base import Method
from nnde.integrators.tableau import ButcherTableau


class NewtonError(NndeError, RuntimeError):
    """Newton's iteration for an implicit stage did not converge."""


BACKWARD_EULER = ButcherTableau(
    name="backward_euler",
    order=1,
    c=(1.0,),
    a=((1.0,),),
    b=(1.0,),
    description="backward (implicit) Euler, L-stable",
)

IMPLICIT_MIDPOINT = ButcherTableau(
    name="implicit_midpoint",
    order=2,
    c=(0.5,),
    a=((0.5,),),
    b=(1.0,),
    description="implicit midpoint rule, A-stable, symplectic and symmetric",
)


def _jacobian(fun, x, differentiable: bool):
    """∂fun/∂x for a flat x: row-by-row reverse mode for small states (no start-up cost),
    vectorised (vmap) beyond 64 entries. ``differentiable`` keeps its graph."""
    if not differentiable:
        x = x.detach()
    return torch.autograd.functional.jacobian(
        fun, x, create_graph=differentiable, vectorize=x.numel() > 64
    )


class ImplicitRK(Method):
    """A one-stage implicit Runge–Kutta method (Newton-solved stage).

    newton: ``"simplified"`` (default) evaluates the Jacobian once per step, at y_n, and
        reuses its LU factors for every iteration (linear convergence at rate O(h), one
        Jacobian per step); ``"full"`` re-evaluates it every iteration (quadratic
        convergence). Both take the exact solution in one iteration for a linear field.
    newton_tol: stop when max|ΔY| ≤ newton_tol·(1 + max|Y|);
    newton_max_iter: raise NewtonError after this many iterations without convergence
        (with ``newton_max_iter=1`` a single Newton step is taken and accepted unchecked).

    ``SolveStats.nfe`` counts field values plus Jacobian evaluations.
    """

    kind = "implicit"
    stages = 1

    def __init__(
        self,
        tableau: ButcherTableau,
        *,
        newton: str = "simplified",
        newton_tol: float = 1e-12,
        newton_max_iter: int = 50,
    ):
        if tableau.stages != 1 or tableau.a[0][0] == 0.0:
            raise ParamError("tableau", f"{tableau.name!r} is not a one-stage implicit table")
        if newton not in ("simplified", "full"):
            raise ParamError("newton", f"unknown Newton variant {newton!r}", "simplified, full")
        if newton_tol <= 0 or newton_max_iter < 1:
            raise ParamError("newton_tol/newton_max_iter", "must be > 0 and >= 1")
        self.tableau = tableau
        self.name = tableau.name
        self.order = tableau.order
        self.description = tableau.description
        self.newton = newton
        self.newton_tol = newton_tol
        self.newton_max_iter = newton_max_iter
        self._a = tableau.a[0][0]
        self._c = tableau.c[0]
        self._ratio = tableau.b[0] / tableau.a[0][0]

    def with_options(self, **options) -> ImplicitRK:
        kw = dict(
            newton=self.newton, newton_tol=self.newton_tol, newton_max_iter=self.newton_max_iter
        )
        kw.update(options)
        return ImplicitRK(self.tableau, **kw)

    def stability_function(self, z):
        """R(z) = (1 + (b − a) z) / (1 − a z): 1/(1 − z) for backward Euler,
        (1 + z/2)/(1 − z/2) for the implicit midpoint rule."""
        return self.tableau.stability_function(z)

    def step(self, f, t, y, h):
        return self._step(f, t, y, h)[0]

    def _step(self, f, t, y, h):
        """Returns (y_next, nfe)."""
        shape = y.shape
        ha = h * self._a
        tdt = torch.empty((), dtype=y.dtype).real.dtype
        tc = torch.as_tensor(t + self._c * h, dtype=tdt, device=y.device)
        n = y.numel()
        eye = torch.eye(n, dtype=y.dtype, device=y.device)
        y_flat = y.reshape(-1)

        def field(v):
            return f(tc, v.reshape(shape)).reshape(-1)

        Y = y_flat
        nfe = 0
        lu = None
        # Converged iterations give the implicit-function-theorem gradient with J held
        # constant (its derivative multiplies G(Y) → 0); a single unchecked iteration
        # needs J's own derivative.
        keep_graph = self.newton_max_iter == 1 and torch.is_grad_enabled()
        for _ in range(self.newton_max_iter):
            fY = field(Y)
            nfe += 1
            if lu is None or self.newton == "full":
                J = _jacobian(field, Y, keep_graph)
                nfe += 1
                lu = torch.linalg.lu_factor(eye - ha * J)
            G = Y - y_flat - ha * fY
            delta = torch.linalg.lu_solve(*lu, G.unsqueeze(-1)).squeeze(-1)
            Y = Y - delta
            if self.newton_max_iter == 1:
                break
            d = float(delta.detach().abs().max())
            if d != d:  # NaN
                raise NewtonError(f"{self.name}: Newton produced NaN at t = {float(t):.6g}")
            if d <= self.newton_tol * (1.0 + float(Y.detach().abs().max())):
                break
        else:
            raise NewtonError(
                f"{self.name}: Newton did not converge in {self.newton_max_iter} iterations "
                f"at t = {float(t):.6g} (last |dY| = {d:.3g}); reduce the step size"
            )
        y_next = y_flat + self._ratio * (Y - y_flat)
        return y_next.reshape(shape), nfe

    def integrate_fixed(self, f, y0, t0, h, steps, trajectory, f_first):
        y = y0
        out = [y0] if trajectory else None
        nfe = 0
        for n in range(steps):
            y, k = self._step(f_first if n == 0 else f, t0 + n * h, y, h)
            nfe += k
            if trajectory:
                out.append(y)
        return (torch.stack(out) if trajectory else y), nfe
