"""The claims of Belkin et al. (2019), Figure 2 (random Fourier features), judged from
``sweep.csv``, ``data.json`` (n, the trivial predictors' losses) and ``config.json``."""

from __future__ import annotations

import numpy as np

from nnde.claims import ClaimSet, check, fmt

from .summary import summarise

#: The peak counts as "at the threshold" when its location is within this factor of n.
PEAK_FACTOR = 1.5
#: "Training loss ≈ 0" past the threshold: largest training squared loss below this.
TRAIN_ZERO = 1e-6
#: Floor of the comparisons between fits: the fit a comparison rests on has at most this
#: fraction of the test loss of the trivial predictor (``data.json``'s ``trivial``).
FLOOR_FRACTION = 0.5
claim = ClaimSet()


def _n(res) -> int:
    return int(res.record("data")["n"])


def _summary(res):
    return summarise(res.frame("sweep")).sort_values("N")


def _paper_note(res) -> str:
    """Where the profile departs from the paper's data (said in every claim's note)."""
    if res.record("config")["dataset"] == "mnist":
        return ""
    return f"Small profile: 8×8 digits with n = {_n(res)}, not MNIST with n = 10⁴."


@claim
def rff_peak_at_threshold(res):
    """Belkin et al. 2019, Fig. 2 (MNIST, n = 10⁴): the median test squared loss over N
    peaks at the interpolation threshold N = n; 'partly' if only the zero-one loss does."""
    n, summ = _n(res), _summary(res)
    Ns = summ.N.to_numpy()
    sq, zo = summ.test_squared_median.to_numpy(), summ.test_zero_one_median.to_numpy()
    i, iz = int(np.argmax(sq)), int(np.argmax(zo))
    return check(
        "rff_peak_at_threshold",
        "The test loss peaks at the interpolation threshold N = n",
        paper="peak at N = n = 10⁴ (Fig. 2, MNIST)",
        ours=f"squared loss peaks at N = {int(Ns[i])} = {fmt(Ns[i] / n, 3)} n "
        f"({fmt(sq[i])}); zero-one loss peaks at N = {int(Ns[iz])} = "
        f"{fmt(Ns[iz] / n, 3)} n ({fmt(zo[iz], 3)})",
        rule=f"argmax over N of the median test squared loss within a factor "
        f"{PEAK_FACTOR} of n; 'partly' if only the zero-one peak is",
        passed=n / PEAK_FACTOR <= Ns[i] <= n * PEAK_FACTOR,
        partly=n / PEAK_FACTOR <= Ns[iz] <= n * PEAK_FACTOR,
        note=_paper_note(res),
    )


def _second_descent(res, key: str, label: str):
    """Fig. 2: past N = n the test ``key`` loss falls below half its peak by the largest N
    and its over-parameterised optimum beats the under-parameterised one. Floor: the best
    under-parameterised fit beats the trivial predictor by FLOOR_FRACTION."""
    n, summ = _n(res), _summary(res)
    under, over = summ[summ.N < n], summ[summ.N > n]
    if not (len(under) and len(over)):
        return None
    Ns, col = summ.N.to_numpy(), f"{key}_median"
    peak, end = float(summ[col].max()), float(summ[col].iloc[-1])
    bu, bo = under.loc[under[col].idxmin()], over.loc[over[col].idxmin()]
    falls, better = end < 0.5 * peak, bo[col] < bu[col]
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
        "over-parameterised < best under-parameterised; 'partly' if only the first",
        passed=falls and better,
        partly=falls,
        floor=f"the best under-parameterised fit has ≤ {FLOOR_FRACTION:g} × the test "
        f"{label} loss of {triv_name} (features that learn nothing make the "
        "comparison noise)",
        competent=float(bu[col]) <= FLOOR_FRACTION * triv,
        note=_paper_note(res),
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
        note=_paper_note(res),
    )
