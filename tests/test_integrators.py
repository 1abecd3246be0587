"""Integrators: the mathematics (orders, stability functions, agreement with torchdiffeq)
and the contract of solve() (shapes, validation, gradients)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as hst

from nnde.errors import ParamError, UnknownNameError
from nnde.integrators import (
    KINDS,
    METHODS,
    ButcherTableau,
    MaxStepsError,
    SolveStats,
    get_method,
    solve,
    solve_second_order,
)

DT = torch.float64


def slope(ns, errs):
    """Observed order: minus the least-squares slope of log(err) against log(steps)."""
    return -np.polyfit(np.log(ns), np.log(errs), 1)[0]


# y' = -2 t y²  has y(t) = y0 / (1 + y0 t²): nonlinear and time-dependent.
def riccati(t, y):
    return -2.0 * t * y * y


Y0 = torch.tensor([1.0, 0.5, 0.3], dtype=DT)


def riccati_exact(t):
    return Y0 / (1 + Y0 * t * t)


# Logistic y' = y(1 − y): clean asymptotics for every method (no error cancellation).
def logistic(t, y):
    return y * (1 - y)


L0 = torch.tensor([0.1, 0.3], dtype=DT)


def logistic_exact(t):
    return 1 / (1 + (1 / L0 - 1) * math.exp(-t))


STEP_COUNTS = {
    1: (32, 64, 128, 256),
    2: (32, 64, 128, 256),
    3: (16, 32, 64, 128),
    4: (16, 32, 64, 128),
    5: (16, 32, 64, 128),
}

ONE_STEP = [n for n, m in METHODS.items() if m.kind in ("explicit", "implicit")]


def test_registry_attributes():
    for name, m in METHODS.items():
        assert m.name == name
        assert m.kind in KINDS
        assert isinstance(m.order, int) and m.order >= 1
        assert m.stages >= 1
        assert isinstance(m.adaptive, bool)
    assert {n for n, m in METHODS.items() if m.adaptive} == {"bosh3", "dopri5"}
    assert {
        "euler",
        "midpoint",
        "heun",
        "rk4",
        "rk38",
        "bosh3",
        "dopri5",
        "backward_euler",
        "implicit_midpoint",
        "symplectic_euler",
        "verlet",
        "leapfrog",
    } <= set(METHODS)


@pytest.mark.parametrize("name", ONE_STEP)
def test_observed_order(name):
    m = METHODS[name]
    # implicit steps cost a Jacobian each: start them coarser (still asymptotic)
    ns = (16, 32, 64, 128) if m.kind == "implicit" else STEP_COUNTS[m.order]
    exact = logistic_exact(3.0)
    errs = [float((solve(logistic, L0, 0.0, 3.0, n, name) - exact).abs().max()) for n in ns]
    assert abs(slope(ns, errs) - m.order) < 0.2, (name, errs)


@pytest.mark.parametrize("name", ONE_STEP)
def test_time_dependent_field_converges_at_order(name):
    # y' = cos(t) y, y = y0 exp(sin t): checks the stage times c_i h are right.
    y0 = torch.tensor([1.0, -0.5], dtype=DT)
    exact = y0 * math.exp(math.sin(3.0))
    e64, e256 = (
        float((solve(lambda t, y: torch.cos(t) * y, y0, 0.0, 3.0, n, name) - exact).abs().max())
        for n in (64, 256)
    )
    assert math.log(e64 / e256, 4) > METHODS[name].order - 0.5


def _series(coeffs, z):
    return sum(c * z**k for k, c in enumerate(coeffs))


TAYLOR = [1 / math.factorial(k) for k in range(7)]
R_EXPECTED = {
    "euler": lambda z: _series(TAYLOR[:2], z),
    "midpoint": lambda z: _series(TAYLOR[:3], z),
    "heun": lambda z: _series(TAYLOR[:3], z),
    "rk4": lambda z: _series(TAYLOR[:5], z),
    "rk38": lambda z: _series(TAYLOR[:5], z),
    "bosh3": lambda z: _series(TAYLOR[:4], z),
    "dopri5": lambda z: _series(TAYLOR[:6] + [1 / 600], z),
    "backward_euler": lambda z: 1 / (1 - z),
    "implicit_midpoint": lambda z: (1 + z / 2) / (1 - z / 2),
}


@pytest.mark.parametrize("name", sorted(R_EXPECTED))
def test_stability_function_matches_series(name):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(5, 7)) * 1.5 + 1j * rng.normal(size=(5, 7)) * 1.5
    R = METHODS[name].stability_function(z)
    assert R.shape == z.shape
    np.testing.assert_allclose(R, R_EXPECTED[name](z), rtol=1e-11, atol=1e-11)


def test_stability_function_is_one_step_on_linear_problem():
    lam = -0.7 + 0.4j
    y0 = torch.tensor([1.0 + 0j], dtype=torch.complex128)
    for name in ("euler", "rk4", "dopri5", "rk38"):
        y1 = solve(lambda t, y: lam * y, y0, 0.0, 0.3, 1, name)
        R = METHODS[name].stability_function(np.array(0.3 * lam))
        assert abs(complex(y1[0]) - complex(R)) < 1e-14


def test_partitioned_and_multistep_have_no_scalar_R():
    for name in ("verlet", "symplectic_euler", "leapfrog"):
        assert METHODS[name].stability_function is None


def test_tableau_validation():
    with pytest.raises(ParamError, match="row 1"):
        ButcherTableau(name="bad", order=1, c=(0.0, 0.5), a=((), (0.4,)), b=(0.5, 0.5))
    with pytest.raises(ParamError, match="sum to"):
        ButcherTableau(name="bad", order=1, c=(0.0,), a=((),), b=(0.9,))
    with pytest.raises(ParamError, match="not 0"):
        ButcherTableau(
            name="bad",
            order=1,
            c=(0.0, 1.0),
            a=((), (1.0,)),
            b=(0.5, 0.5),
            b_err=(0.1, 0.0),
            error_order=1,
        )
    t = ButcherTableau(name="ok", order=1, c=(1.0,), a=((1.0,),), b=(1.0,))
    assert not t.explicit
    assert METHODS["rk4"].tableau.explicit
    with pytest.raises(dataclasses.FrozenInstanceError):
        METHODS["rk4"].tableau.order = 3


def test_embedded_tables_consistent():
    for name in ("bosh3", "dopri5"):
        tab = METHODS[name].tableau
        assert abs(sum(tab.b_hat) - 1) < 1e-14
        assert tab.fsal and tab.a[-1] == tab.b


# ------------------------------------------------------------------ the first user's case
K_EX = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=DT)
Y_EX = torch.tensor([[0.1, 0.1], [-0.1, -0.1], [0.0, 0.5]], dtype=DT)


@pytest.mark.parametrize("steps", [10, 20])
def test_euler_trajectory_is_residual_network(steps):
    h = 1.0 / steps
    traj = solve(lambda t, y: torch.tanh(y @ K_EX), Y_EX, 0.0, 1.0, steps, "euler", trajectory=True)
    assert traj.shape == (steps + 1, 3, 2)
    y = Y_EX
    assert torch.equal(traj[0], Y_EX)
    for k in range(steps):
        y = y + h * torch.tanh(y @ K_EX)
        torch.testing.assert_close(traj[k + 1], y, rtol=0, atol=1e-15)


def test_rk4_trajectory_shape_and_endpoint():
    f = lambda t, y: torch.tanh(y @ K_EX)  # noqa: E731
    traj = solve(f, Y_EX, 0.0, 1.0, 20, "rk4", trajectory=True)
    assert traj.shape == (21, 3, 2)
    torch.testing.assert_close(traj[-1], solve(f, Y_EX, 0.0, 1.0, 20, "rk4"), rtol=0, atol=0)


def test_backward_in_time_inverts_forward():
    f = lambda t, y: torch.tanh(y @ K_EX) + 0.1 * torch.sin(t)  # noqa: E731
    fwd = solve(f, Y_EX, 0.0, 1.0, 200, "rk4")
    back = solve(f, fwd, 1.0, 0.0, 200, "rk4")
    torch.testing.assert_close(back, Y_EX, rtol=0, atol=1e-10)


def test_stats_fixed_grid():
    _, st = solve(riccati, Y0, 0.0, 1.0, 10, "dopri5", stats=True)
    assert isinstance(st, SolveStats)
    assert (st.nfe, st.accepted, st.rejected, st.t_stopped) == (60, 10, 0, 1.0)
    _, st = solve(riccati, Y0, 0.0, 1.0, 10, "rk4", stats=True)
    assert st.nfe == 40


# ------------------------------------------------------------------ torchdiffeq agreement
torchdiffeq = pytest.importorskip("torchdiffeq")


def _mlp_field(seed=0, width=8):
    g = torch.Generator().manual_seed(seed)
    W1 = torch.randn(3, width, generator=g, dtype=DT) / 2
    W2 = torch.randn(width, 3, generator=g, dtype=DT) / 3

    def f(t, y):
        return torch.tanh(y @ W1 + t) @ W2

    return f


@pytest.mark.parametrize(
    "ours,theirs",
    [("euler", "euler"), ("midpoint", "midpoint"), ("heun", "heun2"), ("rk38", "rk4")],
)
def test_fixed_grid_agrees_with_torchdiffeq(ours, theirs):
    f = _mlp_field()
    y0 = torch.randn(5, 3, dtype=DT, generator=torch.Generator().manual_seed(1))
    steps = 25
    ts = torch.linspace(0.0, 1.0, steps + 1, dtype=DT)
    ref = torchdiffeq.odeint(f, y0, ts, method=theirs)
    got = solve(f, y0, 0.0, 1.0, steps, ours, trajectory=True)
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-10)


def test_torchdiffeq_rk4_is_the_three_eighths_rule_not_classical():
    f = _mlp_field()
    y0 = torch.randn(5, 3, dtype=DT, generator=torch.Generator().manual_seed(1))
    ref = torchdiffeq.odeint(
        f, y0, torch.tensor([0.0, 1.0], dtype=DT), method="rk4", options=dict(step_size=0.5)
    )[-1]
    assert float((solve(f, y0, 0.0, 1.0, 2, "rk4") - ref).abs().max()) > 1e-8
    torch.testing.assert_close(solve(f, y0, 0.0, 1.0, 2, "rk38"), ref, rtol=0, atol=1e-12)


def test_classical_rk4_agrees_with_torchdiffeq_classical_step():
    # torchdiffeq keeps the classical step as a helper (not a method name); use it if present
    rk_common = pytest.importorskip("torchdiffeq._impl.rk_common")
    if not hasattr(rk_common, "rk4_step_func"):
        pytest.skip("this torchdiffeq has no classical rk4 step helper")
    f = _mlp_field()
    y = y0 = torch.randn(5, 3, dtype=DT, generator=torch.Generator().manual_seed(1))
    h = torch.tensor(0.04, dtype=DT)
    for n in range(25):
        t = n * h
        y = y + rk_common.rk4_step_func(
            lambda t, y, perturb=None: f(t, y), t, h, t + h, y, f0=f(t, y)
        )
    torch.testing.assert_close(solve(f, y0, 0.0, 1.0, 25, "rk4"), y, rtol=0, atol=1e-10)


@pytest.mark.parametrize("tol", [1e-5, 1e-8])
def test_dopri5_adaptive_agrees_with_torchdiffeq(tol):
    f = _mlp_field(seed=3)
    y0 = torch.randn(4, 3, dtype=DT, generator=torch.Generator().manual_seed(2))
    count = [0]

    def counted(t, y):
        count[0] += 1
        return f(t, y)

    ref = torchdiffeq.odeint(
        counted, y0, torch.tensor([0.0, 5.0], dtype=DT), method="dopri5", rtol=tol, atol=tol
    )[-1]
    exact = torchdiffeq.odeint(
        f, y0, torch.tensor([0.0, 5.0], dtype=DT), method="dopri5", rtol=1e-12, atol=1e-12
    )[-1]
    y, st = solve(f, y0, 0.0, 5.0, method="dopri5", rtol=tol, atol=tol, stats=True)
    scale = tol * (1 + exact.abs())
    assert float(((y - ref).abs() / scale).max()) < 10
    assert float(((y - exact).abs() / scale).max()) < 10
    assert abs(st.nfe - count[0]) <= 0.1 * count[0], (st.nfe, count[0])
    assert st.t_stopped == 5.0 and st.accepted > 0


def test_adaptive_tightening_reduces_error_and_costs_more():
    exact = riccati_exact(2.0)
    prev_err, prev_nfe = math.inf, 0
    for tol in (1e-4, 1e-7, 1e-10):
        for name in ("bosh3", "dopri5"):
            y, st = solve(riccati, Y0, 0.0, 2.0, method=name, rtol=tol, atol=tol, stats=True)
            assert float((y - exact).abs().max()) < 100 * tol, (name, tol)
        err = float((y - exact).abs().max())
        assert err < prev_err and st.nfe > prev_nfe
        prev_err, prev_nfe = err, st.nfe


def test_pi_controller_and_trajectory():
    m = get_method("dopri5").with_options(controller="pi")
    (ts, ys), st = solve(
        riccati, Y0, 0.0, 2.0, method=m, rtol=1e-8, atol=1e-8, trajectory=True, stats=True
    )
    assert ts.shape == (st.accepted + 1,) and ys.shape == (st.accepted + 1, 3)
    assert ts[0] == 0.0 and ts[-1] == 2.0 and bool((ts.diff() > 0).all())
    for t, y in zip(ts.tolist(), ys, strict=True):
        torch.testing.assert_close(y, riccati_exact(t), rtol=0, atol=1e-6)


def test_adaptive_backwards():
    y = solve(riccati, riccati_exact(2.0), 2.0, 0.0, method="dopri5", rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(y, Y0, rtol=0, atol=1e-8)


def test_adaptive_rejects_then_recovers():
    # a sharp pulse near t=1 forces rejections
    f = lambda t, y: -50 * (t - 1) * y  # noqa: E731
    y, st = solve(
        f, torch.ones(1, dtype=DT), 0.0, 2.0, method="dopri5", rtol=1e-9, atol=1e-12, stats=True
    )
    assert abs(float(y) - 1.0) < 1e-6  # exp(-25 (t-1)^2) back to exp(0)
    assert st.nfe == 2 + 6 * (st.accepted + st.rejected)  # FSAL: 6 per attempted step


# ------------------------------------------------------------------ any shape
@settings(max_examples=25, deadline=None)
@given(
    shape=hst.lists(hst.integers(1, 3), min_size=0, max_size=3),
    steps=hst.integers(1, 6),
    name=hst.sampled_from(["euler", "midpoint", "rk4", "dopri5"]),
    backwards=hst.booleans(),
)
def test_any_shape_trajectory_contract(shape, steps, name, backwards):
    y0 = torch.linspace(-1, 1, int(np.prod(shape))).reshape(shape).to(DT)
    t0, t1 = (1.0, 0.0) if backwards else (0.0, 1.0)
    f = lambda t, y: torch.sin(y) - 0.5 * y * t  # noqa: E731
    traj = solve(f, y0, t0, t1, steps, name, trajectory=True)
    assert traj.shape == (steps + 1, *shape)
    assert torch.equal(traj[0], y0)
    torch.testing.assert_close(traj[-1], solve(f, y0, t0, t1, steps, name), rtol=0, atol=0)


# ------------------------------------------------------------------ gradients
@pytest.mark.parametrize(
    "name", ["rk4", "dopri5-adaptive", "backward_euler", "implicit_midpoint", "rk38"]
)
def test_direct_backprop_matches_finite_differences(name):
    W = torch.tensor([[0.3, -0.8], [0.9, 0.1]], dtype=DT, requires_grad=True)
    y0 = torch.tensor([[0.5, -0.2], [0.1, 0.4]], dtype=DT)

    def loss(Wv):
        f = lambda t, y: torch.tanh(y @ Wv)  # noqa: E731
        if name == "dopri5-adaptive":
            y = solve(f, y0, 0.0, 1.0, method="dopri5", rtol=1e-10, atol=1e-10)
        else:
            y = solve(f, y0, 0.0, 1.0, 10, name)
        return (y**2).sum()

    (g,) = torch.autograd.grad(loss(W), W)
    fd = torch.zeros_like(W)
    eps = 1e-6
    with torch.no_grad():
        for idx in np.ndindex(*W.shape):
            E = torch.zeros_like(W)
            E[idx] = eps
            fd[idx] = (loss(W + E) - loss(W - E)) / (2 * eps)
    torch.testing.assert_close(g, fd, rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------------ implicit specifics
def test_implicit_exact_for_linear_field_in_one_newton_step():
    A = torch.tensor([[-2.0, 1.0], [0.5, -3.0]], dtype=DT)
    y0 = torch.tensor([[1.0, 2.0]], dtype=DT)
    h = 0.5
    f = lambda t, y: y @ A.T  # noqa: E731
    I2 = torch.eye(2, dtype=DT)
    exact = {
        "backward_euler": torch.linalg.solve(I2 - h * A, y0.T).T,
        "implicit_midpoint": torch.linalg.solve(I2 - h / 2 * A, (I2 + h / 2 * A) @ y0.T).T,
    }
    for name, ref in exact.items():
        one = get_method(name).with_options(newton_max_iter=1)
        torch.testing.assert_close(solve(f, y0, 0.0, h, 1, one), ref, rtol=0, atol=1e-14)
        torch.testing.assert_close(solve(f, y0, 0.0, h, 1, name), ref, rtol=0, atol=1e-14)


def test_implicit_gradient_exact_for_linear_field():
    y0 = torch.tensor([[1.0, 2.0]], dtype=DT)
    h = 0.5
    A0 = torch.tensor([[-2.0, 1.0], [0.5, -3.0]], dtype=DT)
    I2 = torch.eye(2, dtype=DT)
    for method in (
        get_method("backward_euler"),
        get_method("backward_euler").with_options(newton_max_iter=1),
    ):
        A = A0.clone().requires_grad_(True)
        out = solve(lambda t, y, A=A: y @ A.T, y0, 0.0, h, 1, method)
        (g,) = torch.autograd.grad(out.sum(), A)
        (ref,) = torch.autograd.grad(torch.linalg.solve(I2 - h * A, y0.T).sum(), A)
        torch.testing.assert_close(g, ref, rtol=0, atol=1e-12)


def test_backward_euler_stable_on_stiff_problem():
    f = lambda t, y: -1000.0 * y  # noqa: E731
    y0 = torch.ones(2, dtype=DT)
    assert float(solve(f, y0, 0.0, 1.0, 10, "backward_euler").abs().max()) < 1e-10
    assert (
        not math.isfinite(float(solve(f, y0, 0.0, 1.0, 10, "euler").abs().max()))
        or float(solve(f, y0, 0.0, 1.0, 10, "euler").abs().max()) > 1e10
    )


# ------------------------------------------------------------------ leapfrog orders
@pytest.mark.parametrize("name", ["leapfrog", "leapfrog_taylor"])
def test_leapfrog_observed_order(name):
    y0 = torch.tensor([1.0, -0.5], dtype=DT)
    ns = (32, 64, 128, 256)
    exact = y0 * math.cos(2.0)  # Y'' = -Y, Y'(0) = 0
    errs = [float((solve(lambda t, y: -y, y0, 0.0, 2.0, n, name) - exact).abs().max()) for n in ns]
    assert abs(slope(ns, errs) - METHODS[name].order) < 0.2, errs


def test_second_order_with_initial_velocity():
    y0 = torch.tensor([1.0], dtype=DT)
    v0 = torch.tensor([2.0], dtype=DT)
    exact = math.cos(1.0) + 2 * math.sin(1.0)
    ns = (32, 64, 128)
    errs = [
        abs(
            float(solve_second_order(lambda t, y: -y, y0, 0.0, 1.0, n, v0=v0, start="taylor"))
            - exact
        )
        for n in ns
    ]
    assert abs(slope(ns, errs) - 2) < 0.2


# ------------------------------------------------------------------ bad input
def test_unknown_method_lists_valid_names():
    with pytest.raises(UnknownNameError) as e:
        solve(riccati, Y0, 0.0, 1.0, 10, "rk5")
    msg = str(e.value)
    for name in ("rk4", "rk38", "dopri5", "verlet"):
        assert name in msg
    with pytest.raises(UnknownNameError):
        get_method("RK4")


@pytest.mark.parametrize("steps", [0, -3, 2.5, True])
def test_bad_steps(steps):
    with pytest.raises(ParamError, match="steps"):
        solve(riccati, Y0, 0.0, 1.0, steps, "rk4")


def test_missing_steps_for_fixed_method():
    with pytest.raises(ParamError, match="steps.*required"):
        solve(riccati, Y0, 0.0, 1.0, method="rk4")


def test_t1_equals_t0():
    with pytest.raises(ParamError, match="t1"):
        solve(riccati, Y0, 1.0, 1.0, 10, "rk4")
    with pytest.raises(ParamError, match="t0"):
        solve(riccati, Y0, float("nan"), 1.0, 10, "rk4")


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nonfinite_y0(bad):
    y0 = Y0.clone()
    y0[1] = bad
    with pytest.raises(ParamError, match="NaN or inf"):
        solve(riccati, y0, 0.0, 1.0, 10, "rk4")


def test_non_tensor_and_integer_y0():
    with pytest.raises(ParamError, match="torch.Tensor"):
        solve(riccati, [1.0, 2.0], 0.0, 1.0, 10, "rk4")
    with pytest.raises(ParamError, match="floating"):
        solve(riccati, torch.tensor([1, 2]), 0.0, 1.0, 10, "rk4")


def test_dtype_mismatch_is_reported():
    W = torch.randn(3, 3)  # float32 parameters, float64 state

    with pytest.raises(ParamError, match="dtype"):
        solve(lambda t, y: y.float() @ W, Y0, 0.0, 1.0, 10, "rk4")
    with pytest.raises(ParamError, match="dtype"):
        solve(lambda t, y: y.float() @ W, Y0, 0.0, 1.0, method="dopri5")


def test_device_mismatch_is_reported():
    out = torch.empty(3, dtype=DT, device="meta")
    with pytest.raises(ParamError, match="device"):
        solve(lambda t, y: out, Y0, 0.0, 1.0, 10, "euler")


def test_shape_mismatch_is_reported():
    with pytest.raises(ParamError, match="shape"):
        solve(lambda t, y: y.sum(), Y0, 0.0, 1.0, 10, "euler")


def test_tolerances_with_steps_rejected():
    with pytest.raises(ParamError, match="rtol"):
        solve(riccati, Y0, 0.0, 1.0, 10, "rk4", rtol=1e-6)
    with pytest.raises(ParamError, match="rtol"):
        solve(riccati, Y0, 0.0, 1.0, method="dopri5", rtol=-1.0)


def test_max_steps_says_where_it_stopped():
    with pytest.raises(MaxStepsError, match=r"stopped at t = 0\.\d+") as e:
        solve(riccati, Y0, 0.0, 100.0, method="dopri5", rtol=1e-12, atol=1e-12, max_steps=5)
    assert 0.0 < e.value.t < 100.0
