"""Continuous normalising flows and planar flows (Chen et al. §4): the exact trace, the
change of variables in both directions, normalised targets, and bad input."""

from __future__ import annotations

import math

import pytest
import torch

from nnde.errors import ParamError
from nnde.models.flows import (
    CNF,
    HyperField,
    PlanarFlow,
    Stacked,
    Target,
    gaussian_kl,
    make_target,
    square_grid,
    two_circles,
    two_moons,
)


def test_trace_is_the_jacobian_trace():
    torch.manual_seed(0)
    f = HyperField(5)
    z = torch.randn(7, 2, dtype=torch.float64, requires_grad=True)
    f = f.double()
    dz, tr = f(0.3, z)
    jac = [torch.autograd.grad(dz[:, i].sum(), z, retain_graph=True)[0][:, i] for i in range(2)]
    assert torch.allclose(tr, jac[0] + jac[1], atol=1e-12)


@pytest.mark.parametrize("prepared", [False, True], ids=["unprepared", "prepared"])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_augmented_field_is_the_field_and_its_signed_trace(prepared, sign):
    """The five-operation augmented field (the solver's) equals (f, sign · tr ∂f/∂z) of
    ``forward``, with matrices precomputed for a solve's stage times or made on the spot,
    and its gradients with respect to the weights are the same."""
    torch.manual_seed(5)
    f = HyperField(6, average=True).double()
    s = torch.randn(9, 3, dtype=torch.float64)
    if prepared:
        f.prepare([0.0, 0.25, 0.5], s, sign)
    got = f.augmented(torch.tensor(0.25, dtype=torch.float64), s, sign)
    dz, tr = f(0.25, s[:, :2])
    want = torch.cat([dz, (sign * tr).unsqueeze(-1)], -1)
    assert torch.allclose(got, want, atol=1e-12)
    g_got = torch.autograd.grad(got.square().sum(), list(f.parameters()), retain_graph=True)
    g_want = torch.autograd.grad(want.square().sum(), list(f.parameters()))
    for a, b in zip(g_got, g_want, strict=True):
        assert torch.allclose(a, b, atol=1e-10)
    f.release()


def test_planar_flow_log_det_is_the_jacobian_log_det():
    torch.manual_seed(6)
    f = PlanarFlow(4).double()
    z = torch.randn(5, 2, dtype=torch.float64)
    _, logdet = f.transform(z)
    for i in range(len(z)):
        jac = torch.autograd.functional.jacobian(lambda v: f.transform(v[None])[0][0], z[i])
        assert float(logdet[i]) == pytest.approx(float(torch.linalg.det(jac).abs().log()),
                                                 abs=1e-10)


def test_cnf_density_matches_the_density_of_its_samples():
    """log p(x) by the backward solve equals log q of the forward-pushed sample, and the
    backward solve returns the noise it came from (the flow is invertible)."""
    torch.manual_seed(1)
    m = CNF(4, steps=64).double()
    z0 = torch.randn(6, 2, dtype=torch.float64)
    x, log_q = m.sample(6, z0=z0)
    assert torch.allclose(m.log_prob(x), log_q, atol=1e-6)
    assert not torch.allclose(x, z0)  # it did move the points


def test_cnf_log_prob_converges_with_the_solver_at_order_four():
    torch.manual_seed(2)
    m = CNF(8).double()
    x = two_moons().sample(16, torch.Generator().manual_seed(0)).double()
    with torch.no_grad():
        m.field.net[-1].weight.mul_(4)  # a field strong enough for the solver error to show
        ref = m.log_prob(x, steps=512)
        e1 = float((m.log_prob(x, steps=16) - ref).abs().max())
        e2 = float((m.log_prob(x, steps=32) - ref).abs().max())
    assert e1 > 0 and 2 ** 3.5 < e1 / e2 < 2 ** 4.5


@pytest.mark.parametrize("kw", [{}, {"t1": 10.0, "base_std": 0.1 ** 0.5, "average": True,
                                   "steps": 20}],
                         ids=["paper-description", "authors-example"])
def test_cnf_density_integrates_to_one(kw):
    torch.manual_seed(3)
    m = CNF(3, **kw)
    a = torch.linspace(-6, 6, 241)
    yy, xx = torch.meshgrid(a, a, indexing="ij")
    g = torch.stack([xx.reshape(-1), yy.reshape(-1)], -1)
    with torch.no_grad():
        mass = float(m.log_prob(g).exp().sum() * (a[1] - a[0]) ** 2)
    assert mass == pytest.approx(1.0, abs=0.01)


def test_planar_flow_log_det_and_invertibility_constraint():
    torch.manual_seed(4)
    f = PlanarFlow(3).double()
    with torch.no_grad():
        f.u.copy_(-5 * f.w)  # would make a layer non-invertible without the constraint
    u = f._u_hat()
    assert bool(((u * f.w).sum(-1) >= -1 - 1e-12).all())
    z = torch.randn(5, 2, dtype=torch.float64)
    _, logdet = f.transform(z)
    for i in range(5):
        jac = torch.autograd.functional.jacobian(lambda v: f.transform(v[None])[0][0], z[i])
        assert float(logdet[i]) == pytest.approx(float(torch.linalg.det(jac).abs().log()),
                                                 abs=1e-9)
    x, log_q = f.sample(5, z0=z)
    assert torch.allclose(log_q, -0.5 * (z.square().sum(-1) + 2 * math.log(2 * math.pi))
                          - logdet)


@pytest.mark.parametrize("target", [two_circles(), two_moons()])
def test_targets_are_normalised_and_sampled_from(target):
    a = torch.linspace(-2.5, 2.5, 501, dtype=torch.float64)
    yy, xx = torch.meshgrid(a, a, indexing="ij")
    g = torch.stack([xx.reshape(-1), yy.reshape(-1)], -1)
    mass = float(target.log_prob(g).exp().sum() * (a[1] - a[0]) ** 2)
    assert mass == pytest.approx(1.0, abs=1e-3)
    # the samples come from the density: their mean log p is −H(p), as the estimate says
    x = target.sample(20000, torch.Generator().manual_seed(5))
    assert float(-target.log_prob(x).mean()) == pytest.approx(target.entropy(seed=6), abs=0.03)


def test_bad_sizes_and_targets_are_named():
    with pytest.raises(ParamError, match="width"):
        CNF(0)
    with pytest.raises(ParamError, match="layers"):
        PlanarFlow(0)
    with pytest.raises(ParamError, match="two_circles, two_moons"):
        make_target("spiral")


def test_gaussian_kl_is_zero_for_a_gaussian_and_positive_for_the_rings():
    """KL(p || moment-matched Gaussian): ≈ 0 when p is itself one Gaussian (Monte Carlo
    error only), clearly positive for two circles."""
    one = Target("one", torch.tensor([[0.3, -0.2]]), noise=0.5)
    assert abs(gaussian_kl(one, n=20000)) < 0.01
    assert gaussian_kl(two_circles()) > 0.5


def test_square_grid_rows_run_along_x_first():
    g = square_grid(3, lim=1.0)
    assert g.shape == (9, 2)
    assert torch.equal(g[:3, 0], torch.tensor([-1.0, 0.0, 1.0])) and bool((g[:3, 1] == -1).all())


def test_cnf_authors_settings_sample_and_density_agree():
    """t ∈ [0, 10], base N(0, 0.1 I), units averaged: log q of a pushed sample equals the
    backward solve's log-density, and the base log-density is N(0, 0.1 I)'s."""
    torch.manual_seed(5)
    m = CNF(4, t1=10.0, base_std=0.1 ** 0.5, average=True, steps=200).double()
    z0 = torch.randn(5, 2, dtype=torch.float64)
    x, log_q = m.sample(5, z0=z0)
    assert torch.allclose(m.log_prob(x), log_q, atol=1e-6)
    z = torch.randn(3, 2, dtype=torch.float64)
    ref = torch.distributions.MultivariateNormal(torch.zeros(2, dtype=torch.float64),
                                                 0.1 * torch.eye(2, dtype=torch.float64))
    assert torch.allclose(m.base_log_prob(z), ref.log_prob(z))
    with pytest.raises(ParamError):
        CNF(2, t1=0.0)
    with pytest.raises(ParamError):
        CNF(2, base_std=-1.0)


def _members(make, n=3):
    out = []
    for s in range(n):
        torch.manual_seed(s)
        out.append(make())
    return out


@pytest.mark.parametrize("make", [
    lambda: PlanarFlow(5),
    lambda: CNF(4, steps=6),
    lambda: CNF(3, steps=5, t1=10.0, base_std=0.1 ** 0.5, average=True),
], ids=["planar", "cnf", "cnf_authors"])
def test_stacked_flows_are_their_members_side_by_side(make):
    """Stacked(members) computes each member's samples, log-densities and gradients as
    the member alone does; ``active`` computes a subset, and the others get no
    gradient."""
    ms = _members(make)
    z = torch.randn(3, 40, 2, generator=torch.Generator().manual_seed(9))
    st = Stacked(ms)
    x, log_q = st.sample(z)
    (log_q.mean(-1) * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    grads = [[q.grad.clone() for q in m.parameters()] for m in ms]
    for e, m in enumerate(ms):
        m.zero_grad()
        x1, lq1 = m.sample(40, z0=z[e])
        ((e + 1) * lq1.mean()).backward()
        torch.testing.assert_close(x[e], x1, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(log_q[e], lq1, rtol=1e-5, atol=1e-4)
        for g, q in zip(grads[e], m.parameters(), strict=True):
            torch.testing.assert_close(g, q.grad, rtol=1e-4, atol=1e-6)
    for m in ms:
        m.zero_grad(set_to_none=True)
    x2, _ = st.sample(z[[0, 2]], active=[0, 2])
    x2.sum().backward()
    torch.testing.assert_close(x2, torch.stack([x[0], x[2]]).detach())
    assert all(q.grad is None for q in ms[1].parameters())
    assert all(q.grad is not None for q in ms[0].parameters())
    if isinstance(ms[0], CNF):
        data = x.detach()
        lp = st.log_prob(data)
        for e, m in enumerate(ms):
            torch.testing.assert_close(lp[e], m.log_prob(data[e]), rtol=1e-5, atol=1e-4)


def test_stacked_flows_refuse_mixed_members_and_mismatched_inputs():
    with pytest.raises(ValueError, match="one kind, size"):
        Stacked([PlanarFlow(2), PlanarFlow(3)])
    with pytest.raises(ValueError, match="one kind, size"):
        Stacked([CNF(2), CNF(2, steps=3)])
    with pytest.raises(TypeError, match="PlanarFlow or CNF"):
        Stacked([torch.nn.Linear(2, 2)])
    with pytest.raises(ValueError, match="3 members' noise for 2 flows"):
        Stacked([PlanarFlow(2), PlanarFlow(2)]).sample(torch.randn(3, 4, 2))
    with pytest.raises(TypeError, match="for CNFs"):
        Stacked([PlanarFlow(2)]).log_prob(torch.randn(1, 4, 2))
    with pytest.raises(ValueError, match="explicit Runge–Kutta method with fixed steps"):
        Stacked([CNF(2, method="backward_euler")]).sample(torch.randn(1, 4, 2))


@pytest.mark.parametrize("kind", ["planar", "cnf"])
def test_flow_step_benchmark_modes_are_one_computation(kind):
    """The benchmark's two modes (nnde.bench.flows) train the same flows on the same noise:
    their summed losses agree step by step, so the timing compares like with like."""
    from nnde.bench.flows import flow_step

    alone, side = flow_step(kind, 3, "one_by_one", size=4), flow_step(kind, 3, "side_by_side",
                                                                      size=4)
    for _ in range(3):
        assert side() == pytest.approx(alone(), rel=1e-4, abs=1e-4)
    with pytest.raises(ValueError, match="mode"):
        flow_step(kind, 3, "sideways")
