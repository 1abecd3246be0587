"""The opt-in compiled path: ``torch.compile`` over a whole fixed-grid solve.

``solve(f, y0, t0, t1, steps, method, compile=True)`` (or ``compile={"backend": ...,
"mode": ..., "dynamic": ...}``) runs the same step loop as the eager solve, captured by
``torch.compile(fullgraph=True)`` as one graph: no Python and no dispatch per step and
stage, which is what dominates eager solves at small widths (and on a GPU). The
numbers are the eager solve's up to the rounding of fused kernels.

What is compiled, and what is not
    Supported: every method whose fixed-grid loop is a fixed sequence of tensor
    operations — the explicit Runge–Kutta tables (bosh3 and dopri5 only on a fixed grid,
    i.e. with ``steps``), the symplectic methods (``symplectic_euler``, ``verlet``) and
    the two-step leapfrogs. Not supported, with an error naming the supported ones:
    adaptive solves (the controller's accept/reject is data-dependent control flow) and
    the implicit methods (their Newton iterations read residual norms back to the host).
    ``stats=True`` works (the counts of a fixed grid are known without running it).

Validation stays outside the graph
    ``solve``'s argument checks run eagerly, once per call, exactly as in eager mode.
    The check of f's output (shape, dtype, device) is traced: it costs nothing in the
    graph and runs again whenever torch re-traces; if it fails, or f cannot be captured
    as one graph (a graph break in the field), the field is evaluated once eagerly to
    name the problem (``ParamError``).

Caching and recompilation
    One compiled callable per (method, t0, t1, steps, trajectory, options): the grid
    and the h-scaled coefficients are constants of the graph, so a new grid compiles a
    new graph (at most ``CACHE_SIZE`` are kept, least recently used evicted). Within one
    entry torch re-traces when a guard fails: a new dtype or device, grad mode on/off
    (forward-only and training calls are two graphs), a field of another class, or a new
    plain function object (pass the same field module or function each call; fields of
    one class share a graph, their parameters are graph inputs). With the default
    ``dynamic=None`` a tensor size that changes compiles once more with that size
    symbolic, and later sizes reuse it (torch remembers which sizes changed per source
    function, so this carries over to other grids of the same method kind);
    ``dynamic=False`` compiles every size apart.
    After ``torch._dynamo.config.recompile_limit`` (8) graphs in one entry a further
    re-trace is an error (``ParamError``) rather than a silent fallback to eager.

Compile time is seconds to tens of seconds per graph on a CPU (it grows with the
number of field evaluations in the loop, steps × stages, and the backward graph costs
two to three times the forward one). ``nnde.bench`` measures it apart and computes the
break-even number of calls; the README gives the numbers.
"""

from __future__ import annotations

import collections
import threading

import torch

from nnde.errors import ParamError

#: options ``compile=`` accepts, passed on to ``torch.compile`` (``fullgraph`` is always
#: True: a graph break in the step loop is an error, not a silent slowdown)
OPTIONS = ("backend", "mode", "dynamic")
#: kinds of method the compiled path supports on a fixed grid
KINDS = ("explicit", "symplectic", "multistep")
#: compiled solvers kept (least recently used evicted)
CACHE_SIZE = 32

_cache: collections.OrderedDict = collections.OrderedDict()
_lock = threading.Lock()


def supported_methods() -> tuple[str, ...]:
    """The registry names the compiled path supports (adaptive ones on a fixed grid)."""
    from nnde.integrators import METHODS

    return tuple(k for k, m in METHODS.items() if m.kind in KINDS)


def check_supported(m, adaptive_solve: bool) -> None:
    """Raise ParamError unless method ``m`` on this grid can be compiled."""
    names = ", ".join(supported_methods())
    if m.kind not in KINDS:
        raise ParamError(
            "compile",
            f"does not support the {m.kind} method {m.name!r} (its Newton iterations read "
            "residuals back to the host each step); use compile=False, or one of the "
            "supported methods",
            names,
        )
    if adaptive_solve:
        raise ParamError(
            "compile",
            f"does not support adaptive solves ({m.name!r} without steps: the step-size "
            "control is data-dependent); give steps= to compile its fixed-grid loop, or "
            "use compile=False; supported methods",
            names,
        )


def options(value) -> tuple | None:
    """Normalise ``solve``'s ``compile=`` argument: None for eager, else a hashable tuple
    of (name, value) torch.compile options. Accepts False/True or a dict with keys in
    ``OPTIONS``."""
    if value is False or value is None:
        return None
    if value is True:
        value = {}
    if not isinstance(value, dict):
        raise ParamError(
            "compile", f"must be True/False or a dict of options, got {value!r}",
            ", ".join(OPTIONS),
        )
    unknown = sorted(set(value) - set(OPTIONS))
    if unknown:
        raise ParamError("compile", f"has unknown option(s) {unknown}", ", ".join(OPTIONS))
    mode = value.get("mode")
    if mode is not None and not isinstance(mode, str):
        raise ParamError("compile", f"option mode must be a string or None, got {mode!r}")
    dyn = value.get("dynamic")
    if dyn not in (None, True, False):
        raise ParamError("compile", f"option dynamic must be None, True or False, got {dyn!r}")
    return tuple(sorted(value.items(), key=lambda kv: kv[0]))


def _check_output(out, like, key):
    """f's output against the state it is the derivative of. Traced: the comparisons
    are of static metadata, so they cost nothing in the graph; a failure surfaces as a
    tracing error that ``run`` turns into the eager check's ParamError."""
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{key} must return a tensor")
    if out.shape != like.shape or out.dtype != like.dtype or out.device != like.device:
        raise ValueError(f"{key} returned a tensor unlike its state")
    return out


def _body(m, t0, h, steps, trajectory, has_v0):
    """The function that is compiled: one fixed-grid solve of ``m`` as a function of
    (f, y0[, v0]), returning (result, nfe) like ``integrate_fixed``. Each call returns a
    new function with a new code object, so that every cache entry has its own
    torch.compile cache and recompile budget (torch keys both on the code object)."""
    if m.kind == "symplectic":

        def body(f, y0):
            fq, fp = f

            def fq0(t, p):
                return _check_output(fq(t, p), y0[0], "f[0] (fq)")

            def fp0(t, q):
                return _check_output(fp(t, q), y0[1], "f[1] (fp)")

            return m.integrate_fixed(f, y0, t0, h, steps, trajectory, (fq0, fp0))

    elif m.kind == "multistep":

        def body(f, y0, v0=None):
            def first(t, y):
                return _check_output(f(t, y), y0, "f")

            return m.integrate_fixed(f, y0, t0, h, steps, trajectory, first, v0=v0)

    else:

        def body(f, y0):
            def first(t, y):
                return _check_output(f(t, y), y0, "f")

            return m.integrate_fixed(
                f, y0, t0, h, steps, trajectory, first, cache_times=False
            )

    body.__code__ = body.__code__.replace()  # a fresh code object: see the docstring
    return body


def compiled_solver(m, t0: float, h: float, steps: int, trajectory: bool, opts: tuple,
                    has_v0: bool = False):
    """The cached compiled solve for this method, grid and options."""
    key = (type(m).__name__, m.name, getattr(m, "tableau", None), t0, h, steps,
           bool(trajectory), opts, has_v0)
    with _lock:
        fn = _cache.get(key)
        if fn is not None:
            _cache.move_to_end(key)
            return fn
        fn = torch.compile(_body(m, t0, h, steps, trajectory, has_v0), fullgraph=True,
                           **dict(opts))
        _cache[key] = fn
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
        return fn


def clear_cache() -> None:
    """Drop every compiled solver (torch's own caches are left alone)."""
    with _lock:
        _cache.clear()


def cache_size() -> int:
    return len(_cache)


def run(fn, m, diagnose, *args):
    """Call the compiled solve ``fn(*args)``; a failure to capture it is diagnosed by
    ``diagnose()`` (one eager evaluation of the field with solve's output checks)."""
    from torch._dynamo import exc as dynamo_exc

    # (named FailOnCacheLimitHit before torch 2.6)
    limit_hit = getattr(dynamo_exc, "FailOnRecompileLimitHit", None) or getattr(
        dynamo_exc, "FailOnCacheLimitHit", ())
    try:
        return fn(*args)
    except limit_hit as exc:
        raise ParamError(
            "compile",
            f"{m.name!r} solve was re-traced more than torch._dynamo.config."
            "recompile_limit times (a new dtype, grad mode, field class or function object, "
            "or tensor size each time); pass the same field each call, compile "
            "with dynamic=True for changing sizes, or use compile=False",
        ) from exc
    except dynamo_exc.TorchDynamoException as exc:
        with torch.no_grad():
            diagnose()  # raises the eager ParamError when f's output is wrong
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ParamError(
            "f",
            f"cannot be compiled into one graph with the {m.name!r} loop ({first}); remove "
            "the graph break from the field (torch._dynamo.explain shows where), or use "
            "compile=False",
        ) from exc
