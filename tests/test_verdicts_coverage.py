"""Every claim rule is shown to be able to pass and to fail.

Each stage's ``claims.py`` collects its claim functions in a ``ClaimSet``; its ``ids``
are the claim ids the stage can produce. Each stage's test file declares verdict cases
(:mod:`tests.verdict_cases`): made-up results and the verdict the rule must give. Every
id needs a case that gives "reproduced" and one that does not.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = sorted(p.parent for p in (ROOT / "reproductions").glob("*/*/claims.py"))


def declared_ids() -> dict[str, set[str]]:
    out = {}
    for folder in STAGES:
        paper, stage = folder.parent.name, folder.name
        mod = importlib.import_module(f"reproductions.{paper}.{stage}.claims")
        ids = mod.claim.ids
        assert ids, f"{folder.relative_to(ROOT)}/claims.py declares no claim"
        out[f"{paper}.{stage}"] = set(ids)
    return out


def case_registry() -> dict[str, tuple]:
    """``{"<paper>.<stage>": (claim_set, cases)}`` from every test module that declares
    verdict cases (imported here so that the registry is complete on any worker)."""
    from tests import verdict_cases

    for path in sorted((ROOT / "tests").glob("test_*.py")):
        if "verdict_test(" in path.read_text():
            importlib.import_module(f"tests.{path.stem}")
    out = {}
    for claim_set, cases in verdict_cases.REGISTRY:
        for folder in STAGES:
            key = f"{folder.parent.name}.{folder.name}"
            mod = importlib.import_module(f"reproductions.{key}.claims")
            if mod.claim is claim_set:
                prev = out.get(key, (claim_set, ()))[1]
                out[key] = (claim_set, prev + tuple(cases))
    return out


def test_every_claim_can_pass_and_fail():
    """Each claim id has a case where its rule says "reproduced" and one where it says
    something else, and every case gives the verdict it states (run here again, so the
    check does not rest on the stage test having run on this worker)."""
    from tests.verdict_cases import judge_case

    registry = case_registry()
    problems = []
    for stage, ids in declared_ids().items():
        claim_set, cases = registry.get(stage, (None, ()))
        for cid in sorted(ids):
            mine = [c for c in cases if c.claim == cid]
            if not any(c.verdict == "reproduced" for c in mine):
                problems.append(f"{stage}.{cid}: no case where it is reproduced")
            if not any(c.verdict != "reproduced" for c in mine):
                problems.append(f"{stage}.{cid}: no case where it is not reproduced")
            for c in mine:
                got = judge_case(claim_set, c)
                if got is None or got.verdict != c.verdict:
                    problems.append(f"{stage}.{cid}: case {c.why!r} expects {c.verdict!r}, "
                                    f"the rule gives {None if got is None else got.verdict!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.e2e
def test_pipeline_claims_are_declared(pipeline_repo):
    import json

    declared = declared_ids()
    for path in sorted(pipeline_repo.glob("data/*/*.claims.json")):
        doc = json.loads(path.read_text())
        key = f"{doc['paper']}.{doc['stage']}"
        if key not in declared:
            continue  # sections that are not a reproduction stage (benchmarks, sweeps)
        undeclared = {c["id"] for c in doc["claims"]} - declared[key]
        assert not undeclared, f"{path.name}: ids not declared by its claim functions: {undeclared}"
