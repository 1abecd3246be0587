"""Every claim rule is shown to be able to fail.

Each stage's ``claims.py`` collects its claim functions in a ``ClaimSet``; its ``ids``
are the claim ids the stage can produce. Each id must be named, as
``"<paper>.<stage>.<id>"``, by at least one test marked ``@pytest.mark.verdicts(...)``: a
test that feeds the rule results on which the claim is false (and asserts the verdict is
not "reproduced") and results on which it is true. ``pytest -m verdicts`` runs exactly
those tests.
"""

from __future__ import annotations

import ast
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


def marked_ids() -> set[str]:
    """String arguments of every ``pytest.mark.verdicts(...)`` in the test files."""
    found = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "verdicts"
                    and isinstance(node.func.value, ast.Attribute)
                    and node.func.value.attr == "mark"):
                found |= {a.value for a in node.args
                          if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    return found


def test_every_claim_id_has_a_falsification_test():
    marked = marked_ids()
    missing = sorted(f"{stage}.{cid}" for stage, ids in declared_ids().items() for cid in ids
                     if f"{stage}.{cid}" not in marked)
    assert not missing, f"claim ids without a @pytest.mark.verdicts test: {missing}"


def test_marks_name_existing_claims():
    declared = {f"{s}.{c}" for s, ids in declared_ids().items() for c in ids}
    stale = sorted(marked_ids() - declared)
    assert not stale, f"verdicts marks naming no declared claim id: {stale}"


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
