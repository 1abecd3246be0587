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
#: "experiment": evidence about the paper (a trained or measured outcome that could have
#: come out otherwise); "check": a consequence of mathematics or of how we built the
#: experiment (an identity, a weight count), worth showing because it tests our code, but
#: not evidence about the paper. The scorecard counts the two apart.
CLAIM_KINDS = ("experiment", "check")



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
    competent: bool = True,
    floor: str = "",
) -> Claim:
    """Make a :class:`Claim` whose verdict follows from ``passed`` (and ``partly``).

    A comparison between trained models first checks each model against a floor the
    claim states (``floor``, e.g. "each model beats predicting the majority class by
    10 pp"); ``competent=False`` (some model is below it) makes the verdict
    ``inconclusive`` whatever ``passed`` says, and the floor is added to the rule."""
    passed, partly = bool(passed), bool(partly)
    if floor:
        rule = f"{rule}. Floor: {floor}; below it the verdict is inconclusive"
    if not competent:
        verdict = "inconclusive"
        note = " ".join(t for t in ("A model is below the floor the claim states, so the "
                                    "comparison says nothing about the paper.", note) if t)
    else:
        verdict = "reproduced" if passed else ("partly" if partly else "not reproduced")
    return Claim(id, statement, str(paper), str(ours), rule, verdict, note, kind)


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
