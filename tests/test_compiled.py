"""The compiled path (``solve(..., compile=...)``, ``Stack.compile()``): outputs and
gradients equal to eager, in float32 and float64, for every fixed-step method it
supports; unsupported methods and uncapturable fields fail clearly; compiled solvers
are cached and not recompiled per call.

Most tests compile with ``backend="aot_eager"``: it runs the same graph capture as the
default backend (Dynamo with fullgraph=True, so a graph break fails the test) and
AOTAutograd's joint forward/backward tracing, i.e. exactly the graphs inductor would
receive, and skips only inductor's code generation, which costs 3–25 s per graph on a
2-core CPU. ``test_inductor_matches_eager`` compiles with the real default backend.
"""

from __future__ import annotations

import pytest
import torch

from nnde.errors import ParamError
from nnde.fields import DenseField, HamiltonianField
from nnde.integrators import METHODS, solve, solve_second_order
from nnde.integrators import compiled as K
from nnde.layers import get_layer

CAPTURE = {"backend": "aot_eager"}
TOL = {torch.float32: dict(rtol=1e-5, atol=1e-6), torch.float64: dict(rtol=1e-12, atol=1e-13)}
STEPS = 3
WIDTH = 4


def _counting_backend():
    calls = []

    def backend(gm, example_inputs):
        calls.append(len(gm.graph.nodes))
        return gm.forward

    return backend, calls


def test_supported_methods_are_every_fixed_step_kind():
    names = K.supported_methods()
    assert set(names) == {k for k, m in METHODS.items() if m.kind != "implicit"}
    assert "rk4" in names and "verlet" in names and "leapfrog" in names
    assert not any(METHODS[n].kind == "implicit" for n in names)


def _problem(method, dtype):
    """(run(compile) -> output tensor, tensors whose gradients are compared)."""
    torch.manual_seed(0)
    kind = METHODS[method].kind
    y0 = torch.randn(3, WIDTH, dtype=dtype, requires_grad=True)
    if kind == "symplectic":
        field = HamiltonianField(WIDTH).to(dtype)
        p0 = torch.randn(3, WIDTH, dtype=dtype, requires_grad=True)

        def run(compile):
            q, p = solve(field.pair, (y0, p0), 0.0, 0.7, STEPS, method, compile=compile)
            return torch.cat([q, p], dim=1)

        return run, [y0, p0, *field.parameters()]
    field = DenseField(WIDTH).to(dtype)
    if kind == "multistep":
        start = "rest" if method == "leapfrog" else "taylor"
        v0 = torch.randn(3, WIDTH, dtype=dtype) if start == "taylor" else None

        def run(compile):
            return solve_second_order(field, y0, 0.0, 0.7, STEPS, v0=v0, start=start,
                                      trajectory=True, compile=compile)

        return run, [y0, *field.parameters()]

    def run(compile):
        return solve(field, y0, 0.0, 0.7, STEPS, method, compile=compile)

    return run, [y0, *field.parameters()]


def _value_and_grads(run, leaves, compile):
    for x in leaves:
        x.grad = None
    out = run(compile)
    out.square().sum().backward()
    return out.detach(), [x.grad.clone() for x in leaves]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("method", K.supported_methods())
def test_compiled_matches_eager_outputs_and_gradients(method, dtype):
    run, leaves = _problem(method, dtype)
    want, want_g = _value_and_grads(run, leaves, False)
    got, got_g = _value_and_grads(run, leaves, CAPTURE)
    assert got.dtype == dtype
    torch.testing.assert_close(got, want, **TOL[dtype])
    for g, w in zip(got_g, want_g, strict=True):
        torch.testing.assert_close(g, w, **TOL[dtype])
    with torch.no_grad():  # the forward-only graph, as benchmarks and inference run it
        torch.testing.assert_close(run(CAPTURE), want, **TOL[dtype])


def test_inductor_matches_eager():
    """The real default backend (inductor's generated C++), forward and backward."""
    torch.manual_seed(1)
    field = DenseField(WIDTH).double()
    y0 = torch.randn(3, WIDTH, dtype=torch.float64, requires_grad=True)

    def run(compile):
        return solve(field, y0, 0.0, 1.0, 2, "rk4", compile=compile)

    leaves = [y0, *field.parameters()]
    want, want_g = _value_and_grads(run, leaves, False)
    got, got_g = _value_and_grads(run, leaves, True)
    torch.testing.assert_close(got, want, **TOL[torch.float64])
    for g, w in zip(got_g, want_g, strict=True):
        torch.testing.assert_close(g, w, **TOL[torch.float64])


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(method="dopri5"), "adaptive"),
        (dict(method="bosh3", rtol=1e-3), "adaptive"),
        (dict(method="backward_euler", steps=2), "implicit method 'backward_euler'"),
        (dict(method="implicit_midpoint", steps=2), "implicit method 'implicit_midpoint'"),
    ],
)
def test_unsupported_methods_fail_naming_the_supported_ones(kw, message):
    f = DenseField(WIDTH).double()
    y0 = torch.randn(2, WIDTH, dtype=torch.float64)
    before = K.cache_size()
    with pytest.raises(ParamError, match="'compile'") as exc:
        solve(f, y0, 0.0, 1.0, compile=True, **kw)
    text = str(exc.value)
    assert message in text and "compile=False" in text
    assert "allowed: euler, midpoint, heun, rk4" in text and "verlet" in text
    assert K.cache_size() == before  # nothing compiled


@pytest.mark.parametrize(
    "value, message",
    [
        ({"fullgraph": False}, "unknown option(s) ['fullgraph']"),
        ("yes", "must be True/False or a dict"),
        ({"dynamic": "maybe"}, "dynamic must be None, True or False"),
        ({"mode": 3}, "mode must be a string"),
    ],
)
def test_bad_compile_options_fail_clearly(value, message):
    with pytest.raises(ParamError) as exc:
        solve(DenseField(WIDTH), torch.zeros(1, WIDTH), 0.0, 1.0, 2, "euler", compile=value)
    assert message in str(exc.value)


def test_a_field_with_the_wrong_shape_fails_with_solves_message():
    f = DenseField(WIDTH)
    with pytest.raises(ParamError, match=r"'f' returned shape \(4,\), expected \(2, 4\)"):
        solve(lambda t, y: f(t, y).sum(0), torch.zeros(2, WIDTH), 0.0, 1.0, 2, "rk4",
              compile=CAPTURE)


def test_a_field_with_a_graph_break_fails_naming_the_fix():
    f = DenseField(WIDTH)

    def breaking(t, y):
        torch._dynamo.graph_break()
        return f(t, y)

    with pytest.raises(ParamError, match="cannot be compiled into one graph") as exc:
        solve(breaking, torch.zeros(2, WIDTH), 0.0, 1.0, 2, "euler", compile=CAPTURE)
    assert "compile=False" in str(exc.value) and "explain" in str(exc.value)


def test_compiled_solvers_are_cached_not_recompiled_per_call():
    backend, graphs = _counting_backend()
    # dynamic=False: every size its own graph. (With the default, torch makes a size
    # that changed symbolic, remembering it per source function across tests.)
    opts = {"backend": backend, "dynamic": False}
    torch.manual_seed(2)
    f, g = DenseField(WIDTH), DenseField(WIDTH)
    y0 = torch.randn(5, WIDTH)
    with torch.no_grad():
        a = solve(f, y0, 0.0, 1.0, 4, "heun", compile=opts)
        assert len(graphs) == 1
        for _ in range(3):
            solve(f, y0 + 1, 0.0, 1.0, 4, "heun", compile=opts)
        assert len(graphs) == 1  # same field, grid, shape: no recompile
        solve(g, y0, 0.0, 1.0, 4, "heun", compile=opts)
        assert len(graphs) == 1  # another field of the same class: its weights are inputs
        solve(f, torch.randn(7, WIDTH), 0.0, 1.0, 4, "heun", compile=opts)
        assert len(graphs) == 2  # a new batch size
        solve(f, y0, 0.0, 1.0, 8, "heun", compile=opts)
        assert len(graphs) == 3  # a new grid is a new graph
        res, st = solve(f, y0, 0.0, 1.0, 4, "heun", compile=opts, stats=True)
        solve(f, torch.randn(7, WIDTH), 0.0, 1.0, 4, "heun", compile=opts)
    assert len(graphs) == 3  # both sizes and both grids are cached
    assert st.nfe == 8 and st.accepted == 4
    torch.testing.assert_close(res, a)
    torch.testing.assert_close(a, solve(f, y0, 0.0, 1.0, 4, "heun"), rtol=1e-6, atol=1e-7)


def test_eager_stays_the_default():
    before = K.cache_size()
    solve(DenseField(WIDTH), torch.zeros(1, WIDTH), 0.0, 1.0, 2, "rk4")
    assert K.cache_size() == before


LAYERS = [
    ("rk", dict(width=WIDTH, depth=3, method="rk38")),
    ("hamiltonian", dict(width=WIDTH, depth=3)),
    ("second_order", dict(width=WIDTH, depth=3)),
    ("parabolic_cnn", dict(channels=2, depth=2)),
]


@pytest.mark.parametrize("name, kw", LAYERS, ids=[n for n, _ in LAYERS])
def test_layer_stacks_compile_to_one_graph_and_match_eager(name, kw):
    torch.manual_seed(3)
    net = get_layer(name, **kw).double()
    shape = (2, 2, 5, 5) if "cnn" in name else (3, WIDTH)
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    explained = torch._dynamo.explain(net)(x)
    assert (explained.graph_count, explained.graph_break_count) == (1, 0)
    keys = list(net.state_dict())

    def value_and_grads():
        x.grad = None
        net.zero_grad(set_to_none=True)
        out = net(x)
        out.square().sum().backward()
        return [out.detach(), x.grad.clone(), *(p.grad.clone() for p in net.parameters())]

    want = value_and_grads()
    assert not net.compiled
    assert net.compile(**CAPTURE) is net and net.compiled
    got = value_and_grads()
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, **TOL[torch.float64])
    assert list(net.state_dict()) == keys


def test_ode_block_compiles_its_solve_and_counts_evaluations():
    torch.manual_seed(4)
    block = get_layer("ode_block", field="dense", method="rk4", steps=2, width=WIDTH).double()
    x = torch.randn(3, WIDTH, dtype=torch.float64, requires_grad=True)
    want = block(x)
    (gw,) = torch.autograd.grad(want.sum(), x)
    block.reset_nfe()
    assert block.compile(**CAPTURE) is block and block.compiled
    got = block(x)
    (gg,) = torch.autograd.grad(got.sum(), x)
    torch.testing.assert_close(got, want, **TOL[torch.float64])
    torch.testing.assert_close(gg, gw, **TOL[torch.float64])
    assert (block.nfe_forward, block.nfe_backward) == (8, 0)
    adjoint = get_layer("ode_block", field="dense", method="rk38", steps=2, width=WIDTH,
                        gradient="adjoint")
    with pytest.raises(ParamError, match="gradient='direct' and fixed steps"):
        adjoint.compile()


def test_past_the_recompile_limit_is_an_error_not_a_silent_fallback():
    f = DenseField(WIDTH)
    opts = {"backend": "eager", "dynamic": False}
    limit = torch._dynamo.config.recompile_limit
    with torch.no_grad(), pytest.raises(ParamError, match="recompile_limit") as exc:
        for n in range(1, limit + 2):  # every batch size a new static graph
            solve(f, torch.zeros(n, WIDTH), 0.0, 1.0, 1, "midpoint", compile=opts)
    assert "dynamic=True" in str(exc.value)
