"""The workload catalog: the one list of benchmarks that asv, pytest-benchmark, the
regression gate and the report all read.

A workload is a point in the grid

    integrator × problem × size × pass × device

* **integrator**: every name in ``nnde.integrators.METHODS`` (found from the registry,
  so a new method is benchmarked without editing this file), plus torchdiffeq's
  ``euler``, ``midpoint``, ``rk4`` and ``dopri5`` as peers, spelled ``torchdiffeq.<name>``.
  torchdiffeq's ``rk4`` is Kutta's 3/8 rule: its same-table peer is our ``rk38``; our
  classical ``rk4`` is compared with it for speed only (outputs differ at O(h⁵)).
  And the *hand-written loops* ``loop.<name>`` (``LOOPS``): for each fixed-step explicit
  table, a plain Python ``for`` loop of the same Butcher table written out by hand in
  this file, calling the same field module — no library code. ``ours ÷ loop`` is the
  integrator overhead: what the generic engine (validation, table-driven stages) costs
  over the shortest code that computes the same numbers (``loop_pairs``).
  And the *compiled* solves ``compiled.<name>`` (``COMPILED``): our solve of the same
  method with ``compile=COMPILE_OPTIONS`` (one ``torch.compile`` graph per case). They
  cost seconds of compilation per case, so ``integrators()`` lists them only when asked
  (``compiled=True``) and the default grids leave them out; ``compiled_quads`` pairs
  each with eager, its loop and its torchdiffeq peer (``nnde.bench.compiled``).
* **problem**: a vector field or a layer — ``dense`` σ(Ky+b), ``antisymmetric``
  σ((K−Kᵀ−γI)y+b), ``hamiltonian`` (the Haber–Ruthotto pair on [y, z]),
  ``symmetric_conv`` −Kᵀσ(KY+b) with a 3×3 convolution, and the Neural-ODE block
  ``ode_block_direct`` / ``ode_block_adjoint`` (``nnde.layers.ODEBlock``; ours is nnde's
  continuous adjoint, ``nnde.integrators.solve_adjoint``, the torchdiffeq peer its
  ``odeint_adjoint`` at the same tolerance or step count).
* **size**: ``SIZES`` (width, batch, steps); the grids asv and pytest parametrise over
  use ``DEFAULT_SIZES``.
* **pass**: ``forward`` (under ``torch.no_grad``, inference throughput) or ``backward``
  (forward + ``loss.backward()`` with gradients for the input and the field's weights).
* **device**: ``cpu``, or ``cuda`` when a GPU is visible (skipped otherwise).

Invalid combinations are *skipped with a reason*, never replaced by something else:
``skip_reason(case)`` says why (e.g. a symplectic method needs a separable system, the
hand-written loops integrate a field, not the ODE block). ``build(case)`` raises ``Skip`` (a
``NotImplementedError``, which asv reads as "skipped") for them.

Fixed-step methods take ``steps`` equal steps on [0, T]; adaptive methods (``bosh3``,
``dopri5`` and torchdiffeq's ``dopri5``) choose their own steps at ``RTOL``/``ATOL``.
Implicit methods form the dense Jacobian of the whole batch in their Newton solve, so
they run on ``IMPLICIT_BATCH`` examples, in float64 (float32 cannot meet their Newton
tolerance). Everything is seeded (``SEED``): the same case builds the same tensors.

This module imports only ``torch``, ``torchdiffeq`` and the library's registries
(``nnde.integrators``, ``nnde.fields``, ``nnde.layers``) — never ``nnde.bench`` — so the
regression gate can load it beside an older checkout of the library.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import torch

T_END = 1.0
RTOL, ATOL = 1e-6, 1e-8
SEED = 0
IMPLICIT_BATCH = 4

PEERS = ("torchdiffeq.euler", "torchdiffeq.midpoint", "torchdiffeq.rk4", "torchdiffeq.dopri5")
# our method → torchdiffeq peer on the same problem; ``same_table`` pairs must agree.
PEER_OF = {
    "euler": "torchdiffeq.euler",
    "midpoint": "torchdiffeq.midpoint",
    "rk4": "torchdiffeq.rk4",
    "rk38": "torchdiffeq.rk4",
    "dopri5": "torchdiffeq.dopri5",
}
SAME_TABLE = {"euler", "midpoint", "rk38", "dopri5"}
# our fixed-step explicit method → its hand-written loop (same table, written out below)
LOOP_OF = {
    "euler": "loop.euler",
    "midpoint": "loop.midpoint",
    "heun": "loop.heun",
    "rk4": "loop.rk4",
    "rk38": "loop.rk38",
}
LOOPS = tuple(LOOP_OF.values())
# our fixed-step methods the compiled path supports → their compiled case name
COMPILED_OF = {
    m: f"compiled.{m}"
    for m in ("euler", "midpoint", "heun", "rk4", "rk38", "symplectic_euler", "verlet",
              "leapfrog", "leapfrog_taylor")
}
COMPILED = tuple(COMPILED_OF.values())
#: how the compiled cases compile: every case its own static graph (what a user with one
#: model and one batch size gets); the backend is torch's default (inductor)
COMPILE_OPTIONS = {"dynamic": False}

FIELD_PROBLEMS = ("dense", "antisymmetric", "hamiltonian", "symmetric_conv")
BLOCK_PROBLEMS = ("ode_block_direct", "ode_block_adjoint")
PROBLEMS = FIELD_PROBLEMS + BLOCK_PROBLEMS
PASSES = ("forward", "backward")
DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class Size:
    width: int
    batch: int
    steps: int


# steps are powers of two so that torchdiffeq's step_size grid lands exactly on T.
# w16..w256: the width sweep of the compiled benchmarks (batch and steps of "small").
SIZES = {
    "small": Size(width=32, batch=64, steps=8),
    "medium": Size(width=64, batch=128, steps=16),
    "large": Size(width=512, batch=256, steps=8),
    **{f"w{w}": Size(width=w, batch=64, steps=8) for w in (16, 32, 64, 128, 256)},
}
DEFAULT_SIZES = ("small",)


def integrators(compiled: bool = False) -> tuple[str, ...]:
    """Every registered method, then the torchdiffeq peers, then the hand-written loops
    (and, with ``compiled=True``, the compiled solves)."""
    from nnde.integrators import METHODS

    return tuple(METHODS) + PEERS + LOOPS + (COMPILED if compiled else ())


def is_peer(name: str) -> bool:
    return name.startswith("torchdiffeq.")


def is_loop(name: str) -> bool:
    return name.startswith("loop.")


def is_compiled(name: str) -> bool:
    return name.startswith("compiled.")


def base_method(name: str) -> str:
    """The registry method a compiled case solves with (other names unchanged)."""
    return name.split(".", 1)[1] if is_compiled(name) else name


def same_table(ours: str, other: str) -> bool:
    """Whether ``other`` (a torchdiffeq peer or a loop) integrates ``ours``'s table, so
    that their outputs must agree (to float32 rounding for the fixed-step ones)."""
    if is_loop(other):
        return LOOP_OF.get(ours) == other
    return ours in SAME_TABLE and PEER_OF.get(ours) == other


@dataclass(frozen=True)
class Case:
    integrator: str
    problem: str
    size: str = "small"
    pass_: str = "forward"
    device: str = "cpu"

    @property
    def id(self) -> str:
        return f"{self.integrator}-{self.problem}-{self.size}-{self.pass_}-{self.device}"

    @classmethod
    def from_id(cls, text: str) -> Case:
        parts = text.split("-")
        if len(parts) != 5:
            raise ValueError(
                f"bad case id {text!r}: want integrator-problem-size-pass-device, "
                "e.g. rk4-dense-small-forward-cpu"
            )
        return cls(*parts)


def cases(sizes=DEFAULT_SIZES, devices=DEVICES, problems=PROBLEMS, passes=PASSES):
    """The full grid (valid and invalid; filter with ``skip_reason``)."""
    for m, p, s, ps, d in itertools.product(integrators(), problems, sizes, passes, devices):
        yield Case(m, p, s, ps, d)


class Skip(NotImplementedError):
    """An invalid combination (asv reports NotImplementedError from setup as skipped)."""


def _method(name: str):
    from nnde.integrators import get_method

    return get_method(name)


def skip_reason(case: Case) -> str | None:
    """Why ``case`` is not a valid workload, or None when it is."""
    if case.problem not in PROBLEMS:
        return f"unknown problem {case.problem!r} (valid: {', '.join(PROBLEMS)})"
    if case.size not in SIZES:
        return f"unknown size {case.size!r} (valid: {', '.join(SIZES)})"
    if case.pass_ not in PASSES:
        return f"unknown pass {case.pass_!r} (valid: {', '.join(PASSES)})"
    if case.device not in DEVICES:
        return f"unknown device {case.device!r} (valid: {', '.join(DEVICES)})"
    if case.device == "cuda" and not torch.cuda.is_available():
        return "no CUDA device visible"
    peer = is_peer(case.integrator)
    if peer:
        if case.integrator not in PEERS:
            return f"unknown peer {case.integrator!r} (valid: {', '.join(PEERS)})"
        return None
    if is_compiled(case.integrator):
        if case.integrator not in COMPILED:
            return f"unknown compiled case {case.integrator!r} (valid: {', '.join(COMPILED)})"
        if case.problem not in FIELD_PROBLEMS:
            return "the compiled cases solve a field (the ODE block has its own compile())"
        return skip_reason(Case(base_method(case.integrator), *_rest(case)))
    if is_loop(case.integrator):
        if case.integrator not in LOOPS:
            return f"unknown loop {case.integrator!r} (valid: {', '.join(LOOPS)})"
        if case.problem not in FIELD_PROBLEMS:
            return "the hand-written loops integrate a field; the ODE block is a layer"
        return None
    from nnde.integrators import METHODS

    if case.integrator not in METHODS:
        return f"unknown integrator {case.integrator!r}"
    m = _method(case.integrator)
    if case.problem in BLOCK_PROBLEMS:
        if m.kind != "explicit":
            return f"ODEBlock takes explicit methods; {m.name} is {m.kind}"
        return None  # nnde's adjoint takes every explicit table
    if m.kind == "symplectic" and case.problem != "hamiltonian":
        return f"{m.name} needs a separable (Hamiltonian) system"
    if m.kind == "multistep" and case.problem not in ("dense", "symmetric_conv"):
        return f"{m.name} solves Y'' = F(Y); only dense and symmetric_conv give such an F"
    if m.kind == "implicit" and case.problem not in ("dense", "antisymmetric"):
        return f"{m.name}: dense Newton Jacobian of a {case.problem} state is too large"
    if m.kind == "implicit" and case.size != "small":
        return f"{m.name}: dense Newton Jacobian only at size small"
    return None


def _rest(case: Case) -> tuple:
    return case.problem, case.size, case.pass_, case.device


def valid_cases(**kw) -> list[Case]:
    return [c for c in cases(**kw) if skip_reason(c) is None]


# --------------------------------------------------------------------------- loops
# The hand-written baseline: each fixed-step explicit table written out by hand as a
# plain Python loop, the way a careful user would write it for speed — coefficients
# multiplied by h once per solve, every combination a fused ``torch.add(x, k, alpha=c)``
# (one kernel per term, as in the library's engine), no validation, no bookkeeping. It
# imports nothing from nnde: it is the yardstick the integrator overhead is measured
# against. Time t is a Python float (the catalog's fields ignore it).
def _loop_euler(f, y, t0, h, steps):
    for n in range(steps):
        y = torch.add(y, f(t0 + n * h, y), alpha=h)
    return y


def _loop_midpoint(f, y, t0, h, steps):
    h2 = 0.5 * h
    for n in range(steps):
        t = t0 + n * h
        k1 = f(t, y)
        k2 = f(t + h2, torch.add(y, k1, alpha=h2))
        y = torch.add(y, k2, alpha=h)
    return y


def _loop_heun(f, y, t0, h, steps):
    h2 = 0.5 * h
    for n in range(steps):
        t = t0 + n * h
        k1 = f(t, y)
        k2 = f(t + h, torch.add(y, k1, alpha=h))
        y = torch.add(torch.add(y, k1, alpha=h2), k2, alpha=h2)
    return y


def _loop_rk4(f, y, t0, h, steps):
    h2, h3, h6 = h / 2, h / 3, h / 6
    for n in range(steps):
        t = t0 + n * h
        k1 = f(t, y)
        k2 = f(t + h2, torch.add(y, k1, alpha=h2))
        k3 = f(t + h2, torch.add(y, k2, alpha=h2))
        k4 = f(t + h, torch.add(y, k3, alpha=h))
        y = torch.add(y, k1, alpha=h6)
        y = torch.add(y, k2, alpha=h3)
        y = torch.add(y, k3, alpha=h3)
        y = torch.add(y, k4, alpha=h6)
    return y


def _loop_rk38(f, y, t0, h, steps):
    h3, h8, h38 = h / 3, h / 8, 3 * h / 8
    for n in range(steps):
        t = t0 + n * h
        k1 = f(t, y)
        k2 = f(t + h3, torch.add(y, k1, alpha=h3))
        k3 = f(t + 2 * h3, torch.add(torch.add(y, k1, alpha=-h3), k2, alpha=h))
        k4 = f(t + h, torch.add(torch.add(torch.add(y, k1, alpha=h), k2, alpha=-h), k3, alpha=h))
        y = torch.add(y, k1, alpha=h8)
        y = torch.add(y, k2, alpha=h38)
        y = torch.add(y, k3, alpha=h38)
        y = torch.add(y, k4, alpha=h8)
    return y


_LOOP_FN = {
    "loop.euler": _loop_euler,
    "loop.midpoint": _loop_midpoint,
    "loop.heun": _loop_heun,
    "loop.rk4": _loop_rk4,
    "loop.rk38": _loop_rk38,
}


def loop_pairs(problems=FIELD_PROBLEMS, sizes=DEFAULT_SIZES, passes=PASSES):
    """(ours, hand-written loop) case pairs on the same problem, size and pass, on CPU."""
    out = []
    for ours, loop in LOOP_OF.items():
        for p, s, ps in itertools.product(problems, sizes, passes):
            a, b = Case(ours, p, s, ps, "cpu"), Case(loop, p, s, ps, "cpu")
            if skip_reason(a) is None and skip_reason(b) is None:
                out.append((a, b))
    return out


# --------------------------------------------------------------------------- building
@dataclass
class Workload:
    """A built case. ``run()`` is the timed region (one forward or forward+backward
    pass; call ``sync()`` after it on CUDA); ``output()`` is the forward result without
    gradients; ``nfe()`` counts field evaluations of one ``run()``."""

    case: Case
    run: Callable[[], object]
    output: Callable[[], torch.Tensor]
    nfe: Callable[[], int]
    samples: int
    dtype: torch.dtype
    field: torch.nn.Module
    y0: torch.Tensor

    def sync(self) -> None:
        if self.case.device == "cuda":
            torch.cuda.synchronize()


class _Counter(torch.nn.Module):
    def __init__(self, f):
        super().__init__()
        self.f = f
        self.n = 0

    def forward(self, t, y):
        self.n += 1
        return self.f(t, y)

    @property
    def width(self):
        return self.f.width

    @property
    def pair(self):
        fq, fp = self.f.pair

        def cq(t, z):
            self.n += 1
            return fq(t, z)

        def cp(t, y):
            self.n += 1
            return fp(t, y)

        return (cq, cp)


def _make_field(problem: str, size: Size, dtype, device):
    from nnde.fields import AntisymmetricField, DenseField, HamiltonianField, SymmetricConvField

    w, b = size.width, size.batch
    if problem == "symmetric_conv":
        c = max(w // 4, 2)
        field = SymmetricConvField(channels=c, activation="tanh")
        shape = (max(b // 4, 1), c, 8, 8)
    elif problem == "hamiltonian":
        field = HamiltonianField(w // 2)
        shape = (b, 2 * (w // 2))
    elif problem == "antisymmetric":
        field = AntisymmetricField(w)
        shape = (b, w)
    else:  # dense and the ODE blocks
        field = DenseField(w)
        shape = (b, w)
    field = field.to(device=device, dtype=dtype)
    y0 = torch.randn(shape, generator=_gen(), dtype=torch.float64).to(device=device, dtype=dtype)
    return field, y0


class ReferenceDense(torch.nn.Module):
    """The dense field σ(y Kᵀ + b) with σ = tanh, written here with plain torch ops for the
    *peer* side of ours ÷ torchdiffeq: it shares the weights of the library's
    ``DenseField`` but none of its code, so a slowdown (or a change) in ``nnde.fields``
    shows in the ratio instead of cancelling out. Keep it as it is: it is the yardstick."""

    def __init__(self, field):
        super().__init__()
        self.width = field.width
        self.K = torch.nn.Parameter(field.K.detach().clone())
        self.b = torch.nn.Parameter(field.b.detach().clone())

    def forward(self, t, y):
        return torch.tanh(torch.addmm(self.b, y, self.K.t()))


def _kind(name: str) -> str | None:
    """The registry's kind of one of our methods; None for peers and loops."""
    if is_peer(name) or is_loop(name):
        return None
    return _method(base_method(name)).kind


def _gen():
    return torch.Generator().manual_seed(SEED + 1)


def _solver(case: Case, field, dtype, steps=None, tol=None, compile_options=None):
    """A function y0 → y(T) for the case's integrator on ``field``."""
    size = SIZES[case.size]
    n_steps = steps or size.steps
    rtol, atol = tol or (RTOL, ATOL)
    h = T_END / n_steps
    if case.integrator.startswith("torchdiffeq."):
        from torchdiffeq import odeint, odeint_adjoint

        name = case.integrator.split(".", 1)[1]
        fn = odeint_adjoint if case.problem == "ode_block_adjoint" else odeint

        def tde(y0, f=field):
            t = torch.tensor([0.0, T_END], dtype=dtype, device=y0.device)
            if name == "dopri5":
                return fn(f, y0, t, method=name, rtol=rtol, atol=atol)[-1]
            kw = dict(method=name, options=dict(step_size=h))
            if fn is odeint_adjoint:
                kw["adjoint_options"] = dict(step_size=h)
            return fn(f, y0, t, **kw)[-1]

        return tde
    if is_loop(case.integrator):
        fn = _LOOP_FN[case.integrator]

        def loop(y0, f=field):
            return fn(f, y0, 0.0, h, n_steps)

        return loop
    from nnde.integrators import solve

    m = _method(base_method(case.integrator))
    steps = None if m.adaptive else n_steps
    tol = dict(rtol=rtol, atol=atol) if m.adaptive else {}
    if is_compiled(case.integrator):
        tol["compile"] = compile_options or COMPILE_OPTIONS
    if case.problem in BLOCK_PROBLEMS:
        from nnde.layers import ODEBlock

        grad = "adjoint" if case.problem == "ode_block_adjoint" else "direct"
        block = ODEBlock(field, T=T_END, method=m.name, steps=steps, gradient=grad, **tol)
        return block
    if m.kind == "symplectic":
        half = field.width

        def symp(y0, f=field):
            q, p = solve(f.pair, (y0[:, :half], y0[:, half:]), 0.0, T_END, steps, m.name,
                         **tol)
            return torch.cat([q, p], dim=1)

        return symp

    def plain(y0, f=field):
        return solve(f, y0, 0.0, T_END, steps, m.name, **tol)

    return plain


def build(case: Case, *, steps: int | None = None, tol: tuple | None = None,
          compile_options: dict | None = None) -> Workload:
    """Build the seeded workload of ``case`` (raises ``Skip`` for invalid ones).

    ``steps`` (fixed-step methods) and ``tol`` = (rtol, atol) (adaptive ones) override
    the catalog's, for work-precision and memory-vs-steps sweeps; ``compile_options``
    the compiled cases' ``COMPILE_OPTIONS``."""
    reason = skip_reason(case)
    if reason:
        raise Skip(reason)
    torch.manual_seed(SEED)
    implicit = _kind(case.integrator) == "implicit"
    size = SIZES[case.size]
    if implicit:
        size = Size(size.width, min(size.batch, IMPLICIT_BATCH), size.steps)
    dtype = torch.float64 if implicit else torch.float32
    field, y0 = _make_field(case.problem, size, dtype, case.device)
    if is_peer(case.integrator) and case.problem == "dense":
        field = ReferenceDense(field)  # the peer's field: same weights, none of our code
    counter = _Counter(field)
    solver = _solver(case, field, dtype, steps, tol, compile_options)
    # field evaluations are counted eagerly: a compiled solve counts what eager counts
    eager = Case(base_method(case.integrator), *_rest(case))
    counted = _solver(eager, counter, dtype, steps, tol)

    def forward_only():
        with torch.no_grad():
            return solver(y0)

    if case.pass_ == "forward":
        run = forward_only
    else:
        x = y0.clone().requires_grad_(True)

        def run():
            field.zero_grad(set_to_none=True)
            x.grad = None
            loss = solver(x).square().mean()
            loss.backward()
            return loss

    def nfe():
        counter.n = 0
        if case.pass_ == "forward":
            with torch.no_grad():
                counted(y0)
        else:
            xx = y0.clone().requires_grad_(True)
            counted(xx).square().mean().backward()
        return counter.n

    return Workload(case, run, forward_only, nfe, int(y0.shape[0]), dtype, field, y0)


def reference(w: Workload) -> torch.Tensor:
    """y(T) of the workload's ODE from dopri5 in float64 at rtol 1e-10, atol 1e-12.

    For the multistep methods (Y'' = F(Y), Y'(0) = 0) the reference solves the
    first-order system (Y, V)' = (V, F(Y))."""
    import copy

    from nnde.integrators import solve

    f = copy.deepcopy(w.field).to(torch.float64)
    y0 = w.y0.to(torch.float64)
    kind = _kind(w.case.integrator)
    with torch.no_grad():
        if kind == "multistep":

            def first_order(t, s):
                y, v = s.chunk(2, dim=0)
                return torch.cat([v, f(t, y)], dim=0)

            s = solve(
                first_order,
                torch.cat([y0, torch.zeros_like(y0)]),
                0.0,
                T_END,
                method="dopri5",
                rtol=1e-10,
                atol=1e-12,
            )
            return s.chunk(2, dim=0)[0]
        return solve(f, y0, 0.0, T_END, method="dopri5", rtol=1e-10, atol=1e-12)


def error(w: Workload, ref: torch.Tensor | None = None) -> float:
    """Max-abs error of the workload's y(T) against ``ref`` (default ``reference(w)``;
    pass it when many workloads share one ODE, as a work-precision sweep's do)."""
    out = w.output().to(torch.float64)
    return float((out - (reference(w) if ref is None else ref)).abs().max())


# --------------------------------------------------------------------------- subsets
# The gate's default subset: cheap, dominated by field evaluations, covers the generic
# RK loop (fixed and adaptive), the symplectic loop and the backward pass.
GATE_CASES = (
    "euler-dense-small-forward-cpu",
    "rk4-dense-small-forward-cpu",
    "rk4-dense-small-backward-cpu",
    "dopri5-dense-small-forward-cpu",
    "verlet-hamiltonian-small-forward-cpu",
)


def compiled_quads(methods=("euler", "rk4"), problem="dense", sizes=("w16", "w64", "w256"),
                   passes=PASSES):
    """(compiled, eager, hand-written loop or None, torchdiffeq peer or None) cases of
    each method × size × pass on CPU: what the compiled-path benchmark times side by
    side. The peer of ``rk4`` is torchdiffeq's 3/8 rule (speed only, as in
    ``peer_pairs``)."""
    out = []
    for m, s, ps in itertools.product(methods, sizes, passes):
        c = Case(COMPILED_OF[m], problem, s, ps, "cpu")
        if skip_reason(c) is not None:
            continue
        loop = Case(LOOP_OF[m], problem, s, ps, "cpu") if m in LOOP_OF else None
        peer = Case(PEER_OF[m], problem, s, ps, "cpu") if m in PEER_OF else None
        out.append((c, Case(m, problem, s, ps, "cpu"), loop, peer))
    return out


def peer_pairs(problems=FIELD_PROBLEMS + BLOCK_PROBLEMS, sizes=DEFAULT_SIZES, passes=PASSES):
    """(ours, torchdiffeq) case pairs on the same problem, size and pass, on CPU."""
    out = []
    for ours, peer in PEER_OF.items():
        for p, s, ps in itertools.product(problems, sizes, passes):
            a, b = Case(ours, p, s, ps, "cpu"), Case(peer, p, s, ps, "cpu")
            if skip_reason(a) is None and skip_reason(b) is None:
                out.append((a, b))
    return out
