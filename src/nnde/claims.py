"""Claims of a paper, judged from a stage's saved results.

A reproduction's ``claims.py`` holds one small pure function per claim of the paper: it
takes the stage's :class:`nnde.results.Results` (plain data, nothing trained) and returns
a :class:`Claim` built by :func:`check`. The functions are collected in definition order
by a :class:`ClaimSet`, so the list of a stage's claims is derived from the functions and
never kept by hand::

    from nnde.claims import ClaimSet, check

    claim = ClaimSet()

    @claim
    def plain_degrades(res):
        \"\"\"He et al. 2016, Fig. 1 / Table 6: ...\"\"\"
        ...
        return check("plain_degrades", "...", paper=..., ours=..., rule=..., passed=...)

A function may return one claim, a list of claims (one per model, say) or ``None`` (the
claim does not apply to this profile, e.g. a data set that is not configured).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: "inconclusive": the models a comparison rests on did not reach the floor the claim
#: states (they did not learn, or did not converge), so the data say nothing either way.
VERDICTS = ("reproduced", "partly", "not reproduced", "inconclusive")
#: The kind of a claim, by a written criterion (:data:`KIND_CRITERION`). The scorecard
#: counts the two apart.
CLAIM_KINDS = ("experiment", "check")

#: The criterion every claim's ``kind`` follows.
KIND_CRITERION = (
    "A claim is a check when it holds for any weights and any data: an identity, a "
    "property of a construction (a weight or saved-tensor count, a fixed matrix) or of a "
    "solver (a convergence order, the steps an adaptive method takes on an untrained "
    "field). It tests our code but is not evidence about the paper. A claim is an "
    "experiment when trained models or measured data could have made it come out "
    "otherwise. A property that already holds at initialisation is a check, unless it "
    "is judged on the change that training makes.")

#: Two standard errors: a difference decides a comparison only beyond this many.
Z_DECIDE = 2.0



@dataclass(frozen=True)
class Claim:
    """One claim of a paper, checked. The verdict is computed from ``passed``/``partly``
    (booleans the stage computes from its data); it is never written by hand."""

    id: str
    statement: str
    paper_value: str
    our_value: str
    rule: str
    verdict: str
    note: str = ""
    kind: str = "experiment"
    #: the model (or method) the claim is about, and the ones it is compared with
    subject: str = ""
    reference: str = ""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} not in {VERDICTS}")
        if self.kind not in CLAIM_KINDS:
            raise ValueError(f"claim kind {self.kind!r} not in {CLAIM_KINDS}")


def check(
    id: str,
    statement: str,
    *,
    paper: str,
    ours: str,
    rule: str,
    passed: bool,
    partly: bool = False,
    note: str = "",
    kind: str = "experiment",
    subject: str = "",
    reference: str = "",
    subject_ok: bool = True,
    reference_ok: bool = True,
    floor: str = "",
    decided: bool = True,
    competent: bool = True,
) -> Claim:
    """Make a :class:`Claim` whose verdict follows from ``passed`` (and ``partly``).

    A comparison names its ``subject`` (the model or method the paper makes the claim
    about) and its ``reference`` (what it is compared with), and checks each against
    the floor the claim states (``floor``, measured on the task's own scale from
    baselines of the same run). The verdict is decided in this order:

    1. a reference below its floor (``reference_ok=False``): "inconclusive", the
       comparison cannot be made;
    2. the subject below its floor (``subject_ok=False``): "not reproduced", the method
       did not deliver under this protocol (the note says so);
    3. a difference within its noise (``decided=False``, see :func:`compare`):
       "inconclusive";
    4. otherwise "reproduced" if ``passed``, "partly" if ``partly``, else "not reproduced".

    ``competent=False`` is the older spelling of ``reference_ok=False``."""
    passed, partly = bool(passed), bool(partly)
    reference_ok = bool(reference_ok) and bool(competent)
    if floor:
        rule = (f"{rule}. Floor: {floor}; a reference below it makes the verdict "
                "inconclusive, the subject below it makes it not reproduced")
    lead = ""
    if not reference_ok:
        verdict = "inconclusive"
        lead = (f"The reference{' (' + reference + ')' if reference else ''} is below the "
                "floor the claim states, so the comparison cannot be made.")
    elif not subject_ok:
        verdict = "not reproduced"
        lead = (f"The subject{' (' + subject + ')' if subject else ''} is below the floor "
                "the claim states: the method did not deliver under this protocol.")
    elif not decided:
        verdict = "inconclusive"
        lead = "The difference is within its noise, so the data do not decide the claim."
    else:
        verdict = "reproduced" if passed else ("partly" if partly else "not reproduced")
    note = " ".join(t for t in (lead, note) if t)
    return Claim(id, statement, str(paper), str(ours), rule, verdict, note, kind,
                 subject, reference)


@dataclass(frozen=True)
class Comparison:
    """The difference of two means, ``a − b``, with its uncertainty (:func:`compare`)."""

    diff: float
    #: standard error of ``diff`` from the spread over seeds (nan with one seed per side)
    se_seeds: float
    #: standard error from the evaluation set's own sampling (0 when not a rate)
    se_eval: float
    n_seeds: int
    z: float = Z_DECIDE

    @property
    def se(self) -> float:
        s = self.se_seeds if math.isfinite(self.se_seeds) else 0.0
        return math.hypot(s, self.se_eval)

    @property
    def decided(self) -> bool:
        """``|diff|`` exceeds ``z`` standard errors (never with the seed spread unknown
        and no other noise estimate)."""
        if not math.isfinite(self.se_seeds) and self.se_eval == 0:
            return False
        return abs(self.diff) > self.z * self.se

    def exceeds(self, margin: float = 0.0) -> bool:
        """``diff − margin`` is positive beyond the noise (``a`` larger than ``b`` by
        more than ``margin``)."""
        return self.diff - margin > self.z * self.se

    def below(self, margin: float = 0.0) -> bool:
        """``diff + margin`` is negative beyond the noise."""
        return self.diff + margin < -self.z * self.se

    def seeds_needed(self) -> int | None:
        """Seeds per side at which the observed difference would decide (the seed
        variance taken as observed); None when the evaluation set's error alone is too
        large (more evaluation examples are needed) or the seed spread is unknown."""
        if not math.isfinite(self.se_seeds) or self.diff == 0:
            return None
        room = (abs(self.diff) / self.z) ** 2 - self.se_eval ** 2
        if room <= 0:
            return None
        var_one = self.se_seeds ** 2 * self.n_seeds  # variance of the difference, 1 seed
        return max(self.n_seeds, math.ceil(var_one / room))

    def text(self, unit: str = "", digits: int = 2) -> str:
        """E.g. "difference 0.33 ± 0.38 pp (2 SE over 3 seeds and the test set's sampling);
        within the noise: about 9 seeds per model would decide it"."""
        u = f" {unit}" if unit else ""
        src = []
        if math.isfinite(self.se_seeds):
            src.append(f"{self.n_seeds} seeds")
        else:
            src.append("one seed, spread unknown")
        if self.se_eval:
            src.append("the evaluation set's sampling")
        out = (f"difference {fmt(self.diff, digits)} ± {fmt(self.z * self.se, digits)}{u} "
               f"({fmt(self.z, 2)} SE: {' and '.join(src)})")
        if self.decided:
            return out
        need = self.seeds_needed()
        if need is not None:
            return out + f"; within the noise: about {need} seeds per model would decide it"
        if self.se_eval and math.isfinite(self.se_seeds):
            return out + ("; within the noise of the evaluation set itself: a larger "
                          "evaluation set is needed")
        return out + "; within the noise"


def _mean_var(xs) -> tuple[float, float, int]:
    vals = [float(x) for x in xs]
    n = len(vals)
    if n == 0:
        raise ValueError("compare() needs at least one value per side")
    m = sum(vals) / n
    var = sum((v - m) ** 2 for v in vals) / (n - 1) if n > 1 else float("nan")
    return m, var, n


def compare(a, b, *, eval_n: int | None = None, rate: float | None = None,
            z: float = Z_DECIDE) -> Comparison:
    """``mean(a) − mean(b)`` of two lists of per-seed values, with a standard error from
    the seed spread (sample variances over seeds, each mean's error added) and, when the
    values are rates measured on one evaluation set of ``eval_n`` examples, that set's
    binomial sampling error (``rate``: the value of a rate of 1, e.g. 100 for percent).
    ``b`` may be a single number (a fixed reference: the paper's value, a bound)."""
    ma, va, na = _mean_var(a)
    if isinstance(b, (int, float)):
        mb, vb, nb = float(b), 0.0, na
    else:
        mb, vb, nb = _mean_var(b)
    seeds = math.sqrt(va / na + vb / nb) if (na > 1 and (nb > 1 or vb == 0)) else float("nan")
    se_eval = 0.0
    if eval_n:
        if rate is None:
            raise ValueError("compare(eval_n=...) needs rate= (100 for percent, 1 for fractions)")
        for m, is_fixed in ((ma, False), (mb, isinstance(b, (int, float)))):
            if not is_fixed:
                p = min(max(m / rate, 0.0), 1.0)
                se_eval = math.hypot(se_eval, rate * math.sqrt(p * (1 - p) / eval_n))
    return Comparison(ma - mb, seeds, se_eval, min(na, nb), z)


#: the keys of :func:`verdict_counts`, the same in every metrics file
COUNT_KEYS = ("reproduced", "partly", "not_reproduced", "inconclusive", "checks_passed",
              "checks_failed")


def verdict_counts(claims: Iterable) -> dict[str, int]:
    """Experiments counted by verdict and checks by passed/failed, under :data:`COUNT_KEYS`
    (claims as :class:`Claim` or as their dicts): the DVC metrics of a stage, a paper
    and the whole suite, so that ``dvc metrics show`` is one short table."""
    rows = [c if isinstance(c, Mapping) else c.__dict__ for c in claims]
    exp = [c for c in rows if c.get("kind", "experiment") == "experiment"]
    chk = [c for c in rows if c.get("kind") == "check"]
    out = {v.replace(" ", "_"): sum(1 for c in exp if c["verdict"] == v) for v in VERDICTS}
    out["checks_passed"] = sum(1 for c in chk if c["verdict"] == "reproduced")
    out["checks_failed"] = len(chk) - out["checks_passed"]
    return out


def convergence_note(rows: Iterable[Mapping], models: Iterable[str] | None = None,
                     unit: str = "epoch", loss: str = "training loss") -> str:
    """A claim note naming the models (of ``models``, default all) that did not meet
    their plateau criterion; "" when every one did. ``rows`` as given to
    :meth:`StageOutputs.convergence`; ``unit`` counts ``epochs_run`` (an iteration-based
    stage: "iteration") and ``loss`` names ``final_train_loss``."""
    wanted = None if models is None else set(models)
    bad = [r for r in rows if (wanted is None or r["model"] in wanted)
           and r.get("converged") is False]
    if not bad:
        return ""
    parts = [f"{r['model']} (stopped at the {unit} cap, {r['epochs_run']} {unit}s, {loss} "
             f"{fmt(r['final_train_loss'], 3)})" for r in bad]
    return ("Not converged: " + "; ".join(parts) + ". The verdict rests on models that had "
            "not reached the plateau criterion.")


def fmt(x: float, digits: int = 4) -> str:
    """Compact number formatting for claims and tables."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return str(x)
    return f"{x:.{digits}g}"



ClaimFunction = Callable[[Any], "Claim | list[Claim] | None"]


class ClaimSet:
    """The claim functions of one stage, in the order they are defined (a decorator).

    ``@claim`` registers a function whose claim id is its name; a function that returns
    several claims (one per weight set, say) names them: ``@claim(ids=("a_x", "a_y"))``.
    :attr:`ids` lists every id the stage can produce, derived from the functions."""

    def __init__(self) -> None:
        self.functions: list[ClaimFunction] = []

    def __call__(self, fn: ClaimFunction | None = None, *, ids: Iterable[str] = ()):
        if fn is None:
            return lambda f: self._register(f, tuple(ids))
        return self._register(fn, ())

    def _register(self, fn: ClaimFunction, ids: tuple[str, ...]) -> ClaimFunction:
        if any(f.__name__ == fn.__name__ for f in self.functions):
            raise ValueError(f"claim function {fn.__name__} is defined twice")
        fn.claim_ids = ids or (fn.__name__,)
        self.functions.append(fn)
        return fn

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(i for f in self.functions for i in f.claim_ids)

    def judge(self, res: Any) -> list[Claim]:
        """Every claim of the stage, judged on ``res``; ids must be unique."""
        out: list[Claim] = []
        for fn in self.functions:
            got = fn(res)
            if got is None:
                continue
            items = got if isinstance(got, list) else [got]
            for c in items:
                if not isinstance(c, Claim):
                    raise TypeError(f"claim function {fn.__name__} returned "
                                    f"{type(c).__name__}, not a Claim")
                if c.id not in fn.claim_ids:
                    raise ValueError(
                        f"claim function {fn.__name__} returned claim id {c.id!r}: name the "
                        f"function after its claim, or declare its ids with "
                        f"@claim(ids=(...)) (declared: {fn.claim_ids})")
            out.extend(items)
        ids = [c.id for c in out]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate claim ids: {dup}")
        return out

    def by_id(self, res: Any, claim_id: str) -> Claim:
        """The one claim ``claim_id`` judged on ``res`` (for tests)."""
        for c in self.judge(res):
            if c.id == claim_id:
                return c
        raise KeyError(f"no claim {claim_id!r}; the claims are {[c.id for c in self.judge(res)]}")
