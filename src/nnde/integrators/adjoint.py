"""The continuous adjoint (Chen et al. 2018, §2 and Algorithm 1) on nnde's own solvers.

``solve_adjoint(field, y0, t0, t1, ...)`` returns y(t1) for y' = f_θ(t, y) like
:func:`nnde.integrators.solve`, but its backward pass does not backpropagate through the
solver's operations. It solves the augmented system backwards from t1 to t0,

    y' = f(t, y),   a' = −aᵀ ∂f/∂y,   g' = −aᵀ ∂f/∂θ,
    y(t1) = y(t1) from the forward solve,  a(t1) = ∂L/∂y(t1),  g(t1) = 0,

with the same method as the forward solve (any explicit table of the registry, adaptive
or on a fixed grid), and returns a(t0) = ∂L/∂y0 and g(t0) = ∂L/∂θ. Nothing of the
forward solve is kept but y(t1), so memory does not grow with the number of steps.

The gradient is **approximate**: it is the exact gradient of the continuous problem,
computed with a solver error set by the backward tolerances (adaptive) or the step
count (fixed grid), and y is re-computed backwards rather than remembered, so even
``steps`` fixed steps do not give the gradient of the forward's discrete solution
(``gradient="direct"`` in :class:`nnde.layers.ODEBlock` does).

Error control of the backward solve (``adjoint_norm``), the one choice in which
published adjoints differ:

- ``"mixed"`` (default): the largest of the RMS norms of the scaled error of y, of a and
  of g, each over its own entries: torchdiffeq's default for its adjoint (its "mixed
  norm" over the tuple state).
- ``"seminorm"``: the same without g (Kidger, Chen and Lyons 2021, "Hey, that's not an
  ODE"): the parameters' integral does not feed back into the dynamics, so its error
  need not limit the step; fewer backward steps, the same order of gradient error.
- ``"rms"``: one RMS over every entry of (y, a, g) together, as an ODE solver treats any
  state (the 2018 paper's formulation: the augmented system is just an ODE).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from nnde.errors import ParamError
from nnde.integrators import get_method, solve
from nnde.integrators.adaptive import integrate_adaptive

NORMS = ("mixed", "seminorm", "rms")


def _segment_rms(sizes: tuple[int, ...], parts: tuple[int, ...]):
    """A norm of the flat scaled error: max over the listed segments of their RMS."""
    bounds, start = [], 0
    for n in sizes:
        bounds.append((start, start + n))
        start += n

    def norm(e: torch.Tensor) -> torch.Tensor:
        worst = e.new_zeros(()).real
        for i in parts:
            lo, hi = bounds[i]
            if hi > lo:
                worst = torch.maximum(worst, e[lo:hi].abs().square().mean().sqrt())
        return worst

    return norm


class _Adjoint(torch.autograd.Function):
    @staticmethod
    def forward(ctx, opts: dict, y0: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            y1 = solve(opts["field"], y0, opts["t0"], opts["t1"], opts["steps"],
                       opts["method"], rtol=opts["rtol"], atol=opts["atol"],
                       max_steps=opts["max_steps"])
        ctx.opts = opts
        ctx.save_for_backward(y1)
        ctx.n_params = len(params)
        return y1

    @staticmethod
    def backward(ctx, grad_y1: torch.Tensor):
        (y1,) = ctx.saved_tensors
        o = ctx.opts
        field, params = o["field"], o["params"]
        if not bool(torch.isfinite(grad_y1).all()):
            raise ParamError("adjoint", "the incoming gradient dL/dy(t1) contains NaN or "
                             "inf; find where the loss diverged (it is not the solver)")
        shape, n = y1.shape, y1.numel()
        sizes = (n, n, *(p.numel() for p in params))
        z1 = torch.cat([y1.reshape(-1), grad_y1.reshape(-1).to(y1.dtype),
                        y1.new_zeros(sum(sizes[2:]))])

        def augmented(t, z):
            y = z[:n].view(shape)
            a = z[n:2 * n].view(shape)
            with torch.enable_grad():
                y = y.detach().requires_grad_(True)
                fy = field(t, y)
                vjp = torch.autograd.grad(fy, (y, *params), grad_outputs=-a,
                                          allow_unused=True)
            parts = [fy.detach().reshape(-1)]
            parts += [torch.zeros(k, dtype=z.dtype, device=z.device) if g is None
                      else g.reshape(-1) for g, k in zip(vjp, sizes[1:], strict=True)]
            return torch.cat(parts)

        if o["adaptive"]:
            norm = {"mixed": _segment_rms((n, n, sum(sizes[2:])), (0, 1, 2)),
                    "seminorm": _segment_rms((n, n, sum(sizes[2:])), (0, 1)),
                    "rms": None}[o["adjoint_norm"]]
            z0 = integrate_adaptive(o["method"], augmented, z1, o["t1"], o["t0"],
                                    o["adjoint_rtol"], o["adjoint_atol"], o["max_steps"],
                                    False, augmented, norm=norm)[0]
        else:
            z0 = solve(augmented, z1, o["t1"], o["t0"], o["steps"], o["method"])
        a0 = z0[n:2 * n].view(shape)
        pgrads, start = [], 2 * n
        for p in params:
            pgrads.append(z0[start:start + p.numel()].view_as(p))
            start += p.numel()
        return (None, a0, *pgrads)


def solve_adjoint(
    field: nn.Module,
    y0: torch.Tensor,
    t0: float,
    t1: float,
    steps: int | None = None,
    method="dopri5",
    *,
    rtol: float | None = None,
    atol: float | None = None,
    adjoint_rtol: float | None = None,
    adjoint_atol: float | None = None,
    adjoint_norm: str = "mixed",
    max_steps: int = 10_000,
) -> torch.Tensor:
    """y(t1) of y' = field(t, y), y(t0) = y0, differentiated by the continuous adjoint.

    ``field`` is an ``nn.Module`` (``forward(t, y)``): the gradients go to its
    parameters that require them. ``steps``, ``method``, ``rtol``, ``atol`` and
    ``max_steps`` are those of :func:`nnde.integrators.solve` (explicit methods only);
    ``adjoint_rtol``/``adjoint_atol`` (default: the forward ones) and ``adjoint_norm``
    (one of ``NORMS``, see the module docstring) control the backward solve.
    Shapes: y0 any real floating tensor; returns a tensor of y0's shape."""
    if not isinstance(field, nn.Module):
        raise ParamError("field", f"must be an nn.Module (its parameters get the "
                         f"gradients), got {type(field).__name__}")
    m = get_method(method)
    if m.kind != "explicit":
        raise ParamError("method", f"the adjoint takes explicit methods, {m.name!r} is "
                         f"{m.kind}")
    if adjoint_norm not in NORMS:
        raise ParamError("adjoint_norm", f"is {adjoint_norm!r}", ", ".join(NORMS))
    if isinstance(y0, torch.Tensor) and y0.is_complex():
        raise ParamError("y0", "the adjoint takes real states (split a complex state "
                         "into real and imaginary parts)")
    adaptive = m.adaptive and steps is None
    if adaptive:
        rtol = 1e-7 if rtol is None else rtol
        atol = 1e-9 if atol is None else atol
    for key, v in (("adjoint_rtol", adjoint_rtol), ("adjoint_atol", adjoint_atol)):
        if v is not None and (not adaptive or not math.isfinite(v) or v < 0):
            raise ParamError(key, f"is {v!r}: a finite number >= 0, for adaptive solves only")
    params = tuple(p for p in field.parameters() if p.requires_grad)
    opts = dict(field=field, params=params, t0=float(t0), t1=float(t1), steps=steps,
                method=m, rtol=rtol, atol=atol, max_steps=max_steps, adaptive=adaptive,
                adjoint_rtol=rtol if adjoint_rtol is None else adjoint_rtol,
                adjoint_atol=atol if adjoint_atol is None else adjoint_atol,
                adjoint_norm=adjoint_norm)
    return _Adjoint.apply(opts, y0, *params)
