"""The workload catalog: every registry entry appears, invalid combinations are skipped
with a reason (never built), valid ones build and agree with their torchdiffeq peer."""

import pytest
import torch

from nnde.bench import catalog as C
from nnde.bench import measure as M
from nnde.integrators import METHODS


def test_every_method_and_peer_is_an_integrator():
    ints = C.integrators()
    assert set(METHODS) <= set(ints)
    assert {
        "torchdiffeq.euler",
        "torchdiffeq.midpoint",
        "torchdiffeq.rk4",
        "torchdiffeq.dopri5",
    } <= set(ints)
    assert len(set(ints)) == len(ints)  # nothing listed twice


def test_every_method_has_a_valid_case():
    valid = {c.integrator for c in C.valid_cases(devices=("cpu",))}
    assert valid == set(C.integrators())


def test_case_id_round_trip_and_bad_id():
    c = C.Case("rk4", "dense", "small", "backward", "cpu")
    assert C.Case.from_id(c.id) == c
    with pytest.raises(ValueError, match="integrator-problem-size-pass-device"):
        C.Case.from_id("rk4-dense")


@pytest.mark.parametrize(
    "case, why",
    [
        (C.Case("verlet", "dense"), "separable"),
        (C.Case("loop.rk4", "ode_block_adjoint"), "field"),
        (C.Case("backward_euler", "ode_block_direct"), "explicit"),
        (C.Case("leapfrog", "hamiltonian"), "Y''"),
        (C.Case("nope", "dense"), "unknown integrator"),
        (C.Case("rk4", "nope"), "unknown problem"),
    ],
)
def test_invalid_combinations_are_skipped_with_a_reason(case, why):
    """(Classical RK4 through the adjoint is valid since nnde has its own adjoint.)"""
    assert why in C.skip_reason(case)
    with pytest.raises(NotImplementedError, match="."):  # asv reads this as "skipped"
        C.build(case)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible")
def test_cuda_skips_without_a_gpu():
    assert C.skip_reason(C.Case("rk4", "dense", device="cuda")) == "no CUDA device visible"


def test_builds_are_seeded():
    a, b = (C.build(C.Case("rk4", "dense")) for _ in range(2))
    assert torch.equal(a.output(), b.output())


@pytest.mark.parametrize("ours", sorted(C.SAME_TABLE))
def test_same_table_peers_agree(ours):
    a = C.build(C.Case(ours, "dense"))
    b = C.build(C.Case(C.PEER_OF[ours], "dense"))
    assert torch.allclose(a.output(), b.output(), atol=1e-4)
    if ours != "dopri5":  # fixed grid: the same evaluations
        assert a.nfe() == b.nfe()


def test_error_falls_with_order():
    e1 = C.error(C.build(C.Case("euler", "dense")))
    e4 = C.error(C.build(C.Case("rk4", "dense")))
    assert e4 < e1 / 100


def test_backward_pass_fills_gradients():
    w = C.build(C.Case("rk4", "hamiltonian", pass_="backward"))
    w.run()
    assert all(p.grad is not None for p in w.field.parameters())


def test_peak_memory_delta_grows_with_steps_for_direct_backprop():
    def run(n):
        return C.build(C.Case("euler", "ode_block_direct", "medium", "backward"), steps=n).run

    run(8)()  # warm-up: the process's first backward pass allocates once for good
    m = [M.peak_memory_delta(run(n), "cpu") for n in (8, 128)]
    assert m[1] > 4 * max(m[0], 1)


# --------------------------------------------------------------------------- loops
def test_every_fixed_step_explicit_table_has_a_hand_written_loop():
    fixed = {n for n, m in METHODS.items() if m.kind == "explicit" and not m.adaptive}
    assert set(C.LOOP_OF) == fixed
    assert set(C.LOOPS) <= set(C.integrators())
    assert all(C.same_table(m, loop) for m, loop in C.LOOP_OF.items())
    assert not C.same_table("rk4", "loop.rk38") and not C.same_table("rk4", "torchdiffeq.rk4")


def test_loops_import_no_library_code():
    import ast
    import inspect

    src = inspect.getsource(C._loop_rk4) + "".join(inspect.getsource(f)
                                                   for f in C._LOOP_FN.values())
    names = {n.id for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Name)}
    assert not names & {"solve", "get_method", "ExplicitRK", "scaled_coefficients"}


def test_loop_pairs_cover_every_method_field_and_pass():
    pairs = C.loop_pairs()
    assert len(pairs) == len(C.LOOP_OF) * len(C.FIELD_PROBLEMS) * len(C.PASSES)
    assert all(C.LOOP_OF[a.integrator] == b.integrator for a, b in pairs)
    assert all((a.problem, a.size, a.pass_) == (b.problem, b.size, b.pass_) for a, b in pairs)
    assert "ODE block" in C.skip_reason(C.Case("loop.rk4", "ode_block_direct"))
    assert "unknown loop" in C.skip_reason(C.Case("loop.dopri5", "dense"))


@pytest.mark.parametrize("problem", C.FIELD_PROBLEMS)
@pytest.mark.parametrize("ours", sorted(C.LOOP_OF))
def test_hand_written_loop_equals_ours(ours, problem):
    a = C.build(C.Case(ours, problem))
    b = C.build(C.Case(C.LOOP_OF[ours], problem))
    assert torch.equal(a.y0, b.y0)
    diff = float((a.output() - b.output()).abs().max())
    assert diff <= 1e-6, diff  # float32; the tables are the same, term by term
    assert a.nfe() == b.nfe() == C.SIZES["small"].steps * len(METHODS[ours].tableau.c)


def test_loop_backward_pass_fills_gradients_and_has_an_error():
    w = C.build(C.Case("loop.rk38", "dense", pass_="backward"))
    w.run()
    assert all(p.grad is not None for p in w.field.parameters())
    assert C.error(C.build(C.Case("loop.rk4", "dense"))) < 1e-4
