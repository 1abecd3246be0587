"""Verdict cases: results made up by hand, fed to a stage's own claim functions, with the
verdict each must give.

Every stage test file declares its cases and turns them into one parametrised test::

    from reproductions.chen.table1 import claims
    from tests.verdict_cases import Case, verdict_test

    CASES = [
        Case("odenet_close_to_resnet", "reproduced", lambda: results(odenet=[0.5, 0.6, 0.5])),
        Case("odenet_close_to_resnet", "not reproduced", lambda: results(odenet=[5, 6, 40]),
             "one seed far off: the gap is beyond the spread"),
    ]
    test_verdict_cases = verdict_test(claims.claim, CASES)

``tests/test_verdicts_coverage.py`` runs every registered case again and requires, for
each claim id a stage declares, a case where the rule says "reproduced" and one where it
does not: a rule that no input can fail, or no input can pass, is caught.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

#: every ClaimSet that has cases, with its cases (filled as test modules are imported)
REGISTRY: list[tuple[Any, tuple[Case, ...]]] = []


@dataclass(frozen=True)
class Case:
    claim: str  # the claim id
    verdict: str  # the verdict the rule must give
    results: Callable[[], Any]  # builds the made-up Results
    why: str = ""  # what the case shows (the test id says it)


def judge_case(claim_set: Any, case: Case):
    """The claim ``case.claim`` judged on the case's results (None: the function
    returned no such claim)."""
    res = case.results()
    for c in claim_set.judge(res):
        if c.id == case.claim:
            return c
    return None


def verdict_test(claim_set: Any, cases: Sequence[Case]):
    """A pytest test function parametrised over ``cases``; registers them for the
    coverage test."""
    cases = tuple(cases)
    unknown = sorted({c.claim for c in cases} - set(claim_set.ids))
    if unknown:
        raise ValueError(f"verdict cases name claims the stage does not declare: {unknown}")
    REGISTRY.append((claim_set, cases))

    @pytest.mark.parametrize(
        "case", cases,
        ids=[f"{c.claim}-{c.verdict.replace(' ', '_')}-{i}" for i, c in enumerate(cases)])
    def test_verdict_case(case: Case):
        got = judge_case(claim_set, case)
        assert got is not None, f"{case.claim} was not judged on the case's results"
        assert got.verdict == case.verdict, (
            f"{case.claim}: expected {case.verdict!r}, got {got.verdict!r} "
            f"({case.why}); ours: {got.our_value}; note: {got.note}")

    return test_verdict_case
