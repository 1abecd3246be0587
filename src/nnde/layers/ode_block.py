"""ODE block (Chen et al., 2018): the state at t = T of y' = f_θ(t, y), y(0) = input."""

from __future__ import annotations

import torch
from torch import nn

from nnde.errors import ParamError
from nnde.fields import get_field
from nnde.integrators import get_method, solve

# Our method names → torchdiffeq's for the same table (its "rk4" is the 3/8 rule, and it
# has no classical RK4).
TORCHDIFFEQ_NAMES = {
    "euler": "euler",
    "midpoint": "midpoint",
    "heun": "heun2",
    "rk38": "rk4",
    "bosh3": "bosh3",
    "dopri5": "dopri5",
}
GRADIENTS = ("direct", "adjoint")
#: who solves the adjoint: nnde's own solvers (``nnde.integrators.solve_adjoint``, any
#: explicit table) or torchdiffeq's ``odeint_adjoint`` (the reference; its tables only)
ADJOINT_BACKENDS = ("nnde", "torchdiffeq")


class _Counted(nn.Module):
    """Wraps a field and counts its evaluations, split into forward and backward pass."""

    def __init__(self, field):
        super().__init__()
        self.field = field
        self.in_forward = False
        self.nfe_forward = 0
        self.nfe_backward = 0

    def forward(self, t, y):
        if self.in_forward:
            self.nfe_forward += 1
        else:
            self.nfe_backward += 1
        return self.field(t, y)


class ODEBlock(nn.Module):
    """y(T) for y' = f(t, y), y(0) = x: a "continuous-depth" block (Chen et al., 2018).

    field: an ``nn.Module`` with ``forward(t, y)`` or a name in ``nnde.fields.FIELDS``
        (then ``field_kwargs`` build it).
    method, steps, rtol, atol, max_steps: as in ``nnde.integrators.solve``; an adaptive
        method (dopri5, bosh3) without ``steps`` chooses its own steps.
    gradient:
        ``"direct"``: backpropagate through the solver's operations (exact gradient of
        the computed solution; memory grows with the number of steps, no field
        evaluations in the backward pass, so ``nfe_backward`` stays 0).
        ``"adjoint"``: solve the adjoint ODE backwards in time (Chen et al. 2018, Alg. 1);
        memory O(1) in the number of steps, but the gradient is *approximate*: its
        error is set by the tolerances (``adjoint_rtol``/``adjoint_atol``, default the
        forward ones), not zero.
    adjoint_backend: ``"nnde"`` (:func:`nnde.integrators.solve_adjoint`, every explicit
        method; ``adjoint_norm`` picks the backward error norm, default "mixed", the
        same as torchdiffeq's) or ``"torchdiffeq"`` (its ``odeint_adjoint``, the
        reference; only methods whose table torchdiffeq also has, see
        ``TORCHDIFFEQ_NAMES``: our "rk38" is its "rk4").

    ``compile(**options)`` (direct gradient, fixed ``steps`` only) opts in to the
    compiled path: the solve runs as one ``torch.compile`` graph (``solve(...,
    compile=options)``), its evaluations counted from the fixed grid.

    Counters: ``nfe_forward`` and ``nfe_backward`` accumulate field evaluations over
    calls (the backward ones are those made while gradients are computed, i.e. after
    ``forward`` has returned); ``reset_nfe()`` zeroes them.
    Shapes: any y of the field's shape, e.g. (batch, C, H, W) → same.
    """

    def __init__(
        self,
        field,
        T=1.0,
        method="dopri5",
        steps=None,
        rtol=None,
        atol=None,
        gradient="direct",
        adjoint_rtol=None,
        adjoint_atol=None,
        max_steps=10_000,
        adjoint_backend="nnde",
        adjoint_norm="mixed",
        **field_kwargs,
    ):
        super().__init__()
        if isinstance(field, str):
            field = get_field(field, **field_kwargs)
        elif field_kwargs:
            raise ParamError("field_kwargs", "are only used when field is given by name")
        if not isinstance(field, nn.Module):
            raise ParamError("field", f"must be an nn.Module or a field name, got {type(field)}")
        if gradient not in GRADIENTS:
            raise ParamError(
                "gradient", f"unknown gradient method {gradient!r}", ", ".join(GRADIENTS)
            )
        if adjoint_backend not in ADJOINT_BACKENDS:
            raise ParamError("adjoint_backend", f"is {adjoint_backend!r}",
                             ", ".join(ADJOINT_BACKENDS))
        from nnde.integrators.adjoint import NORMS

        if adjoint_norm not in NORMS:
            raise ParamError("adjoint_norm", f"is {adjoint_norm!r}", ", ".join(NORMS))
        m = get_method(method)
        if (gradient == "adjoint" and adjoint_backend == "torchdiffeq"
                and m.name not in TORCHDIFFEQ_NAMES):
            raise ParamError(
                "method",
                f"{m.name!r} has no torchdiffeq counterpart for the adjoint",
                ", ".join(TORCHDIFFEQ_NAMES),
            )
        if m.kind != "explicit":
            raise ParamError("method", f"ODEBlock takes explicit methods, {m.name!r} is {m.kind}")
        if not float(T) > 0:
            raise ParamError("T", f"must be > 0, got {T}")
        self.func = _Counted(field)
        self.T = float(T)
        self.method = m
        self.steps = steps
        self.rtol, self.atol = rtol, atol
        self.gradient = gradient
        self.adjoint_rtol, self.adjoint_atol = adjoint_rtol, adjoint_atol
        self.max_steps = max_steps
        self.adjoint_backend, self.adjoint_norm = adjoint_backend, adjoint_norm
        self._compile = None

    def compile(self, **options):
        """Run the solve compiled (``solve``'s ``compile=`` options: ``backend``,
        ``mode``, ``dynamic``); only for ``gradient="direct"`` with fixed ``steps``.
        Returns ``self``."""
        from nnde.integrators.compiled import options as compile_options

        if self.gradient != "direct" or self.steps is None:
            raise ParamError(
                "compile",
                "needs gradient='direct' and fixed steps (the adjoint solves backwards itself, "
                "adaptive steps are data-dependent); build the block with steps=N",
            )
        self._compile = dict(compile_options(dict(options)))
        return self

    @property
    def compiled(self) -> bool:
        return self._compile is not None

    @property
    def field(self):
        return self.func.field

    @property
    def nfe_forward(self) -> int:
        return self.func.nfe_forward

    @property
    def nfe_backward(self) -> int:
        return self.func.nfe_backward

    def reset_nfe(self) -> None:
        self.func.nfe_forward = 0
        self.func.nfe_backward = 0

    def forward(self, x):
        self.func.in_forward = True
        try:
            if self._compile is not None:
                # the raw field goes into the graph; the counter is updated outside it
                y, st = solve(self.field, x, 0.0, self.T, self.steps, self.method,
                              stats=True, compile=self._compile)
                self.func.nfe_forward += st.nfe
                return y
            if self.gradient == "direct":
                return solve(
                    self.func,
                    x,
                    0.0,
                    self.T,
                    self.steps,
                    self.method,
                    rtol=self.rtol,
                    atol=self.atol,
                    max_steps=self.max_steps,
                )
            return self._adjoint(x)
        finally:
            self.func.in_forward = False

    def _adjoint(self, x):
        if self.adjoint_backend == "nnde":
            from nnde.integrators import solve_adjoint

            return solve_adjoint(self.func, x, 0.0, self.T, self.steps, self.method,
                                 rtol=self.rtol, atol=self.atol,
                                 adjoint_rtol=self.adjoint_rtol,
                                 adjoint_atol=self.adjoint_atol,
                                 adjoint_norm=self.adjoint_norm, max_steps=self.max_steps)
        from torchdiffeq import odeint_adjoint

        # validate through solve's checks without integrating: the same errors as direct
        if not isinstance(x, torch.Tensor) or not bool(torch.isfinite(x).all()):
            raise ParamError("x", "must be a finite tensor")
        rtol = 1e-7 if self.rtol is None else self.rtol
        atol = 1e-9 if self.atol is None else self.atol
        kw = dict(
            method=TORCHDIFFEQ_NAMES[self.method.name],
            rtol=rtol,
            atol=atol,
            adjoint_rtol=rtol if self.adjoint_rtol is None else self.adjoint_rtol,
            adjoint_atol=atol if self.adjoint_atol is None else self.adjoint_atol,
        )
        if self.steps is not None:
            kw["options"] = dict(step_size=self.T / self.steps)
            kw["adjoint_options"] = dict(step_size=self.T / self.steps)
        elif not self.method.adaptive:
            raise ParamError("steps", f"is required for the fixed-step method {self.method.name!r}")
        else:
            kw["options"] = dict(max_num_steps=self.max_steps)
        t = torch.tensor([0.0, self.T], dtype=x.real.dtype, device=x.device)
        return odeint_adjoint(self.func, x, t, **kw)[-1]
