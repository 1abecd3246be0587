"""Explicit Runge–Kutta tables, and the fixed-grid loop every one of them shares.

Each method is one ``ButcherTableau`` (data) wrapped in ``ExplicitRK`` (behaviour). The
names are exact: ``rk4`` is the classical 1/6-1/3-1/3-1/6 method, ``rk38`` is Kutta's
3/8 rule (a different fourth-order method, with a smaller error constant).
"""

from __future__ import annotations

import functools

import torch

from nnde.errors import ParamError
from nnde.integrators._base import Method
from nnde.integrators.tableau import ButcherTableau, scaled_coefficients

EULER = ButcherTableau(
    name="euler",
    order=1,
    c=(0.0,),
    a=((),),
    b=(1.0,),
    description="forward Euler; a residual block y + h f(y) is one step of it",
)

MIDPOINT = ButcherTableau(
    name="midpoint",
    order=2,
    c=(0.0, 0.5),
    a=((), (0.5,)),
    b=(0.0, 1.0),
    description="explicit midpoint rule (Runge's second-order method)",
)

HEUN = ButcherTableau(
    name="heun",
    order=2,
    c=(0.0, 1.0),
    a=((), (1.0,)),
    b=(0.5, 0.5),
    description="Heun's method (explicit trapezoidal rule)",
)

RK4 = ButcherTableau(
    name="rk4",
    order=4,
    c=(0.0, 0.5, 0.5, 1.0),
    a=((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)),
    b=(1 / 6, 1 / 3, 1 / 3, 1 / 6),
    description="the classical fourth-order Runge–Kutta method",
)

RK38 = ButcherTableau(
    name="rk38",
    order=4,
    c=(0.0, 1 / 3, 2 / 3, 1.0),
    a=((), (1 / 3,), (-1 / 3, 1.0), (1.0, -1.0, 1.0)),
    b=(1 / 8, 3 / 8, 3 / 8, 1 / 8),
    description="Kutta's 3/8 rule, fourth order (not the classical RK4)",
)

_BOSH3_BHAT = (7 / 24, 1 / 4, 1 / 3, 1 / 8)
BOSH3 = ButcherTableau(
    name="bosh3",
    order=3,
    error_order=2,
    fsal=True,
    c=(0.0, 0.5, 0.75, 1.0),
    a=((), (0.5,), (0.0, 0.75), (2 / 9, 1 / 3, 4 / 9)),
    b=(2 / 9, 1 / 3, 4 / 9, 0.0),
    b_err=tuple(b - bh for b, bh in zip((2 / 9, 1 / 3, 4 / 9, 0.0), _BOSH3_BHAT, strict=True)),
    description="Bogacki–Shampine 3(2) embedded pair (1989), FSAL",
)

_DOPRI5_B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
_DOPRI5_BHAT = (5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40)
DOPRI5 = ButcherTableau(
    name="dopri5",
    order=5,
    error_order=4,
    fsal=True,
    c=(0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0),
    a=(
        (),
        (1 / 5,),
        (3 / 40, 9 / 40),
        (44 / 45, -56 / 15, 32 / 9),
        (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
        (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
        _DOPRI5_B[:6],
    ),
    b=_DOPRI5_B,
    b_err=tuple(b - bh for b, bh in zip(_DOPRI5_B, _DOPRI5_BHAT, strict=True)),
    description="Dormand–Prince 5(4) embedded pair (1980), FSAL, local extrapolation",
)

TABLES = (EULER, MIDPOINT, HEUN, RK4, RK38, BOSH3, DOPRI5)


def _real_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.empty((), dtype=dtype).real.dtype if dtype.is_complex else dtype


#: grids of at most this many stage times are cached (see ``stage_times``)
_CACHED_TIMES = 4096


def _grid(t0: float, h: float, steps: int, cs: tuple, dtype, device) -> tuple:
    grid = torch.arange(steps, dtype=torch.float64)[:, None] + torch.tensor(
        cs, dtype=torch.float64)[None, :]
    return (t0 + h * grid).reshape(-1).to(dtype=dtype, device=device).unbind(0)


_cached_grid = functools.lru_cache(maxsize=32)(_grid)


def stage_times(t0: float, h: float, steps: int, cs: tuple, dtype, device) -> tuple:
    """Every stage time t0 + (n + c_i) h of a fixed-grid solve, as 0-d tensors (views of
    one tensor), in evaluation order.

    Small grids are cached: training solves on the same grid at every batch, and making
    it is half a dozen small tensor operations, which at small sizes cost as much as a
    few field evaluations. The tensors are constants (no gradient) that no field writes
    to. Under ``torch.inference_mode`` nothing is cached (inference tensors must not
    reach a later autograd graph).
    """
    if steps * len(cs) > _CACHED_TIMES or torch.is_inference_mode_enabled():
        return _grid(t0, h, steps, cs, dtype, device)
    return _cached_grid(t0, h, steps, cs, dtype, torch.device(device))


class ExplicitRK(Method):
    """An explicit Runge–Kutta method given by its table.

    ``adaptive`` is true for embedded pairs (bosh3, dopri5); their error-control options
    (used only when ``solve`` chooses the steps) are:

    controller: "standard" (h ← h·safety·err^(−1/k)) or "pi" (proportional-integral,
        h ← h·safety·err_n^(−0.7/k)·err_{n−1}^(0.4/k)), with k = error order + 1.
    safety, min_factor, max_factor: the usual safety factor and the clip on h_new/h.
    """

    kind = "explicit"

    def __init__(
        self,
        tableau: ButcherTableau,
        *,
        controller: str = "standard",
        safety: float = 0.9,
        min_factor: float = 0.2,
        max_factor: float = 10.0,
    ):
        if not tableau.explicit:
            raise ParamError("tableau", f"{tableau.name!r} is not explicit")
        if controller not in ("standard", "pi"):
            raise ParamError("controller", f"unknown controller {controller!r}", "standard, pi")
        if not 0 < safety <= 1:
            raise ParamError("safety", f"must be in (0, 1], got {safety}")
        if not 0 < min_factor < 1 < max_factor:
            raise ParamError("min_factor/max_factor", "need 0 < min_factor < 1 < max_factor")
        self.tableau = tableau
        self.name = tableau.name
        self.order = tableau.order
        self.stages = tableau.stages
        self.adaptive = tableau.embedded
        self.description = tableau.description
        self.controller = controller
        self.safety = safety
        self.min_factor = min_factor
        self.max_factor = max_factor

    def with_options(self, **options) -> ExplicitRK:
        """A copy with other error-control options, e.g. ``get_method("dopri5")
        .with_options(controller="pi")``; pass the result as ``solve(method=...)``."""
        kw = dict(
            controller=self.controller,
            safety=self.safety,
            min_factor=self.min_factor,
            max_factor=self.max_factor,
        )
        kw.update(options)
        return ExplicitRK(self.tableau, **kw)

    def stability_function(self, z):
        """R(z) = 1 + z bᵀ(I − zA)⁻¹1 of the table (a polynomial of degree ≤ s)."""
        return self.tableau.stability_function(z)

    def step(self, f, t, y, h):
        """One step y_n → y_{n+1}; ``t`` a float or 0-d tensor, ``h`` a float."""
        return self.tableau.step(f, t, y, h)[0]

    @property
    def evals_per_step(self) -> int:
        """Field evaluations per fixed-grid step (stages the solution does not use, such as
        dopri5's FSAL stage, are skipped)."""
        return len(self.tableau._needed)

    def integrate_fixed(
        self, f, y0, t0: float, h: float, steps: int, trajectory: bool, f_first,
        cache_times: bool = True,
    ):
        """``steps`` equal steps of size h from (t0, y0). Returns (y_end or stacked
        trajectory, nfe). ``f_first`` is used for the first step only (it checks f's
        output); every other call goes straight to ``f``. ``cache_times=False`` makes
        the stage times afresh instead of from the per-grid cache (the compiled path
        traces them into its graph, where the cache cannot be consulted).

        Per-solve work is done once: the h-scaled coefficient lists and all stage times
        (one tensor, unbound into 0-d views, cached per grid: ``stage_times``), so the
        loop only evaluates f and fuses ``add(x, k, alpha=c)``; nothing is read back to
        the host.
        """
        tab = self.tableau
        stage_coef, b_coef = scaled_coefficients(tab, h)
        n = len(stage_coef)
        cs = tuple(tab.c[i] for i, _ in stage_coef)
        make_times = stage_times if cache_times else _grid
        times = make_times(t0, h, steps, cs, _real_dtype(y0.dtype), y0.device)
        ks: list = [None] * tab.stages
        y = y0
        out = [y0] if trajectory else None
        fn = f_first
        idx = 0
        for _ in range(steps):
            for i, row in stage_coef:
                yi = y
                for j, coef in row:
                    yi = torch.add(yi, ks[j], alpha=coef)
                ks[i] = fn(times[idx], yi)
                idx += 1
            fn = f
            for i, coef in b_coef:
                y = torch.add(y, ks[i], alpha=coef)
            if trajectory:
                out.append(y)
        return (torch.stack(out) if trajectory else y), steps * n
