"""Partitioned (symplectic) methods: order, energy behaviour, reversibility."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nnde.errors import ParamError
from nnde.integrators import METHODS, solve, solve_partitioned

DT = torch.float64
OMEGA = 1.3


def fq(t, p):  # q' = p
    return p


def fp(t, q):  # p' = −ω² q
    return -(OMEGA**2) * q


def energy(q, p):
    return 0.5 * p**2 + 0.5 * OMEGA**2 * q**2


Q0 = torch.tensor([1.0, 0.0, 0.3], dtype=DT)
P0 = torch.tensor([0.0, 1.0, -0.2], dtype=DT)


def exact(t):
    c, s = math.cos(OMEGA * t), math.sin(OMEGA * t)
    return Q0 * c + P0 * s / OMEGA, -Q0 * OMEGA * s + P0 * c


@pytest.mark.parametrize("name", ["symplectic_euler", "verlet"])
def test_observed_order(name):
    ns = (32, 64, 128, 256)
    qe, pe = exact(2.0)
    errs = []
    for n in ns:
        q, p = solve((fq, fp), (Q0, P0), 0.0, 2.0, n, name)
        errs.append(float(torch.maximum((q - qe).abs(), (p - pe).abs()).max()))
    order = -np.polyfit(np.log(ns), np.log(errs), 1)[0]
    assert abs(order - METHODS[name].order) < 0.2, errs


def test_verlet_energy_bounded_while_euler_drifts():
    steps, h = 10_000, 0.01
    t1 = steps * h
    E0 = energy(Q0, P0)
    qs, ps = solve((fq, fp), (Q0, P0), 0.0, t1, steps, "verlet", trajectory=True)
    rel = ((energy(qs, ps) - E0) / E0).abs()  # (steps + 1, 3)
    # bounded: O(h²) oscillation, the same size in the last tenth as in the first tenth
    assert float(rel.max()) < 2e-4
    first, last = rel[: steps // 10].max(0).values, rel[-steps // 10 :].max(0).values
    assert bool((last < 1.5 * first).all())

    y0 = torch.stack([Q0, P0], dim=-1)
    A = torch.tensor([[0.0, 1.0], [-(OMEGA**2), 0.0]], dtype=DT)
    ys = solve(lambda t, y: y @ A.T, y0, 0.0, t1, steps, "euler", trajectory=True)
    rel_e = ((energy(ys[..., 0], ys[..., 1]) - E0) / E0).abs()
    # forward Euler multiplies the energy by 1 + (ωh)² every step: e^{(ωh)² N} − 1 ≈ 4.4
    assert float(rel_e[-1].min()) > 3.0
    assert bool((rel_e[-1] > 100 * rel[-1]).all())


def test_verlet_is_time_reversible():
    def fp_nl(t, q):
        return -torch.sin(q)  # pendulum

    q1, p1 = solve((fq, fp_nl), (Q0, P0), 0.0, 3.0, 300, "verlet")
    q0, p0 = solve((fq, fp_nl), (q1, p1), 3.0, 0.0, 300, "verlet")
    torch.testing.assert_close(q0, Q0, rtol=0, atol=1e-12)
    torch.testing.assert_close(p0, P0, rtol=0, atol=1e-12)


def test_verlet_preserves_phase_space_area():
    # symplectic linear map: the one-step matrix has determinant 1
    M = torch.zeros(2, 2, dtype=DT)
    for j, (q, p) in enumerate([(1.0, 0.0), (0.0, 1.0)]):
        q1, p1 = solve(
            (fq, fp),
            (torch.tensor([q], dtype=DT), torch.tensor([p], dtype=DT)),
            0.0,
            0.4,
            1,
            "verlet",
        )
        M[:, j] = torch.cat([q1, p1])
    assert abs(float(torch.linalg.det(M)) - 1.0) < 1e-14


def test_stats_and_trajectory_shapes():
    (qs, ps), st = solve((fq, fp), (Q0, P0), 0.0, 1.0, 10, "verlet", trajectory=True, stats=True)
    assert qs.shape == ps.shape == (11, 3)
    assert st.nfe == 21 and st.accepted == 10
    q, p = solve_partitioned(fq, fp, Q0, P0, 0.0, 1.0, 10, "symplectic_euler")
    assert q.shape == p.shape == (3,)


def test_partitioned_q_and_p_may_differ_in_shape():
    # q in R^3, p in R^2 with q' = B p, p' = −Bᵀ q
    B = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], dtype=DT)
    q, p = solve(
        (lambda t, p: p @ B.T, lambda t, q: -(q @ B)),
        (torch.ones(4, 3, dtype=DT), torch.zeros(4, 2, dtype=DT)),
        0.0,
        1.0,
        10,
        "verlet",
    )
    assert q.shape == (4, 3) and p.shape == (4, 2)


def test_partitioned_input_errors():
    with pytest.raises(ParamError, match="f=\\(fq, fp\\)"):
        solve(fq, (Q0, P0), 0.0, 1.0, 10, "verlet")
    with pytest.raises(ParamError, match="y0=\\(q0, p0\\)"):
        solve((fq, fp), Q0, 0.0, 1.0, 10, "verlet")
    with pytest.raises(ParamError, match="dtype"):
        solve((fq, lambda t, q: q.float()), (Q0, P0), 0.0, 1.0, 10, "verlet")
    with pytest.raises(ParamError, match="not a symplectic"):
        solve_partitioned(fq, fp, Q0, P0, 0.0, 1.0, 10, "rk4")
