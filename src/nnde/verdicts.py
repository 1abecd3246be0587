"""The claims of two runs side by side: which verdicts a second run (fresh seeds, another
machine, another commit) agrees with.

A run is named by a directory (a checkout whose ``data/<paper>/<stage>.claims.json`` the
pipeline wrote) or by a git revision or DVC experiment name (the claims files are
git-tracked ``cache: false`` outputs, so every commit and every ``dvc exp run`` records
them)::

    dvc exp run -n fresh-seeds -S seed_offset=1000
    nnde verdicts diff HEAD fresh-seeds
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .errors import NndeError

CLAIMS_GLOB = "data/*/*.claims.json"


class RunNotFound(NndeError):
    pass


def _read_docs_dir(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(root.glob(CLAIMS_GLOB))]


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                          text=True).stdout


def _resolve_rev(root: Path, name: str) -> str | None:
    """A git revision, or a DVC experiment's name (its ref under refs/exps)."""
    try:
        return _git(root, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}").strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        pass
    try:
        refs = _git(root, "for-each-ref", "--format=%(refname) %(objectname)",
                    "refs/exps").split("\n")
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None
    hits = [ln.split()[1] for ln in refs if ln and ln.split()[0].rsplit("/", 1)[-1] == name]
    return hits[-1] if len(hits) == 1 else None


def _read_docs_rev(root: Path, rev: str) -> list[dict]:
    names = [n for n in _git(root, "ls-tree", "-r", "--name-only", rev, "data").split("\n")
             if n.endswith(".claims.json") and n.count("/") == 2]
    return [json.loads(_git(root, "show", f"{rev}:{n}")) for n in sorted(names)]


def load_run(spec: str, root: str | Path = ".") -> dict[str, dict]:
    """``{"<paper>.<stage>.<claim id>": claim}`` of the run named by ``spec``."""
    root = Path(root)
    path = Path(spec)
    if path.is_dir():
        docs = _read_docs_dir(path)
        where = f"directory {spec}"
    else:
        rev = _resolve_rev(root, spec)
        if rev is None:
            raise RunNotFound(
                f"{spec!r} is neither a directory nor a git revision or DVC experiment "
                f"of {root.resolve()}; name a checkout that holds {CLAIMS_GLOB}, a commit, "
                "or an experiment listed by `dvc exp list`")
        docs = _read_docs_rev(root, rev)
        where = f"revision {spec} ({rev[:9]})"
    if not docs:
        raise RunNotFound(f"{where} holds no {CLAIMS_GLOB}: run `dvc repro` there first")
    out = {}
    for doc in docs:
        for c in doc.get("claims", []):
            out[f"{doc['paper']}.{doc['stage']}.{c['id']}"] = c
    return out


@dataclass
class Diff:
    rows: list[dict]  # every claim in both runs: key, kind, verdict_a, verdict_b, agree
    only_a: list[str]
    only_b: list[str]

    def agreement(self, kind: str) -> tuple[int, int]:
        rows = [r for r in self.rows if r["kind"] == kind]
        return sum(r["agree"] for r in rows), len(rows)

    def counts(self, side: str, kind: str) -> Counter:
        return Counter(r[f"verdict_{side}"] for r in self.rows if r["kind"] == kind)


def diff_runs(a: dict[str, dict], b: dict[str, dict]) -> Diff:
    rows = []
    for key in sorted(set(a) & set(b)):
        ka, kb = a[key].get("kind", "experiment"), b[key].get("kind", "experiment")
        rows.append({"key": key, "kind": ka if ka == kb else f"{ka}/{kb}",
                     "verdict_a": a[key]["verdict"], "verdict_b": b[key]["verdict"],
                     "ours_a": a[key].get("our_value", ""), "ours_b": b[key].get("our_value", ""),
                     "agree": a[key]["verdict"] == b[key]["verdict"]})
    return Diff(rows, sorted(set(a) - set(b)), sorted(set(b) - set(a)))


def format_diff(d: Diff, name_a: str, name_b: str, show_all: bool = False) -> str:
    lines = []
    for kind in ("experiment", "check"):
        agree, n = d.agreement(kind)
        if n:
            inc_a = d.counts("a", kind)["inconclusive"]
            inc_b = d.counts("b", kind)["inconclusive"]
            lines.append(f"{kind}s: {agree}/{n} verdicts agree ({100 * agree / n:.0f} %); "
                         f"inconclusive {inc_a} in {name_a}, {inc_b} in {name_b}")
    changed = [r for r in d.rows if show_all or not r["agree"]]
    if changed:
        w = max(len(r["key"]) for r in changed)
        lines.append("")
        lines.append(f"{'claim':<{w}}  {'kind':<10}  {name_a:<15}  {name_b}")
        for r in changed:
            lines.append(f"{r['key']:<{w}}  {r['kind']:<10}  {r['verdict_a']:<15}  "
                         f"{r['verdict_b']}")
    for side, keys in ((name_a, d.only_a), (name_b, d.only_b)):
        if keys:
            lines.append(f"\nonly in {side}: {', '.join(keys)}")
    return "\n".join(lines)
