"""The continuous adjoint on nnde's own solvers (``nnde.integrators.solve_adjoint``):
gradients against direct backpropagation through a fine float64 solve and against finite
differences, convergence of the fixed-grid adjoint at the method's order, evaluation
counts, memory flat in the number of steps, and clear errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nnde.errors import ParamError
from nnde.integrators import (
    MaxStepsError,
    StepSizeError,
    get_method,
    names_of_kind,
    solve,
    solve_adjoint,
)

DT = torch.float64


class Field(nn.Module):
    """A small non-autonomous, nonlinear field: f(t, y) = tanh(W y + b)·(1 + t/2)."""

    def __init__(self, width: int = 3, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.W = nn.Parameter(torch.randn(width, width, generator=g, dtype=DT) * 0.8)
        self.b = nn.Parameter(torch.randn(width, generator=g, dtype=DT) * 0.3)
        self.calls = 0

    def forward(self, t, y):
        self.calls += 1
        return torch.tanh(y @ self.W.T + self.b) * (1 + 0.5 * t)


def y0_of(width: int = 3) -> torch.Tensor:
    return torch.randn(4, width, generator=torch.Generator().manual_seed(1), dtype=DT)


def gradient(f: Field, y0: torch.Tensor, run) -> torch.Tensor:
    """d/d(y0, W, b) of L = sum(y(1)²) with ``run(f, y0) -> y(1)``."""
    y0 = y0.clone().requires_grad_(True)
    f.zero_grad()
    (run(f, y0).square().sum()).backward()
    return torch.cat([y0.grad.reshape(-1), f.W.grad.reshape(-1), f.b.grad.reshape(-1)])


def reference(f: Field, y0: torch.Tensor) -> torch.Tensor:
    """Direct backpropagation through a dopri5 solve at tolerance 1e-13."""
    return gradient(f, y0, lambda f, y: solve(f, y, 0.0, 1.0, method="dopri5",
                                              rtol=1e-13, atol=1e-13))


@pytest.mark.parametrize("method", ["bosh3", "dopri5"])
@pytest.mark.parametrize("norm", ["mixed", "seminorm", "rms"])
def test_adaptive_adjoint_matches_direct_backprop(method, norm):
    f, y0 = Field(), y0_of()
    ref = reference(f, y0)
    tol = 1e-8 if method == "bosh3" else 1e-10  # third order: keep the step count modest
    got = gradient(f, y0, lambda f, y: solve_adjoint(
        f, y, 0.0, 1.0, method=method, rtol=tol, atol=tol, adjoint_norm=norm))
    assert torch.allclose(got, ref, rtol=0, atol=100 * tol)


def test_adjoint_gradient_error_follows_the_tolerance():
    """A looser backward tolerance gives a larger (but bounded) gradient error: the
    adjoint is approximate, its error set by the tolerances."""
    f, y0 = Field(), y0_of()
    ref = reference(f, y0)
    errs = []
    for tol in (1e-3, 1e-6, 1e-9):
        got = gradient(f, y0, lambda f, y, tol=tol: solve_adjoint(
            f, y, 0.0, 1.0, rtol=tol, atol=tol))
        errs.append(float((got - ref).abs().max()))
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 1e-6 and errs[0] < 1e-1


@pytest.mark.parametrize("method", names_of_kind("explicit"))
def test_fixed_grid_adjoint_converges_at_the_method_order(method):
    """On a fixed grid the gradient error falls as h^p (the method's order p): the
    log-log slope over two step counts, against the declared order."""
    f, y0 = Field(), y0_of()
    ref = reference(f, y0)
    p = get_method(method).order
    n1, n2 = (64, 128) if p < 3 else (8, 16)
    e1, e2 = (float((gradient(f, y0, lambda f, y, n=n: solve_adjoint(
        f, y, 0.0, 1.0, steps=n, method=method)) - ref).abs().max()) for n in (n1, n2))
    slope = math.log2(e1 / e2)
    assert abs(slope - p) < 0.6, (method, slope, p)


def test_adjoint_matches_finite_differences():
    f, y0 = Field(width=2), y0_of(2)
    got = gradient(f, y0, lambda f, y: solve_adjoint(f, y, 0.0, 1.0, rtol=1e-11, atol=1e-11))

    def loss() -> float:
        with torch.no_grad():
            return float(solve(f, y0, 0.0, 1.0, method="dopri5", rtol=1e-12,
                               atol=1e-12).square().sum())

    eps = 1e-6
    with torch.no_grad():
        for idx in ((0, 0), (1, 0), (0, 1)):
            old = f.W[idx].item()
            f.W[idx] = old + eps
            up = loss()
            f.W[idx] = old - eps
            down = loss()
            f.W[idx] = old
            fd = (up - down) / (2 * eps)
            k = y0.numel() + idx[0] * 2 + idx[1]
            assert abs(float(got[k]) - fd) < 1e-6 * max(1.0, abs(fd))


def test_backward_solve_runs_time_backwards_to_the_input():
    """Time reversibility: the backward solve re-computes y from y(t1) down to y(t0);
    for an accurately solved problem the input gradient of L = <c, y(t1)> for a linear
    field y' = A y is exp(A)ᵀ c, whatever the path."""
    A = torch.tensor([[0.0, 1.0], [-1.0, 0.0]], dtype=DT)  # rotation: exactly reversible

    class Linear(nn.Module):
        def __init__(self):
            super().__init__()
            self.A = nn.Parameter(A.clone())

        def forward(self, t, y):
            return y @ self.A.T

    c = torch.tensor([[0.3, -0.7]], dtype=DT)
    y0 = torch.tensor([[1.0, 0.5]], dtype=DT, requires_grad=True)
    (solve_adjoint(Linear(), y0, 0.0, 2.0, rtol=1e-12, atol=1e-12) * c).sum().backward()
    expected = c @ torch.linalg.matrix_exp(2.0 * A)
    assert torch.allclose(y0.grad, expected, atol=1e-9)


def test_evaluation_counts_forward_and_backward():
    """Fixed grid: the forward makes steps × stages evaluations, and so does the backward
    (one field evaluation, with its vector–Jacobian product, per augmented stage)."""
    f, y0 = Field(), y0_of().requires_grad_(True)
    y = solve_adjoint(f, y0, 0.0, 1.0, steps=10, method="rk4")
    assert f.calls == 40
    y.sum().backward()
    assert f.calls == 80
    # adaptive: the seminorm never needs more backward evaluations than the mixed norm
    calls = {}
    for norm in ("mixed", "seminorm"):
        f = Field()
        y0 = y0_of().requires_grad_(True)
        y = solve_adjoint(f, y0, 0.0, 1.0, rtol=1e-6, atol=1e-6, adjoint_norm=norm)
        before = f.calls
        y.sum().backward()
        calls[norm] = f.calls - before
    assert calls["seminorm"] <= calls["mixed"]


def saved_bytes(run) -> int:
    """Bytes autograd keeps for the backward pass while ``run()`` builds its graph."""
    total = 0

    def pack(t):
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        run()
    return total


def test_adjoint_memory_is_flat_in_the_number_of_steps():
    f = Field(width=16)
    y0 = torch.randn(64, 16, dtype=DT, requires_grad=True)
    adj = [saved_bytes(lambda n=n: solve_adjoint(f, y0, 0.0, 1.0, steps=n, method="rk4"))
           for n in (8, 64)]
    direct = [saved_bytes(lambda n=n: solve(f, y0, 0.0, 1.0, steps=n, method="rk4"))
              for n in (8, 64)]
    assert adj[0] == adj[1] == y0.numel() * 8  # y(t1) only
    assert direct[1] > 6 * direct[0]


def test_bad_input_gives_clear_errors():
    f, y0 = Field(), y0_of().requires_grad_(True)
    with pytest.raises(ParamError, match="adjoint_norm"):
        solve_adjoint(f, y0, 0.0, 1.0, adjoint_norm="l2")
    with pytest.raises(ParamError, match="explicit"):
        solve_adjoint(f, y0, 0.0, 1.0, steps=4, method="backward_euler")
    with pytest.raises(ParamError, match="nn.Module"):
        solve_adjoint(lambda t, y: y, y0, 0.0, 1.0)
    with pytest.raises(ParamError, match="adjoint_rtol"):
        solve_adjoint(f, y0, 0.0, 1.0, steps=4, method="rk4", adjoint_rtol=1e-3)
    with pytest.raises(ParamError, match="NaN or inf"):
        solve(f, y0.detach() * math.inf, 0.0, 1.0, steps=2)
    y = solve_adjoint(f, y0, 0.0, 1.0, rtol=1e-6, atol=1e-6)
    with pytest.raises(ParamError, match="incoming gradient"):
        y.backward(torch.full_like(y, math.nan))


def test_backward_failures_name_the_cause():
    """A field that turns non-finite during the backward solve ends in a step-size
    underflow naming the method and time; a backward tolerance too tight for
    ``max_steps`` stops with MaxStepsError."""

    class Breaks(Field):
        broken = False

        def forward(self, t, y):
            out = super().forward(t, y)
            return out * math.inf if self.broken else out

    f, y0 = Breaks(), y0_of().requires_grad_(True)
    y = solve_adjoint(f, y0, 0.0, 1.0, rtol=1e-6, atol=1e-6)
    f.broken = True
    with pytest.raises(StepSizeError, match="dopri5"):
        y.sum().backward()
    f = Field()
    y = solve_adjoint(f, y0, 0.0, 1.0, rtol=1e-4, atol=1e-4, adjoint_rtol=1e-14,
                      adjoint_atol=1e-14, max_steps=12)
    with pytest.raises(MaxStepsError):
        y.sum().backward()
