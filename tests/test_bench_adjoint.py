"""The adjoint benchmark (nnde.bench.adjoint) on a tiny ODE-Net: both backends measured
on the same model, their gradients checked against a tight direct solve, and the
evaluation floor computed from the NFE each actually made. No timing is asserted."""

from __future__ import annotations

import math

from nnde.bench import adjoint as BA


def test_adjoint_benchmark_rows_and_floor(one_thread):
    rows = BA.measure(tols=(0.1,), channels=4, batch=8, rounds=1)
    assert [r.backend for r in rows] == list(BA.BACKENDS)
    for r in rows:
        assert r.nfe_forward >= 7 and r.nfe_backward >= 7  # at least one dopri5 step each
        assert 0 <= r.grad_rel_error < 1 and math.isfinite(r.grad_rel_error)
        assert r.seconds > 0 and r.floor_seconds > 0 and r.saved_mib > 0
    df = BA.frame(rows)
    td = df[df.backend == "torchdiffeq"].iloc[0]
    assert td.time_vs_torchdiffeq == 1.0
    # the floor scales with the NFE made: equal NFE, equal floor
    a, b = rows
    if (a.nfe_forward, a.nfe_backward) == (b.nfe_forward, b.nfe_backward):
        assert a.floor_seconds == b.floor_seconds
