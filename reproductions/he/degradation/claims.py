"""The degradation stage's claims (He et al. 2016, Fig. 6, Table 6, Fig. 7).

Every claim names its subject (the net the paper's statement is about) and its reference
(what it is compared with), and checks both against a floor on the task's own scale
(:data:`FLOORS`: on MNIST-1D the published references, a ResNet at least as good as the
published CNN, the shallowest plain net at least as good as the published MLP; a deeper
plain net need only have trained at all, its higher error being the paper's finding).
Every comparison goes through :func:`nnde.claims.compare`: the difference of the means
over seeds against two standard errors from the seed spread and, for test errors, the
test set's binomial sampling error (the depth comparisons read the large held-out set
when there is one).
A difference inside that noise makes the claim inconclusive, and the note says how many
seeds would decide it. Training errors are the nets' errors on the training set itself,
so only the seed spread counts there. All six are experiments: trained nets could have
made each come out otherwise."""

from __future__ import annotations

import math

from nnde.claims import ClaimSet, Comparison, check, compare, fmt
from nnde.results import Results

from .summary import Summary

#: Per data set: (test error floor of a ResNet, of the shallowest plain net, in %; what
#: each is). On MNIST-1D the published references (Greydanus & Kobak 2024): a CNN reaches
#: 94 % accuracy, an MLP 68 %, logistic regression 32 % (chance 10 %). A ResNet that does
#: not reach the published CNN has not delivered what the paper's method delivers; the
#: shallowest plain net, the baseline a degradation is measured from, must beat the MLP.
FLOORS = {
    "mnist1d": (6.0, 32.0, "the published MNIST-1D CNN (94 % accuracy)",
                "the published MNIST-1D MLP (68 % accuracy)"),
}
#: elsewhere (no published reference wired in): both must beat chance (90 %) by 20 pp
DEFAULT_FLOOR = (70.0, 70.0, "chance (90 % error) by 20 pp", "chance (90 % error) by 20 pp")
#: A deeper plain net's floor is only that it trained at all: its higher error is the
#: paper's finding (Fig. 6 caption: "the error of plain-110 is higher than 60 %",
#: counted as degradation), so it must merely not have collapsed to chance (90 % on ten classes).
DEEP_PLAIN_FLOOR = 70.0
DEEP_PLAIN_WHAT = ("a deeper plain net ≤ 70 % (it trained at all: its higher error is the "
                   "paper's finding, plain-110 above 60 % in Fig. 6, not a failure)")

claim = ClaimSet()


# --------------------------------------------------------------------------- helpers
def floors(s: Summary) -> tuple[float, float, str, str]:
    return FLOORS.get(s.dataset, DEFAULT_FLOOR)


def floor_ok(s: Summary, kind: str, depth: int) -> bool:
    """The net's mean test error on the published test set is at or below its floor: a
    ResNet's or the shallowest plain net's (:data:`FLOORS`), a deeper plain net's
    (:data:`DEEP_PLAIN_FLOOR`)."""
    res_floor, plain_floor, _, _ = floors(s)
    if kind == "residual":
        bar = res_floor
    else:
        bar = plain_floor if depth == s.depths("plain")[0] else max(plain_floor,
                                                                    DEEP_PLAIN_FLOOR)
    return s.val(kind, depth, "test_error_mean") <= bar


def floor_text(s: Summary, kinds=("residual", "plain")) -> str:
    res_floor, plain_floor, res_what, plain_what = floors(s)
    parts = {"residual": f"a ResNet's mean test error (published test set) ≤ "
                         f"{fmt(res_floor, 3)} % ({res_what})",
             "plain": f"the shallowest plain net's ≤ {fmt(plain_floor, 3)} % ({plain_what}), "
                      + DEEP_PLAIN_WHAT}
    return "; ".join(parts[k] for k in kinds)


def name(kind: str, depth: int) -> str:
    return f"ResNet-{depth}" if kind == "residual" else f"plain-{depth}"


def train_cmp(s: Summary, a: tuple[str, int], b: tuple[str, int]) -> Comparison:
    """Training error (%) of net ``a`` minus net ``b``, over seeds."""
    return compare(s.per_seed(*a, "train_error"), s.per_seed(*b, "train_error"))


def test_cmp(s: Summary, a: tuple[str, int], b: tuple[str, int]) -> Comparison:
    """Test error (%) of ``a`` minus ``b`` on the held-out set (the published test set
    without one), with its sampling error."""
    return compare(s.per_seed(*a, s.test_col), s.per_seed(*b, s.test_col),
                   eval_n=s.eval_n, rate=100)


def resp_cmp(s: Summary, a: tuple[str, int], b: tuple[str, int]) -> Comparison:
    return compare(s.per_seed_response(*a), s.per_seed_response(*b))


def _noise_known(c: Comparison) -> bool:
    return math.isfinite(c.se_seeds) or c.se_eval > 0


def higher(c: Comparison) -> bool:
    """``a`` above ``b`` beyond the noise (never with the noise unknown: one seed)."""
    return _noise_known(c) and c.exceeds(0)


def lower(c: Comparison) -> bool:
    """``a`` below ``b`` beyond the noise."""
    return _noise_known(c) and c.below(0)


def decided(c: Comparison) -> bool:
    """Beyond the noise, or no noise and no difference at all (every seed equal)."""
    return c.decided or (c.se == 0 and c.diff == 0 and c.n_seeds > 1)


def trend(cmp, kind: str, depths, direction: int):
    """Does the quantity of ``cmp`` rise (``direction`` +1) or fall (−1) with depth?

    ``ends``: the deepest minus the shallowest beyond the noise in that direction;
    ``against``: the neighbouring pairs that go the other way beyond their noise.
    Returns ``(passed, partly, decided, ends comparison, against)``."""
    ends = cmp((kind, depths[-1]), (kind, depths[0]))
    pairs = list(zip(depths[:-1], depths[1:], strict=True))
    steps = [cmp((kind, b), (kind, a)) for a, b in pairs]
    against = [(a, b) for (a, b), c in zip(pairs, steps, strict=True)
               if (lower(c) if direction > 0 else higher(c))]
    ok = higher(ends) if direction > 0 else lower(ends)
    return ok and not against, ok, decided(ends) or bool(against), ends, against


def against_text(kind: str, against, what: str) -> str:
    if not against:
        return ""
    return ("Against the trend beyond the noise: " + ", ".join(
        f"{name(kind, b)} vs {name(kind, a)}" for a, b in against) + f" ({what}).")


def scale_note(s: Summary) -> str:
    """What the profile's numbers can and cannot be compared with."""
    scale = ("" if s.profile == "paper" else
             f"{s.dataset} at the {s.profile} profile: absolute errors are not comparable "
             "with CIFAR-10; the verdict is on the trend.")
    if s.plateau:
        scale += (" Every net trained to its own plateau, so training errors are compared "
                  "where each net stopped, not after one common schedule as in the paper.")
    if s.seeds < 2:
        scale += " One seed: no spread over seeds to judge a difference by."
    return scale


def errors_text(s: Summary, kind: str, depths, col: str) -> str:
    return ", ".join(f"{name(kind, d)}: {fmt(s.val(kind, d, col + '_mean'), 3)} ± "
                     f"{fmt(s.val(kind, d, col + '_std'), 2)}%" for d in depths)


NOISE = ("noise: 2 SE of the difference of the means over seeds (seed spread; for test "
         "errors also the test set's binomial sampling error)")


# --------------------------------------------------------------------------- claims
@claim
def plain_degrades(res: Results):
    """Fig. 6, left: deeper plain nets end with higher training error (plain-56 above
    plain-44, -32, -20): degradation, not overfitting."""
    s = Summary.of(res)
    p = s.depths("plain")
    passed, partly, dec, ends, against = trend(lambda a, b: train_cmp(s, a, b), "plain", p, +1)
    return check(
        "plain_degrades",
        f"Deeper plain nets reach higher training error (plain-{p[-1]} above "
        f"plain-{p[0]}) (Fig. 6, left)",
        paper="Fig. 6 left: training error plain-56 > 44 > 32 > 20 throughout training",
        ours="final training error " + errors_text(s, "plain", p, "train_error")
             + f"; plain-{p[-1]} − plain-{p[0]}: {ends.text('pp')}",
        rule=f"training error(plain-{p[-1]}) − training error(plain-{p[0]}) > 0 beyond the "
             "noise and no deeper neighbour lower beyond its noise; partly if only the "
             f"first; {NOISE}",
        passed=passed, partly=partly, decided=dec,
        subject=f"plain-{p[-1]}", reference=f"plain-{p[0]}",
        subject_ok=floor_ok(s, "plain", p[-1]), reference_ok=floor_ok(s, "plain", p[0]),
        floor=floor_text(s, ("plain",)),
        note=s.note(scale_note(s), against_text("plain", against, "training error"),
                    nets=[("plain", d) for d in p]),
    )


@claim
def residual_does_not_degrade(res: Results):
    """Fig. 6, middle: deeper residual nets do not end with higher training error
    (ResNet-56 below ResNet-20, ResNet-110 lowest), where deeper plain nets do (Fig. 6,
    left: the plain nets of the same run are the control)."""
    s = Summary.of(res)
    r, p = s.depths("residual"), s.depths("plain")
    c = train_cmp(s, ("residual", r[-1]), ("residual", r[0]))
    pc = train_cmp(s, ("plain", p[-1]), ("plain", p[0]))
    upper = c.diff + c.z * c.se
    fell = lower(c)  # the paper's figure: the deeper ResNet lower
    bounded = (_noise_known(c) and not higher(c) and higher(pc) and upper < pc.diff)
    rose = higher(c)
    return check(
        "residual_does_not_degrade",
        f"Deeper residual nets do not reach higher training error (ResNet-{r[-1]} vs "
        f"ResNet-{r[0]}), where plain nets do (Fig. 6, middle vs left)",
        paper="Fig. 6 middle: training error ResNet-56 below ResNet-20, ResNet-110 lowest; "
              "left: plain-56 above plain-20",
        ours="final training error " + errors_text(s, "residual", r, "train_error")
             + f"; ResNet-{r[-1]} − ResNet-{r[0]}: {c.text('pp')}; control plain-{p[-1]} − "
             f"plain-{p[0]}: {fmt(pc.diff, 3)} pp",
        rule=f"reproduced if training error(ResNet-{r[-1]}) − training error(ResNet-{r[0]}) "
             "is below 0 beyond the noise (the deeper ResNet lower, Fig. 6 middle), or is "
             "not above 0 beyond the noise with its upper bound (difference + 2 SE) below "
             "the plain nets' rise (which is itself beyond its noise): a degradation as "
             "large as the plain nets' is ruled out; not reproduced if it is above 0 "
             "beyond the noise (partly if that rise is below half the plain nets' rise); "
             f"otherwise within the noise; {NOISE}",
        passed=fell or bounded, partly=rose and pc.diff > 0 and c.diff < 0.5 * pc.diff,
        decided=fell or bounded or rose,
        subject=f"ResNet-{r[-1]}", reference=f"ResNet-{r[0]}",
        subject_ok=floor_ok(s, "residual", r[-1]),
        reference_ok=floor_ok(s, "residual", r[0]),
        floor=floor_text(s, ("residual",)),
        note=s.note(scale_note(s), nets=[("residual", d) for d in r]
                    + [("plain", p[0]), ("plain", p[-1])]),
    )


@claim
def residual_beats_plain_deepest(res: Results):
    """Fig. 6 (left vs middle), Table 6: at the largest depth trained as both, the
    residual net ends below the plain net in training and in test error."""
    s = Summary.of(res)
    D = s.common[-1]
    ctr = train_cmp(s, ("plain", D), ("residual", D))
    cte = test_cmp(s, ("plain", D), ("residual", D))
    win_tr, win_te = higher(ctr), higher(cte)
    return check(
        "residual_beats_plain_deepest",
        f"At the largest depth trained as both ({D}) the residual net beats the plain net, "
        "in training and test error (Fig. 6)",
        paper="Fig. 6: ResNet-56 below plain-56 in training and test error (CIFAR-10; "
              "ResNet-56 6.97 % test error, Table 6)",
        ours=f"training error {fmt(s.val('residual', D, 'train_error_mean'), 3)}% vs "
             f"{fmt(s.val('plain', D, 'train_error_mean'), 3)}% (plain − residual: "
             f"{ctr.text('pp')}); {s.test_name} "
             f"{fmt(s.val('residual', D, s.test_col + '_mean'), 3)}% vs "
             f"{fmt(s.val('plain', D, s.test_col + '_mean'), 3)}% (plain − residual: "
             f"{cte.text('pp')}) (residual vs plain)",
        rule=f"plain − residual > 0 beyond the noise in training and in {s.test_name}; "
             f"partly if in one of them; {NOISE}",
        passed=win_tr and win_te, partly=win_tr or win_te,
        decided=decided(ctr) or decided(cte),
        subject=f"ResNet-{D}", reference=f"plain-{D}",
        subject_ok=floor_ok(s, "residual", D), reference_ok=floor_ok(s, "plain", D),
        floor=floor_text(s),
        note=s.note(scale_note(s), nets=[("plain", D), ("residual", D)]),
    )


def resnet_depth_roles(s: Summary, r: list[int]) -> dict:
    """Subject (the deepest ResNet), references (the shallower ones) and their floors:
    the roles of every claim about ResNets getting better with depth."""
    return dict(subject=f"ResNet-{r[-1]}", reference=", ".join(f"ResNet-{d}" for d in r[:-1]),
                subject_ok=floor_ok(s, "residual", r[-1]),
                reference_ok=all(floor_ok(s, "residual", d) for d in r[:-1]),
                floor=floor_text(s, ("residual",)))


@claim
def resnet_test_error_falls_with_depth(res: Results):
    """Table 6: deeper ResNets reach lower test error (ResNet-20/32/44/56/110: 8.75 /
    7.51 / 7.17 / 6.97 / 6.43 % on CIFAR-10)."""
    s = Summary.of(res)
    r = s.depths("residual")
    passed, partly, dec, ends, against = trend(lambda a, b: test_cmp(s, a, b), "residual",
                                               r, -1)
    fit = train_cmp(s, ("residual", r[-1]), ("residual", r[0]))
    underfit = (f"ResNet-{r[-1]} also ends with higher training error than ResNet-{r[0]} "
                f"({fmt(fit.diff, 2)} pp, beyond the noise): at this schedule's length the "
                "deeper nets have not fitted the training set as far, so the test error "
                "compares under-trained nets (the paper trains 64k iterations, ~182 "
                "epochs)." if higher(fit) else "")
    headline = ""
    if s.n_heldout:
        headline = (" (published test set: "
                    + errors_text(s, "residual", r, "test_error") + ")")
    return check(
        "resnet_test_error_falls_with_depth",
        "Deeper ResNets reach lower test error (Table 6)",
        paper="Table 6: ResNet-20/32/44/56/110: 8.75 / 7.51 / 7.17 / 6.97 / 6.43 % (CIFAR-10)",
        ours=f"{s.test_name}: " + errors_text(s, "residual", r, s.test_col) + headline
             + f"; ResNet-{r[-1]} − ResNet-{r[0]}: {ends.text('pp')}",
        rule=f"{s.test_name} of ResNet-{r[-1]} − ResNet-{r[0]} < 0 beyond the noise and no "
             "deeper neighbour higher beyond its noise; partly if only the first; "
             f"{NOISE}",
        passed=passed, partly=partly, decided=dec,
        **resnet_depth_roles(s, r),
        note=s.note(scale_note(s), against_text("residual", against, "test error"), underfit,
                    nets=[("residual", d) for d in r]),
    )


@claim
def residual_responses_smaller(res: Results):
    """Fig. 7: the layer responses (after BN, before the addition and ReLU) have a
    smaller std in residual than in plain nets, at every depth shown."""
    s = Summary.of(res)
    common = s.common
    cs = [resp_cmp(s, ("plain", d), ("residual", d)) for d in common]
    smaller = [higher(c) for c in cs]
    return check(
        "residual_responses_smaller",
        "Layer responses (after BN, before addition/ReLU) have smaller std in residual than "
        "in plain nets (Fig. 7)",
        paper="Fig. 7: ResNet responses smaller than plain at every depth shown",
        ours="; ".join(f"depth {d}: {fmt(s.rs('residual', d), 3)} vs "
                       f"{fmt(s.rs('plain', d), 3)} (plain − residual: {c.text()})"
                       for d, c in zip(common, cs, strict=True)) + " (mean over layers and seeds, "
                                                      "residual vs plain)",
        rule="plain − residual > 0 beyond the noise at every depth trained as both; partly "
             f"if at the largest; {NOISE}",
        passed=all(smaller), partly=smaller[-1], decided=any(decided(c) for c in cs),
        subject=", ".join(f"ResNet-{d}" for d in common),
        reference=", ".join(f"plain-{d}" for d in common),
        subject_ok=all(floor_ok(s, "residual", d) for d in common),
        reference_ok=all(floor_ok(s, "plain", d) for d in common),
        floor=floor_text(s),
        note=s.note(nets=[(k, d) for k in ("plain", "residual") for d in common]),
    )


@claim
def deeper_resnet_responses_smaller(res: Results):
    """Fig. 7: the deeper the ResNet, the smaller its responses (ResNet-110 below
    ResNet-56 below ResNet-20)."""
    s = Summary.of(res)
    r = s.depths("residual")
    passed, partly, dec, ends, against = trend(lambda a, b: resp_cmp(s, a, b), "residual",
                                               r, -1)
    return check(
        "deeper_resnet_responses_smaller",
        "The deeper the ResNet, the smaller its responses (Fig. 7)",
        paper="Fig. 7: ResNet-110 below ResNet-56 below ResNet-20",
        ours=", ".join(f"ResNet-{d}: {fmt(s.rs('residual', d), 3)} ± "
                       f"{fmt(s.rs('residual', d, 'seed_std'), 2)}" for d in r)
             + f"; ResNet-{r[-1]} − ResNet-{r[0]}: {ends.text()}",
        rule=f"response std(ResNet-{r[-1]}) − std(ResNet-{r[0]}) < 0 beyond the noise and "
             "no deeper neighbour larger beyond its noise; partly if only the first; "
             f"{NOISE}",
        passed=passed, partly=partly, decided=dec,
        **resnet_depth_roles(s, r),
        note=s.note(against_text("residual", against, "response std"),
                    nets=[("residual", d) for d in r]),
    )
