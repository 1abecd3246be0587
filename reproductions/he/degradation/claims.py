"""The degradation stage's claims (He et al. 2016, Fig. 6, Table 6, Fig. 7), each judged
against the spread over seeds (see :func:`trend`); every claim resting on nets that did
not meet the plateau criterion names them in its note, and a net that has not learned
the task (test error above :data:`MAX_ERROR_PCT`) makes it inconclusive."""

from __future__ import annotations

from nnde.claims import ClaimSet, check, fmt
from nnde.models.he import KINDS
from nnde.results import Results

from .summary import Summary

#: floor of every comparison: a net above this test error (in %) has not learned the
#: 10-class task (chance: 90 %), and a claim resting on it is inconclusive
MAX_ERROR_PCT = 70.0
FLOOR = (f"every net the claim compares has mean test error ≤ {MAX_ERROR_PCT:g} % "
         f"(chance 90 %: it beats it by at least {90 - MAX_ERROR_PCT:g} pp)")

claim = ClaimSet()


# --------------------------------------------------------------------------- helpers
def trend(means, stds, direction: int) -> tuple[bool, bool, float, float]:
    """Is ``means`` (ordered by depth) rising (``direction`` +1) or falling (−1)?

    Returns ``(ends, steps, diff, spread)``: ``ends`` when the deepest differs from the
    shallowest in that direction by more than the seed spread (the larger of their two
    stds over seeds); ``steps`` when no step between neighbouring depths goes the other
    way by more than that pair's spread; ``diff`` = deepest − shallowest."""
    diff, spread = means[-1] - means[0], max(stds[0], stds[-1])
    steps = all(direction * (b - a) >= -max(sa, sb) for a, b, sa, sb in
                zip(means[:-1], means[1:], stds[:-1], stds[1:], strict=True))
    return direction * diff > spread, steps, diff, spread


def _within(diff: float, spread: float, what: str) -> str:
    if abs(diff) > spread:
        return ""
    return (f"The difference in {what} ({fmt(diff, 3)}) is within the seed spread "
            f"({fmt(spread, 3)}): undecided at this number of seeds.")


def scale_note(s: Summary) -> str:
    """What the profile's numbers can and cannot be compared with."""
    scale = ("" if s.profile == "paper" else
             f"{s.dataset} at the {s.profile} profile: absolute errors are not comparable "
             "with CIFAR-10; the verdict is on the trend.")
    if s.plateau:
        scale += (" Every net trained to its own plateau, so training errors are compared "
                  "where each net stopped (epochs to the plateau, mean over seeds, in "
                  "'ours'), not after one common schedule as in the paper.")
    if s.seeds < 2:
        scale += " One seed: no spread over seeds to judge a difference by."
    return scale


def spread_rule(s: Summary) -> str:
    return f"spread = the larger std over seeds ({s.seeds} seeds) of the two compared"


def learned(s: Summary, nets) -> bool:
    """Every (kind, depth) of ``nets`` is at or below the floor's test error."""
    return all(s.val(k, d, "test_error_mean") <= MAX_ERROR_PCT for k, d in nets)


def _plain_rise(s: Summary):
    """``trend`` of the plain nets' training error, rising with depth."""
    return trend(*s.series("plain", s.depths("plain"), "train_error"), +1)


# --------------------------------------------------------------------------- claims
@claim
def plain_degrades(res: Results):
    """Fig. 6, left: deeper plain nets end with higher training error (plain-56 above
    plain-44, -32, -20): degradation, not overfitting."""
    s = Summary.of(res)
    plain = s.depths("plain")
    pm, ps = s.series("plain", plain, "train_error")
    ends, steps, p_diff, sp = _plain_rise(s)
    nets = [("plain", d) for d in plain]
    return check(
        "plain_degrades",
        f"Deeper plain nets reach higher training error (plain-{plain[-1]} above "
        f"plain-{plain[0]}) (Fig. 6, left)",
        paper="Fig. 6 left: training error plain-56 > 44 > 32 > 20 throughout training",
        ours="final training error " + ", ".join(
            f"plain-{d}: {fmt(m, 3)} ± {fmt(e, 2)}% ({s.epochs('plain', d)})"
            for d, m, e in zip(plain, pm, ps, strict=True))
            + f"; plain-{plain[-1]} − plain-{plain[0]} = {fmt(p_diff, 3)} pp",
        rule=f"train error(plain-{plain[-1]}) − train error(plain-{plain[0]}) > spread "
             f"({fmt(sp, 2)} pp) and no deeper neighbour lower by more than its pair's "
             f"spread; partly if only the first; {spread_rule(s)}",
        passed=ends and steps, partly=ends,
        note=s.note(scale_note(s), _within(p_diff, sp, "training error (pp)"), nets=nets),
        competent=learned(s, nets), floor=FLOOR,
    )


@claim
def residual_does_not_degrade(res: Results):
    """Fig. 6, middle: deeper residual nets do not end with higher training error
    (ResNet-56 below ResNet-20, ResNet-110 lowest)."""
    s = Summary.of(res)
    r = s.depths("residual")
    rm, rsd = s.series("residual", r, "train_error")
    r_diff, sr = rm[-1] - rm[0], max(rsd[0], rsd[-1])
    p_diff = _plain_rise(s)[2]
    nets = [("residual", d) for d in r]
    return check(
        "residual_does_not_degrade",
        f"Deeper residual nets do not reach higher training error (ResNet-{r[-1]} vs "
        f"ResNet-{r[0]}) (Fig. 6, middle)",
        paper="Fig. 6 middle: training error ResNet-56 below ResNet-20, ResNet-110 lowest",
        ours="final training error " + ", ".join(
            f"ResNet-{d}: {fmt(m, 3)} ± {fmt(e, 2)}% ({s.epochs('residual', d)})"
            for d, m, e in zip(r, rm, rsd, strict=True))
            + f"; ResNet-{r[-1]} − ResNet-{r[0]} = {fmt(r_diff, 3)} pp",
        rule=f"train error(ResNet-{r[-1]}) − train error(ResNet-{r[0]}) ≤ spread "
             f"({fmt(sr, 2)} pp); partly if the rise is below half the plain nets' rise "
             f"({fmt(p_diff, 3)} pp); {spread_rule(s)}",
        passed=r_diff <= sr, partly=r_diff < 0.5 * p_diff,
        note=s.note(scale_note(s), nets=nets),
        competent=learned(s, nets), floor=FLOOR,
    )


@claim
def residual_beats_plain_deepest(res: Results):
    """Fig. 6 (left vs middle), Table 6: at the largest depth trained as both, the
    residual net ends below the plain net in training and in test error."""
    s = Summary.of(res)
    D = s.common[-1]
    tr = (s.val("residual", D, "train_error_mean"), s.val("plain", D, "train_error_mean"))
    te = (s.val("residual", D, "test_error_mean"), s.val("plain", D, "test_error_mean"))
    s_tr = max(s.val(k, D, "train_error_std") for k in KINDS)
    s_te = max(s.val(k, D, "test_error_std") for k in KINDS)
    win_tr, win_te = tr[1] - tr[0] > s_tr, te[1] - te[0] > s_te
    nets = [("plain", D), ("residual", D)]
    return check(
        "residual_beats_plain_deepest",
        f"At the largest depth trained as both ({D}) the residual net beats the plain net, "
        "in training and test error (Fig. 6)",
        paper="Fig. 6: ResNet-56 below plain-56 in training and test error (CIFAR-10; "
              "ResNet-56 6.97 % test error, Table 6)",
        ours=f"train {fmt(tr[0], 3)}% vs {fmt(tr[1], 3)}% (spread {fmt(s_tr, 2)} pp), test "
             f"{fmt(te[0], 3)}% vs {fmt(te[1], 3)}% (spread {fmt(s_te, 2)} pp) "
             "(residual vs plain)",
        rule=f"plain − residual > spread for both; partly if for one of them; "
             f"{spread_rule(s)}",
        passed=win_tr and win_te, partly=win_tr or win_te,
        note=s.note(scale_note(s), _within(tr[1] - tr[0], s_tr, "training error (pp)"),
                    _within(te[1] - te[0], s_te, "test error (pp)"), nets=nets),
        competent=learned(s, nets), floor=FLOOR,
    )


@claim
def resnet_test_error_falls_with_depth(res: Results):
    """Table 6: deeper ResNets reach lower test error (ResNet-20/32/44/56/110: 8.75 /
    7.51 / 7.17 / 6.97 / 6.43 % on CIFAR-10)."""
    s = Summary.of(res)
    r = s.depths("residual")
    tm, ts = s.series("residual", r, "test_error")
    ends, steps, t_diff, st = trend(tm, ts, -1)
    nets = [("residual", d) for d in r]
    return check(
        "resnet_test_error_falls_with_depth",
        "Deeper ResNets reach lower test error (Table 6)",
        paper="Table 6: ResNet-20/32/44/56/110: 8.75 / 7.51 / 7.17 / 6.97 / 6.43 % (CIFAR-10)",
        ours=", ".join(f"ResNet-{d}: {fmt(m, 3)} ± {fmt(e, 2)}%"
                       for d, m, e in zip(r, tm, ts, strict=True)),
        rule=f"test error(ResNet-{r[0]}) − test error(ResNet-{r[-1]}) > spread "
             f"({fmt(st, 2)} pp) and no deeper neighbour higher by more than its pair's "
             f"spread; partly if only the first; {spread_rule(s)}",
        passed=ends and steps, partly=ends,
        note=s.note(scale_note(s), _within(t_diff, st, "test error (pp)"), nets=nets),
        competent=learned(s, nets), floor=FLOOR,
    )


@claim
def residual_responses_smaller(res: Results):
    """Fig. 7: the layer responses (after BN, before the addition and ReLU) have a
    smaller std in residual than in plain nets, at every depth shown."""
    s = Summary.of(res)
    common, rs = s.common, s.rs
    smaller = [rs("plain", d) - rs("residual", d) >
               max(rs("plain", d, "seed_std"), rs("residual", d, "seed_std")) for d in common]
    nets = [(k, d) for k in KINDS for d in common]
    return check(
        "residual_responses_smaller",
        "Layer responses (after BN, before addition/ReLU) have smaller std in residual than "
        "in plain nets (Fig. 7)",
        paper="Fig. 7: ResNet responses smaller than plain at every depth shown",
        ours=", ".join(f"depth {d}: {fmt(rs('residual', d), 3)} vs {fmt(rs('plain', d), 3)}"
                       for d in common) + " (mean over layers and seeds, residual vs plain)",
        rule="plain − residual > spread at every depth trained as both; partly if at the "
             f"largest; {spread_rule(s)}",
        passed=all(smaller), partly=smaller[-1],
        note=s.note(nets=nets),
        competent=learned(s, nets), floor=FLOOR,
    )


@claim
def deeper_resnet_responses_smaller(res: Results):
    """Fig. 7: the deeper the ResNet, the smaller its responses (ResNet-110 below
    ResNet-56 below ResNet-20)."""
    s = Summary.of(res)
    r, rs = s.depths("residual"), s.rs
    ends, steps, r_diff, sr = trend([rs("residual", d) for d in r],
                                    [rs("residual", d, "seed_std") for d in r], -1)
    nets = [("residual", d) for d in r]
    return check(
        "deeper_resnet_responses_smaller",
        "The deeper the ResNet, the smaller its responses (Fig. 7)",
        paper="Fig. 7: ResNet-110 below ResNet-56 below ResNet-20",
        ours=", ".join(f"ResNet-{d}: {fmt(rs('residual', d), 3)} ± "
                       f"{fmt(rs('residual', d, 'seed_std'), 2)}" for d in r),
        rule=f"response std(ResNet-{r[0]}) − std(ResNet-{r[-1]}) > spread "
             f"({fmt(sr, 2)}) and no deeper neighbour larger by more than its pair's "
             f"spread; partly if only the first; {spread_rule(s)}",
        passed=ends and steps, partly=ends,
        note=s.note(_within(r_diff, sr, "response std"), nets=nets),
        competent=learned(s, nets), floor=FLOOR,
    )
