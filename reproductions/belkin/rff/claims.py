"""The claims of Belkin et al. (2019), Figure 2 (random Fourier features), judged from
``sweep.csv``, ``data.json`` (n, the trivial predictors' losses) and ``config.json``.

A comparison of test losses at two feature counts is decided beyond its noise
(:func:`nnde.claims.compare`): the spread over feature draws and the test set's own
sampling error (binomial for the zero-one loss; the per-example spread, saved as
``test_squared_se``, for the squared loss)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from nnde.claims import ClaimSet, check, compare, fmt

from .summary import summarise

#: The peak counts as "at the threshold" when its location is within this factor of n.
PEAK_FACTOR = 1.5
#: "Training loss ≈ 0" past the threshold: largest training squared loss below this.
TRAIN_ZERO = 1e-6
#: Floor of the comparisons between fits: the fit a comparison rests on has at most this
#: fraction of the test loss of the trivial predictor (``data.json``'s ``trivial``).
FLOOR_FRACTION = 0.5
claim = ClaimSet()


def _known(c) -> bool:
    """The comparison has a noise estimate (a seed spread, or the evaluation set's
    sampling error): without one no difference is decided."""
    return math.isfinite(c.se_seeds) or c.se_eval > 0


def _n(res) -> int:
    return int(res.record("data")["n"])


def _summary(res):
    return summarise(res.frame("sweep")).sort_values("N")


def _cmp(res, key: str, N_a: int, N_b: int, log: bool = False):
    """Test loss ``key`` at N_a minus at N_b (means over draws) with its noise; ``log``:
    of the natural logarithms of the losses (the squared loss, which Fig. 2 plots on a
    log axis: at N = n its height varies by orders of magnitude between feature draws,
    so a mean on the linear scale is one draw's), the test set's standard error carried
    over per draw (delta method)."""
    df = res.frame("sweep")
    a, b = df[df.N == N_a], df[df.N == N_b]
    if key == "test_zero_one":
        if log:
            raise ValueError("the zero-one loss is compared on its own scale")
        return compare(list(a[key]), list(b[key]), eval_n=int(res.record("data")["n_test"]),
                       rate=1)
    va, vb = (np.log(a[key]), np.log(b[key])) if log else (a[key], b[key])
    c = compare(list(va), list(vb))
    if "test_squared_se" in df:  # of the logarithm: SE / loss, per draw
        se_a = a.test_squared_se / (a[key] if log else 1.0)
        se_b = b.test_squared_se / (b[key] if log else 1.0)
        c = dataclasses.replace(c, se_eval=math.hypot(float(se_a.mean()), float(se_b.mean())))
    return c


def _peak_cmp(res, key: str, log: bool = False):
    """The largest median ``key`` for N within a factor PEAK_FACTOR of n against the
    largest outside that window: (N inside, N outside, comparison, of the logarithms
    with ``log``), or Nones when one side of the window is empty."""
    n, summ = _n(res), _summary(res)
    inside = (summ.N >= n / PEAK_FACTOR) & (summ.N <= n * PEAK_FACTOR)
    if not inside.any() or inside.all():
        return None, None, None
    col = f"{key}_median"
    n_in = int(summ[inside].loc[summ[inside][col].idxmax(), "N"])
    n_out = int(summ[~inside].loc[summ[~inside][col].idxmax(), "N"])
    return n_in, n_out, _cmp(res, key, n_in, n_out, log=log)


def _paper_note(res) -> str:
    """Where the profile departs from the paper's data (said in every claim's note)."""
    if res.record("config")["dataset"] == "mnist":
        return ""
    return f"Small profile: 8×8 digits with n = {_n(res)}, not MNIST with n = 10⁴."


@claim
def rff_peak_at_threshold(res):
    """Belkin et al. 2019, Fig. 2 (MNIST, n = 10⁴): the median test squared loss over N
    peaks at the interpolation threshold N = n: the largest median within a factor
    PEAK_FACTOR of n exceeds the largest outside it beyond the noise (the squared loss
    on a log scale, as Fig. 2 plots it); 'partly' if only the zero-one loss does."""
    n, summ = _n(res), _summary(res)
    Ns = summ.N.to_numpy()
    sq, zo = summ.test_squared_median.to_numpy(), summ.test_zero_one_median.to_numpy()
    i, iz = int(np.argmax(sq)), int(np.argmax(zo))
    s_in, s_out, c_sq = _peak_cmp(res, "test_squared", log=True)
    z_in, z_out, c_zo = _peak_cmp(res, "test_zero_one")
    passed = c_sq is not None and _known(c_sq) and c_sq.exceeds(0.0)
    partly = c_zo is not None and _known(c_zo) and c_zo.exceeds(0.0)
    return check(
        "rff_peak_at_threshold",
        "The test loss peaks at the interpolation threshold N = n",
        paper="peak at N = n = 10⁴ (Fig. 2, MNIST)",
        ours=f"squared loss peaks at N = {int(Ns[i])} = {fmt(Ns[i] / n, 3)} n "
        f"({fmt(sq[i])}); zero-one loss peaks at N = {int(Ns[iz])} = "
        f"{fmt(Ns[iz] / n, 3)} n ({fmt(zo[iz], 3)})"
        + ("" if c_sq is None else f"; ln(squared loss at N = {s_in} ÷ at N = {s_out}, "
           f"the highest outside the window): {c_sq.text()}")
        + ("" if c_zo is None else f"; zero-one loss at N = {z_in} minus at N = {z_out}: "
           f"{c_zo.text()}"),
        rule=f"the largest median test squared loss for N within a factor {PEAK_FACTOR} "
        "of n exceeds the largest outside it beyond 2 SE (draws and the test set's "
        "sampling), compared on a log scale as Fig. 2 plots it; 'partly' if only the "
        "zero-one loss does",
        passed=passed,
        partly=partly,
        decided=passed or partly or (c_sq is not None and c_sq.decided),
        subject="minimum-norm random-Fourier-feature fits",
        note=_paper_note(res),
    )


def _second_descent(res, key: str, label: str):
    """Fig. 2: past N = n the test ``key`` loss falls below half its peak by the largest N
    and its over-parameterised optimum beats the under-parameterised one beyond the
    noise (reproduced); the descent alone: partly. Floors: the best under-parameterised
    fit (the reference) and the best over-parameterised fit (the subject) beat the
    trivial predictor by FLOOR_FRACTION."""
    n, summ = _n(res), _summary(res)
    under, over = summ[summ.N < n], summ[summ.N > n]
    if not (len(under) and len(over)):
        return None
    Ns, col = summ.N.to_numpy(), f"{key}_median"
    peak, end = float(summ[col].max()), float(summ[col].iloc[-1])
    bu, bo = under.loc[under[col].idxmin()], over.loc[over[col].idxmin()]
    c = _cmp(res, key, int(bo.N), int(bu.N))
    falls, better = end < 0.5 * peak, _known(c) and c.below(0.0)
    triv = float(res.record("data")["trivial"][key])
    triv_name = ("predicting the training majority class" if key == "test_zero_one"
                 else "predicting the training class frequencies")
    return check(
        f"rff_second_descent_{label.replace('-', '_')}",
        f"Past the threshold the test {label} loss descends again, to below the best "
        "under-parameterised value",
        paper="falls past N = n; lowest at the largest N (Fig. 2)",
        ours=f"peak {fmt(peak)} → {fmt(end)} at N = {int(Ns[-1])} "
        f"({fmt(Ns[-1] / n, 3)} n); best under-parameterised {fmt(bu[col])} "
        f"(N = {int(bu.N)}), best over-parameterised {fmt(bo[col])} (N = {int(bo.N)})"
        f"; {triv_name}: {fmt(triv)}",
        rule="loss at the largest N < half the peak (second descent) AND best "
        "over-parameterised < best under-parameterised beyond 2 SE (draws and the test "
        "set's sampling); 'partly' with the second descent only",
        passed=falls and better,
        partly=falls,
        subject="the best over-parameterised fit (N > n)",
        reference="the best under-parameterised fit (N < n)",
        floor=f"the fit has ≤ {FLOOR_FRACTION:g} × the test {label} loss of {triv_name} "
        "(features that learn nothing make the comparison noise)",
        reference_ok=float(bu[col]) <= FLOOR_FRACTION * triv,
        subject_ok=float(bo[col]) <= FLOOR_FRACTION * triv,
        note=" ".join(t for t in (
            f"Best over- against best under-parameterised fit: {c.text()}."
            + ("" if better or not falls else " The second descent is there; that the "
               "over-parameterised optimum is the lower one is not shown beyond the "
               "noise."),
            _paper_note(res)) if t),
    )


@claim
def rff_second_descent_squared(res):
    """Belkin et al. 2019, Fig. 2: past N = n the test squared loss descends again, to
    below its best under-parameterised value (see ``_second_descent``)."""
    return _second_descent(res, "test_squared", "squared")


@claim
def rff_second_descent_zero_one(res):
    """Belkin et al. 2019, Fig. 2: past N = n the test zero-one loss descends again, to
    below its best under-parameterised value (see ``_second_descent``)."""
    return _second_descent(res, "test_zero_one", "zero-one")


@claim
def rff_train_zero(res):
    """Belkin et al. 2019, Fig. 2 (a check): at and past N = n the minimum-norm fit
    interpolates, training squared loss ≈ 0 for every draw."""
    df = res.frame("sweep")
    past = df[df.N >= _n(res)]
    if not len(past):
        return None
    worst = past.loc[past.train_squared.idxmax()]
    return check(
        "rff_train_zero",
        "At and past the threshold the training loss is ≈ 0 (interpolation)",
        paper="training loss 0 for N ≥ n (Fig. 2)",
        ours=f"largest training squared loss for N ≥ n: {fmt(worst.train_squared, 3)} "
        f"(N = {int(worst.N)})",
        rule=f"max training squared loss over seeds and N ≥ n < {TRAIN_ZERO:g}",
        passed=worst.train_squared < TRAIN_ZERO,
        kind="check",
        subject="minimum-norm random-Fourier-feature fits",
        note="An identity: with N ≥ n random features of distinct images the n × N "
        "feature matrix has rank n (almost surely), so the minimum-norm "
        "least-squares fit solves Φ A = Y. It tests our solver, not the paper.",
    )


@claim
def rff_norm_peaks_at_threshold(res):
    """Belkin et al. 2019, Fig. 2: the ℓ2 norm of the coefficients is largest at N = n
    (within PEAK_FACTOR) and at the largest N below half of that."""
    n, summ = _n(res), _summary(res)
    Ns, nm = summ.N.to_numpy(), summ.coef_norm_median.to_numpy()
    j = int(np.argmax(nm))
    return check(
        "rff_norm_peaks_at_threshold",
        "The coefficient norm peaks at the threshold and decreases past it",
        paper="ℓ2 norm largest at N = n, decreasing after (Fig. 2)",
        ours=f"median ‖A‖ peaks at N = {int(Ns[j])} = {fmt(Ns[j] / n, 3)} n "
        f"({fmt(nm[j])}); {fmt(nm[-1])} at N = {int(Ns[-1])}",
        rule=f"argmax within a factor {PEAK_FACTOR} of n AND norm at the largest N < "
        "norm at the peak / 2",
        passed=n / PEAK_FACTOR <= Ns[j] <= n * PEAK_FACTOR and nm[-1] < nm[j] / 2,
        subject="minimum-norm random-Fourier-feature fits",
        note=" ".join(t for t in (
            "The norm does not depend on the test set; its margins (the peak's "
            "location within a factor of n, a fall by half) stand in for the spread "
            "over feature draws.", _paper_note(res)) if t),
    )
