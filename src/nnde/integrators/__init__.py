"""Time integrators: one registry ``METHODS`` and one entry point ``solve``.

Every method is a small object with ``name``, ``order``, ``stages``, ``kind`` (one of
"explicit", "implicit", "symplectic", "multistep"), ``adaptive`` and, where a scalar one
exists, ``stability_function(z)``. Look one up with ``get_method(name)``.

``solve(f, y0, t0, t1, steps=None, method="rk4", *, trajectory=False, rtol=None,
atol=None, max_steps=10_000, stats=False, compile=False)``

* ``f(t, y)`` returns dy/dt with y's shape, dtype and device; ``t`` is passed as a 0-d
  tensor of y's (real) dtype on y's device. ``y0`` is a tensor of any shape (batch
  first, by the project's convention). ``t0``/``t1`` are floats (0-d tensors are read
  with ``float()``; gradients with respect to them are not tracked); t1 < t0 integrates
  backwards.
* Fixed grid (every method; needs ``steps``): ``steps`` equal steps of h = (t1 − t0)/steps.
  Returns y(t1), or with ``trajectory=True`` a tensor of shape (steps + 1, *y0.shape)
  holding y0, y1, ..., y_steps.
* Adaptive (bosh3, dopri5 with ``steps=None``): steps chosen by the embedded error
  estimate with ``rtol``/``atol`` (defaults 1e-7 / 1e-9), at most ``max_steps`` attempted
  steps (MaxStepsError names the t where it stopped). The last step is clipped to land on
  t1. Returns y(t1), or with ``trajectory=True`` the tuple ``(ts, ys)``: the accepted
  times, shape (n + 1,), and states, shape (n + 1, *y0.shape), both starting at t0. An
  adaptive method given ``steps`` solves on the fixed grid instead (no error control;
  ``rtol``/``atol`` must then be omitted).
* Symplectic (symplectic_euler, verlet): the system is separable, q' = fq(t, p),
  p' = fp(t, q); pass ``f=(fq, fp)`` and ``y0=(q0, p0)``; the result is a pair ``(q, p)``
  (with ``trajectory=True``, a pair of stacked tensors). See ``solve_partitioned``.
* Multistep (leapfrog, leapfrog_taylor): second-order ODE Y'' = F(t, Y); pass the
  acceleration as ``f`` and Y_0 as ``y0`` (initial velocity zero; see
  ``solve_second_order`` for a non-zero one).
* ``stats=True`` returns ``(result, SolveStats)`` with nfe, accepted, rejected, t_stopped.

* ``compile=True`` (or a dict of ``torch.compile`` options ``backend``, ``mode``,
  ``dynamic``): the fixed-grid loop runs as one compiled graph (``nnde.integrators.
  compiled``: supported methods, caching and recompilation). Explicit, symplectic and
  multistep methods on a fixed grid only; adaptive solves and implicit methods raise
  ParamError naming the supported methods. Eager is the default.

``method`` may also be a method object (e.g. ``get_method("dopri5").with_options(
controller="pi")``). The solve is differentiable by plain autograd (direct backprop).
All input checks live in ``_validate``; bad input raises ParamError / UnknownNameError.
"""

from __future__ import annotations

import math
import numbers

import torch

from nnde.errors import ParamError, UnknownNameError
from nnde.integrators import compiled as _compiled
from nnde.integrators._base import Method, SolveStats
from nnde.integrators.adaptive import MaxStepsError, StepSizeError, integrate_adaptive
from nnde.integrators.explicit import TABLES, ExplicitRK
from nnde.integrators.implicit import (
    BACKWARD_EULER,
    IMPLICIT_MIDPOINT,
    ImplicitRK,
    NewtonError,
)
from nnde.integrators.symplectic import Leapfrog, StormerVerlet, SymplecticEuler
from nnde.integrators.tableau import ButcherTableau

__all__ = [
    "METHODS",
    "get_method",
    "solve",
    "solve_partitioned",
    "solve_second_order",
    "SolveStats",
    "Method",
    "ButcherTableau",
    "ExplicitRK",
    "ImplicitRK",
    "SymplecticEuler",
    "StormerVerlet",
    "Leapfrog",
    "MaxStepsError",
    "StepSizeError",
    "NewtonError",
    "KINDS",
    "names_of_kind",
]

KINDS = ("explicit", "implicit", "symplectic", "multistep")

METHODS: dict[str, Method] = {}
for _m in (
    *(ExplicitRK(t) for t in TABLES),
    ImplicitRK(BACKWARD_EULER),
    ImplicitRK(IMPLICIT_MIDPOINT),
    SymplecticEuler(),
    StormerVerlet(),
    Leapfrog("rest"),
    Leapfrog("taylor"),
):
    METHODS[_m.name] = _m
del _m


def names_of_kind(kind: str) -> list[str]:
    """Names of the registered methods of one kind (see :data:`KINDS`), e.g. the explicit
    Runge–Kutta tables a fixed-step stage may choose from."""
    if kind not in KINDS:
        raise ParamError("kind", f"is {kind!r}", ", ".join(KINDS))
    return [n for n, m in METHODS.items() if m.kind == kind]


def get_method(name: str | Method) -> Method:
    """The registered method called ``name`` (a Method object is returned unchanged)."""
    if isinstance(name, Method):
        return name
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        raise UnknownNameError("method", name, list(METHODS)) from None


# --------------------------------------------------------------------------- validation
def _check_tensor(y, key: str) -> None:
    if not isinstance(y, torch.Tensor):
        raise ParamError(key, f"must be a torch.Tensor, got {type(y).__name__}")
    if not (y.dtype.is_floating_point or y.dtype.is_complex):
        raise ParamError(key, f"must have a floating dtype, got {y.dtype}")
    if not bool(torch.isfinite(y).all()):
        raise ParamError(key, "contains NaN or inf values")


def _first_call_check(f, like: torch.Tensor, key: str):
    """Wrap f for its first call only: its output must match ``like`` (the state whose
    derivative it returns) in shape, dtype and device."""

    def checked(t, y):
        out = f(t, y)
        if not isinstance(out, torch.Tensor):
            raise ParamError(key, f"must return a tensor, got {type(out).__name__}")
        if out.dtype != like.dtype:
            raise ParamError(
                key,
                f"returned dtype {out.dtype} for a state of dtype {like.dtype}; make the "
                "field compute in the state's dtype (e.g. module.to(y0.dtype))",
            )
        if out.device != like.device:
            raise ParamError(
                key,
                f"returned a tensor on {out.device} for a state on {like.device}; move "
                "the field and the state to the same device",
            )
        if out.shape != like.shape:
            raise ParamError(
                key, f"returned shape {tuple(out.shape)}, expected {tuple(like.shape)}"
            )
        return out

    return checked


def _as_time(x, key: str) -> float:
    if isinstance(x, torch.Tensor):
        if x.numel() != 1:
            raise ParamError(key, f"must be a scalar, got a tensor of shape {tuple(x.shape)}")
        x = x.item()
    if not isinstance(x, numbers.Real) or isinstance(x, bool):
        raise ParamError(key, f"must be a real number, got {x!r}")
    x = float(x)
    if not math.isfinite(x):
        raise ParamError(key, f"must be finite, got {x}")
    return x


def _positive_int(x, key: str) -> int:
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise ParamError(key, f"must be a positive integer, got {x!r}")
    if x <= 0:
        raise ParamError(key, f"must be > 0, got {x}")
    return int(x)


def _tolerance(x, default: float, key: str) -> float:
    if x is None:
        return default
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not math.isfinite(x) or x < 0:
        raise ParamError(key, f"must be a finite number >= 0, got {x!r}")
    return float(x)


def _validate(f, y0, t0, t1, steps, method, rtol, atol, max_steps):
    """All argument checks of solve() in one place. Returns the normalised values."""
    m = get_method(method)
    t0 = _as_time(t0, "t0")
    t1 = _as_time(t1, "t1")
    if t1 == t0:
        raise ParamError("t1", f"must differ from t0 (both are {t0})")
    max_steps = _positive_int(max_steps, "max_steps")
    use_adaptive = m.adaptive and steps is None
    if steps is None:
        if not m.adaptive:
            raise ParamError("steps", f"is required for the fixed-step method {m.name!r}")
    else:
        steps = _positive_int(steps, "steps")
        if rtol is not None or atol is not None:
            raise ParamError(
                "rtol/atol",
                f"only apply to adaptive solves; method {m.name!r} was given "
                f"steps={steps} (drop steps for error control, or drop rtol/atol)",
            )
    if use_adaptive:
        rtol = _tolerance(rtol, 1e-7, "rtol")
        atol = _tolerance(atol, 1e-9, "atol")
        if rtol == 0 and atol == 0:
            raise ParamError("rtol/atol", "cannot both be 0")
    if m.kind == "symplectic":
        if not (isinstance(f, (tuple, list)) and len(f) == 2 and all(map(callable, f))):
            raise ParamError(
                "f",
                f"method {m.name!r} is for separable systems: pass f=(fq, fp) with "
                "q' = fq(t, p), p' = fp(t, q)",
            )
        if not (isinstance(y0, (tuple, list)) and len(y0) == 2):
            raise ParamError("y0", f"method {m.name!r} needs the pair y0=(q0, p0)")
        _check_tensor(y0[0], "y0[0] (q0)")
        _check_tensor(y0[1], "y0[1] (p0)")
        if y0[0].dtype != y0[1].dtype or y0[0].device != y0[1].device:
            raise ParamError("y0", "q0 and p0 must share dtype and device")
        y0 = (y0[0], y0[1])
    else:
        if not callable(f):
            raise ParamError("f", f"must be callable f(t, y), got {type(f).__name__}")
        _check_tensor(y0, "y0")
    return f, y0, t0, t1, steps, m, rtol, atol, max_steps, use_adaptive


# --------------------------------------------------------------------------- entry points
def solve(
    f,
    y0,
    t0,
    t1,
    steps=None,
    method="rk4",
    *,
    trajectory=False,
    rtol=None,
    atol=None,
    max_steps=10_000,
    stats=False,
    compile=False,
):
    """Integrate y' = f(t, y), y(t0) = y0 to t1. See the module docstring for the
    conventions of each method kind and for what is returned."""
    f, y0, t0, t1, steps, m, rtol, atol, max_steps, use_adaptive = _validate(
        f, y0, t0, t1, steps, method, rtol, atol, max_steps
    )
    opts = _compiled.options(compile)
    if opts is not None:
        _compiled.check_supported(m, use_adaptive)
        return _solve_compiled(f, y0, t0, t1, steps, m, trajectory, stats, opts)
    if use_adaptive:
        y, ts, ys, st = integrate_adaptive(
            m, f, y0, t0, t1, rtol, atol, max_steps, trajectory, _first_call_check(f, y0, "f")
        )
        if trajectory:
            tdt = torch.empty((), dtype=y0.dtype).real.dtype
            result = (torch.tensor(ts, dtype=tdt, device=y0.device), torch.stack(ys))
        else:
            result = y
        return (result, st) if stats else result

    h = (t1 - t0) / steps
    if m.kind == "symplectic":
        f_first = (
            _first_call_check(f[0], y0[0], "f[0] (fq)"),  # returns dq/dt
            _first_call_check(f[1], y0[1], "f[1] (fp)"),  # returns dp/dt
        )
    else:
        f_first = _first_call_check(f, y0, "f")
    result, nfe = m.integrate_fixed(f, y0, t0, h, steps, trajectory, f_first)
    if stats:
        return result, SolveStats(nfe=nfe, accepted=steps, rejected=0, t_stopped=t1)
    return result


def _t(t0, like):
    return torch.tensor(t0, dtype=torch.empty((), dtype=like.dtype).real.dtype,
                        device=like.device)


def _solve_compiled(f, y0, t0, t1, steps, m, trajectory, stats, opts, v0=None):
    """The fixed-grid loop of ``m`` as one compiled graph (arguments already validated)."""
    h = (t1 - t0) / steps
    fn = _compiled.compiled_solver(m, t0, h, steps, trajectory, opts, v0 is not None)
    if m.kind == "symplectic":

        def diagnose():
            t = _t(t0, y0[0])
            _first_call_check(f[1], y0[1], "f[1] (fp)")(t, y0[0])  # dp/dt from q
            _first_call_check(f[0], y0[0], "f[0] (fq)")(t, y0[1])  # dq/dt from p

        args = ((f[0], f[1]), y0)
    else:

        def diagnose():
            _first_call_check(f, y0, "f")(_t(t0, y0), y0)

        args = (f, y0) if v0 is None else (f, y0, v0)
    result, nfe = _compiled.run(fn, m, diagnose, *args)
    if stats:
        return result, SolveStats(nfe=nfe, accepted=steps, rejected=0, t_stopped=t1)
    return result


def solve_partitioned(
    fq, fp, q0, p0, t0, t1, steps, method="verlet", *, trajectory=False, stats=False,
    compile=False,
):
    """Separable partitioned system q' = fq(t, p), p' = fp(t, q) with a symplectic method.
    Same as ``solve((fq, fp), (q0, p0), ...)``; returns ``(q, p)`` at t1 (or stacked)."""
    if get_method(method).kind != "symplectic":
        raise ParamError(
            "method",
            f"{method!r} is not a symplectic method",
            ", ".join(k for k, v in METHODS.items() if v.kind == "symplectic"),
        )
    return solve((fq, fp), (q0, p0), t0, t1, steps, method, trajectory=trajectory, stats=stats,
                 compile=compile)


def solve_second_order(
    F, y0, t0, t1, steps, *, v0=None, start="rest", trajectory=False, stats=False,
    compile=False,
):
    """Y'' = F(t, Y), Y(t0) = y0, Y'(t0) = v0 (default 0), by the two-step leapfrog.

    ``start="rest"`` uses Y_{−1} = Y_0 (Haber–Ruthotto; ignores v0 and is first order
    overall), ``start="taylor"`` the second-order start Y_{−1} = Y_0 − h v0 + h²/2 F(Y_0).
    Returns Y(t1), or (steps + 1, *y0.shape) with ``trajectory=True``. ``compile`` as
    in ``solve``.
    """
    m = Leapfrog(start)
    F, y0, t0, t1, steps, m, *_ = _validate(F, y0, t0, t1, steps, m, None, None, 1)
    if v0 is not None:
        if start == "rest":
            raise ParamError("v0", "is ignored by start='rest' (Y_{-1} = Y_0); use start='taylor'")
        _check_tensor(v0, "v0")
        if v0.shape != y0.shape or v0.dtype != y0.dtype or v0.device != y0.device:
            raise ParamError("v0", "must match y0 in shape, dtype and device")
    opts = _compiled.options(compile)
    if opts is not None:
        return _solve_compiled(F, y0, t0, t1, steps, m, trajectory, stats, opts, v0)
    h = (t1 - t0) / steps
    result, nfe = m.integrate_fixed(
        F, y0, t0, h, steps, trajectory, _first_call_check(F, y0, "F"), v0=v0
    )
    if stats:
        return result, SolveStats(nfe=nfe, accepted=steps, rejected=0, t_stopped=t1)
    return result

# after solve is defined: the adjoint solves with it
from nnde.integrators.adjoint import solve_adjoint  # noqa: E402

__all__ += ["solve_adjoint"]
