"""Chen et al. spiral demo, memory and Table 2 claims: each rule fails on data where the
claim is false and passes where it is true; Table 2 is inconclusive when a model does
not beat predicting the origin."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from .stages import load_stage

spiral, memory, table2 = (load_stage("chen", n, "verdicts")
                          for n in ("spiral", "memory", "table2"))


def _v(claims):
    return {c.id: c.verdict for c in claims}


def _log(test_first, test_last, train_first, train_last):
    return pd.DataFrame({"test_loss": [test_first, test_last],
                         "train_loss": [train_first, train_last]})


@pytest.mark.verdicts("chen.spiral.spiral_data_energy")
def test_spiral_energy_check_fails_when_the_balance_does_not_hold():
    log = _log(1.0, 0.1, 1.0, 0.1)
    ok = {c.id: c for c in spiral.make_claims(log, (-2.0, -2.0005), 0.5, 10)}
    assert ok["spiral_data_energy"].verdict == "reproduced"
    assert ok["spiral_data_energy"].kind == "check"
    assert _v(spiral.make_claims(log, (-2.0, -2.5), 0.5, 10))["spiral_data_energy"] \
        == "not reproduced"
    assert _v(spiral.make_claims(log, (0.5, 0.5), 0.5, 10))["spiral_data_energy"] \
        == "not reproduced"  # energy must decay


@pytest.mark.verdicts("chen.spiral.spiral_fit")
def test_spiral_fit_fails_when_the_loss_does_not_fall():
    bal = (-2.0, -2.0)
    assert _v(spiral.make_claims(_log(1.0, 0.2, 1.0, 0.1), bal, 0.5, 10))["spiral_fit"] \
        == "reproduced"
    assert _v(spiral.make_claims(_log(1.0, 0.9, 1.0, 0.1), bal, 0.5, 10))["spiral_fit"] \
        == "partly"
    assert _v(spiral.make_claims(_log(1.0, 0.9, 1.0, 0.95), bal, 0.5, 10))["spiral_fit"] \
        == "not reproduced"


def _mem(adj_slope, direct_slope):
    steps = np.array([8, 32, 128, 512])
    rows = [{"gradient": g, "steps": int(s), "peak_saved_MB": float(s) ** k}
            for g, k in (("adjoint", adj_slope), ("direct", direct_slope)) for s in steps]
    return pd.DataFrame(rows)


def _err(errors):
    tols = [1e-2, 1e-3, 1e-4, 1e-5]
    return pd.DataFrame({"gradient": "adjoint", "tol": tols, "rel_error": errors})


GOOD_ERR = [1e-1, 1e-2, 1e-3, 1e-4]


@pytest.mark.verdicts("chen.memory.adjoint_memory_flat", "chen.memory.direct_memory_linear")
def test_memory_slopes_fail_when_memory_behaves_otherwise():
    good = _v(memory.make_claims(_mem(0.0, 1.0), _err(GOOD_ERR), 0.1, 0.8))
    assert good["adjoint_memory_flat"] == good["direct_memory_linear"] == "reproduced"
    bad = _v(memory.make_claims(_mem(1.0, 0.0), _err(GOOD_ERR), 0.1, 0.8))
    assert bad["adjoint_memory_flat"] == bad["direct_memory_linear"] == "not reproduced"


@pytest.mark.verdicts("chen.memory.adjoint_gradient_approximate")
def test_adjoint_error_claim_fails_when_error_ignores_the_tolerance():
    mem = _mem(0.0, 1.0)
    assert _v(memory.make_claims(mem, _err(GOOD_ERR), 0.1, 0.8))[
        "adjoint_gradient_approximate"] == "reproduced"
    flat = _v(memory.make_claims(mem, _err([1e-3, 1e-3, 1e-3, 1e-3]), 0.1, 0.8))
    assert flat["adjoint_gradient_approximate"] == "not reproduced"
    exact = _v(memory.make_claims(mem, _err([1e-1, 1e-2, 1e-3, 0.0]), 0.1, 0.8))
    assert exact["adjoint_gradient_approximate"] != "reproduced"  # zero error: not approximate


def _t2(ode, rnn, origin=(1.0, 1.0, 1.0), ns=(30, 50, 100)):
    rows = []
    for n, a, b, o in zip(ns, ode, rnn, origin, strict=True):
        rows += [{"observed": n, "kind": "latent_ode", "extrap_rmse": a},
                 {"observed": n, "kind": "rnn", "extrap_rmse": b},
                 {"observed": n, "kind": "origin", "extrap_rmse": o}]
    return pd.DataFrame(rows)


@pytest.mark.verdicts("chen.table2.latent_ode_beats_rnn")
def test_table2_latent_ode_beats_rnn_fails_and_needs_learned_models():
    assert _v(table2.make_claims(_t2([0.16, 0.15, 0.13], [0.39, 0.32, 0.18])))[
        "latent_ode_beats_rnn"] == "reproduced"
    assert _v(table2.make_claims(_t2([0.40, 0.35, 0.20], [0.39, 0.32, 0.18])))[
        "latent_ode_beats_rnn"] == "not reproduced"
    # the case: neither model beats predicting the origin -> inconclusive
    noise = _v(table2.make_claims(_t2([0.999, 0.99, 0.98], [1.0, 0.995, 0.99])))
    assert noise["latent_ode_beats_rnn"] == noise["more_points_help_rnn"] == "inconclusive"


@pytest.mark.verdicts("chen.table2.more_points_help_rnn")
def test_table2_more_points_help_rnn_fails():
    assert _v(table2.make_claims(_t2([0.16, 0.15, 0.13], [0.39, 0.32, 0.18])))[
        "more_points_help_rnn"] == "reproduced"
    assert _v(table2.make_claims(_t2([0.16, 0.15, 0.13], [0.18, 0.32, 0.39])))[
        "more_points_help_rnn"] == "not reproduced"
    # an RNN that has not learned makes it inconclusive even when the latent ODE has
    assert _v(table2.make_claims(_t2([0.16, 0.15, 0.13], [0.95, 0.9, 0.85])))[
        "more_points_help_rnn"] == "inconclusive"
