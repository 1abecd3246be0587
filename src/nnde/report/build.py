"""Build ``reports/index.html`` from the stages' section and claims files.

The report is one self-contained HTML file: figures are inlined as base64 PNG, the style
sheet is inlined, there is no script, and nothing is fetched from a URL, so it opens
offline from ``file://``. All text goes through jinja2's autoescaping.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import platform
import subprocess
from collections import Counter
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import jinja2
import yaml

from ..errors import DataFileError
from ..stage import CLAIM_KINDS, VERDICTS, atomic_write_text

#: Papers in report order: key (folder under data/) → citation and one-line summary.
PAPERS = {
    "he": (
        "He, Zhang, Ren, Sun (2016). Deep residual learning for image recognition. CVPR.",
        "Residual networks: deeper plain nets train worse, residual nets improve with depth.",
    ),
    "haber_ruthotto": (
        "Haber, Ruthotto (2017). Stable architectures for deep neural networks. "
        "Inverse Problems 34.",
        "A ResNet is forward Euler for dY/dt = σ(Y K + b); stability of the ODE and of the "
        "integrator decides whether learning is well posed.",
    ),
    "ruthotto_haber": (
        "Ruthotto, Haber (2020). Deep neural networks motivated by partial differential "
        "equations. JMIV 62.",
        "Parabolic, hyperbolic and second-order CNNs built from the symmetric layer.",
    ),
    "chen": (
        "Chen, Rubanova, Bettencourt, Duvenaud (2018). Neural ordinary differential "
        "equations. NeurIPS.",
        "ODE blocks solved by adaptive Runge–Kutta, trained with the adjoint method.",
    ),
    "belkin": (
        "Belkin, Hsu, Ma, Mandal (2019). Reconciling modern machine-learning practice and "
        "the classical bias–variance trade-off. PNAS.",
        "Double descent: the test risk peaks at the interpolation threshold and falls again.",
    ),
    "benchmarks": (
        "Integrator and layer benchmarks (this project).",
        "Time and memory of each integrator and layer type, against the hand-written loop "
        "of the same Butcher table and against torchdiffeq: measurements of the machine "
        "named in each section, not claims (no verdicts).",
    ),
    "sweeps": (
        "Sweeps over DVC experiments (this project).",
        "Seeds and widths run through DVC's experiment queue, aggregated by `nnde sweeps`.",
    ),
}
#: Sections about this project rather than a paper: shown only when they have content.
#: They hold measurements, not claims, and are the only ones exempt from the rule that a
#: section comes with a non-empty claims file (``StageOutputs(no_claims=True)``).
PROJECT_SECTIONS = ("benchmarks", "sweeps")

PACKAGES = ("nnde", "torch", "torchdiffeq", "numpy", "pandas", "matplotlib", "seaborn",
            "scikit-learn", "jinja2", "dvc")


@dataclass
class Stage:
    paper: str
    stage: str
    title: str
    text: list[str]
    figures: list[dict]
    tables: list[dict]
    claims: list[dict]
    params: dict
    convergence: dict | None = None
    wall_seconds: float | None = None
    common_note: str = ""  # sentences every claim's note repeats (set by the scorecard)
    claim_rows: list | None = None  # the claims as scorecard rows (set by render)


def _load_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataFileError(
            f"{path}: cannot read stage output ({exc.__class__.__name__}: {exc}); "
            "re-run the stage with `dvc repro`"
        ) from exc


def _inline_png(path: str, root: Path) -> str:
    p = root / path
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise DataFileError(f"{p}: figure listed by a stage is missing; run `dvc repro`") from exc
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise DataFileError(f"{p}: not a PNG file; re-run its stage with `dvc repro`")
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def collect_stages(root: Path) -> list[Stage]:
    """Every ``data/<paper>/<stage>.section.json`` with its claims, in report order."""
    stages = []
    for sec_path in sorted((root / "data").glob("*/*.section.json")):
        sec = _load_json(sec_path)
        claims_path = sec_path.with_name(sec_path.name.replace(".section.json", ".claims.json"))
        claims = _load_json(claims_path)["claims"] if claims_path.exists() else []
        if sec["paper"] not in PROJECT_SECTIONS and not claims:
            state = "is empty" if claims_path.exists() else "is missing"
            raise DataFileError(
                f"{claims_path} {state}: every reproduction stage writes its checked claims; "
                f"re-run the stage (`dvc repro`) or remove its stale {sec_path.name}")
        for c in claims:
            if c.get("verdict") not in VERDICTS:
                raise DataFileError(f"{claims_path}: claim {c.get('id')!r} has no valid verdict")
            c.setdefault("kind", "experiment")
            for key in ("subject", "reference", "note"):  # claims files of older runs
                c.setdefault(key, "")
            if c["kind"] not in CLAIM_KINDS:
                raise DataFileError(f"{claims_path}: claim {c.get('id')!r} has kind "
                                    f"{c['kind']!r}; valid: {', '.join(CLAIM_KINDS)}")
        figures = [
            {"src": _inline_png(f["path"], root), "caption": f["caption"], "path": f["path"]}
            for f in sec.get("figures", [])
        ]
        stages.append(
            Stage(
                paper=sec["paper"],
                stage=sec["stage"],
                title=sec.get("title", sec["stage"]),
                text=[t.strip() for t in sec.get("text", "").split("\n\n") if t.strip()],
                figures=figures,
                tables=sec.get("tables", []),
                claims=claims,
                params=sec.get("params", {}),
                convergence=sec.get("convergence"),
                wall_seconds=sec.get("wall_seconds"),
            )
        )
    order = {p: i for i, p in enumerate(PAPERS)}
    stages.sort(key=lambda s: (order.get(s.paper, len(order)), s.paper, s.stage))
    return stages


def _git(root: Path, *args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(root: Path) -> dict:
    """Where and from what this report was made."""
    import torch

    commit = _git(root, "rev-parse", "HEAD") or "(not a git checkout)"
    dirty = bool(_git(root, "status", "--porcelain", "--untracked-files=no"))
    lock = root / "dvc.lock"
    lock_stages = {}
    lock_hash = ""
    if lock.exists():
        raw = lock.read_bytes()
        lock_hash = hashlib.sha256(raw).hexdigest()[:16]
        doc = yaml.safe_load(raw) or {}
        for name, st in (doc.get("stages") or {}).items():
            params = {}
            for _file, vals in (st.get("params") or {}).items():
                params.update(vals or {})
            digest = hashlib.sha256(json.dumps(st, sort_keys=True, default=str).encode())
            lock_stages[name] = {
                "params": json.dumps(params, sort_keys=True, default=str),
                "hash": digest.hexdigest()[:12],
            }
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    device = "cpu"
    if torch.cuda.is_available():
        device = f"cuda: {torch.cuda.get_device_name(0)}"
    return {
        "commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "dvc_lock_sha256": lock_hash or "(no dvc.lock yet)",
        "stages": lock_stages,
        "versions": versions,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": device,
    }


#: "How to read a verdict", shown in the report (the README says the same).
HOW_TO_READ = [
    ("reproduced", "our number agrees with the paper's by the claim's stated rule, and the "
     "difference it rests on is larger than its noise."),
    ("partly", "the rule's weaker form holds (e.g. the trend but not the size, or one of "
     "two comparisons)."),
    ("not reproduced", "the data contradict the claim beyond their noise, or the model the "
     "claim is about (its subject) did not learn under this protocol."),
    ("inconclusive", "the data cannot decide: a model the subject is compared with (its "
     "reference) is below the floor the claim states, or the difference is within its "
     "noise; the note says how many seeds or test examples would decide it."),
]
HOW_TO_READ_TEXT = [
    "Experiments are trained or measured outcomes that could have come out otherwise: they "
    "are the suite's result. Checks hold for any weights and data (an identity, a weight "
    "count, a solver's order); they test our code and are counted apart.",
    "A floor is the least a model must reach before a comparison means anything, measured "
    "on the task's own scale in the same run (the majority class, the initial model, a "
    "published baseline).",
    "Noise: each comparison is decided only when its difference exceeds two standard errors, "
    "from the spread over seeds and, for error rates, from the test set's own sampling. "
    "`nnde verdicts diff` compares the verdicts of two runs, e.g. on two sets of seeds "
    "(`dvc exp run -S seed_offset=1000`).",
]
#: a scorecard cell longer than this is shortened (the full text is one click away)
SHORT = 72


def _short(text: str, limit: int = SHORT) -> str:
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:(")
    return cut + " …"


def _sentences(note: str) -> list[str]:
    out, cur = [], ""
    for part in note.replace("\n", " ").split(". "):
        cur = f"{cur}. {part}" if cur else part
        if cur.count("(") == cur.count(")"):
            out.append(cur.strip())
            cur = ""
    if cur:
        out.append(cur.strip())
    return [x if x.endswith((".", "!", "?")) else x + "." for x in out if x]


def stage_notes(claims: list[dict]) -> tuple[str, dict[str, str]]:
    """Sentences that every claim of a stage (two or more) repeats in its note, once, and
    each claim's note without them."""
    notes = {c["id"]: _sentences(c.get("note") or "") for c in claims}
    if len(claims) < 2:
        return "", {k: " ".join(v) for k, v in notes.items()}
    common = [x for x in next(iter(notes.values())) if all(x in v for v in notes.values())]
    rest = {k: " ".join(x for x in v if x not in common) for k, v in notes.items()}
    return " ".join(common), rest


def scorecard(stages: list[Stage], other: dict | None = None) -> tuple[list[dict], dict]:
    """All claims as rows, and the verdict counts per kind: ``{"experiment": {verdict: n},
    "check": {verdict: n}}``. Experiments are the suite's result; checks (identities,
    counts) are listed apart. ``other``: a second run's claims (:func:`nnde.verdicts.
    load_run`), shown beside each verdict."""
    rows = []
    for s in stages:
        common, notes = stage_notes(s.claims)
        s.common_note = common
        for c in s.claims:
            key = f"{s.paper}.{s.stage}.{c['id']}"
            o = (other or {}).get(key)
            rows.append({"paper": s.paper, "stage": s.stage, "anchor": f"{s.paper}-{s.stage}",
                         "claim_anchor": f"claim-{s.paper}-{s.stage}-{c['id']}",
                         "row_anchor": f"sc-{s.paper}-{s.stage}-{c['id']}",
                         **c, "note": notes.get(c["id"], c.get("note", "")),
                         "paper_short": _short(c.get("paper_value", ""), 48),
                         "ours_short": _short(c.get("our_value", ""), 56),
                         "other_verdict": o["verdict"] if o else None})
    counts = {}
    for kind in CLAIM_KINDS:
        n = Counter(r["verdict"] for r in rows if r.get("kind", "experiment") == kind)
        counts[kind] = {v: n.get(v, 0) for v in VERDICTS}
    return rows, counts


def _tally(rows: list[dict]) -> dict:
    return {kind: {v: n for v in VERDICTS
                   if (n := sum(1 for r in rows if r.get("kind", "experiment") == kind
                                and r["verdict"] == v))}
            for kind in CLAIM_KINDS}


def render(root: str | os.PathLike = ".", stages: list[Stage] | None = None,
           other: dict | None = None, other_name: str = "") -> str:
    root = Path(root)
    stages = collect_stages(root) if stages is None else stages
    rows, counts = scorecard(stages, other)
    papers = []
    for key, (citation, summary) in PAPERS.items():
        ps = [s for s in stages if s.paper == key]
        if not ps and key in PROJECT_SECTIONS:
            continue
        papers.append({"key": key, "citation": citation, "summary": summary, "stages": ps})
    extra = sorted({s.paper for s in stages} - set(PAPERS))
    for key in extra:
        papers.append({"key": key, "citation": key, "summary": "",
                       "stages": [s for s in stages if s.paper == key]})
    for p in papers:
        p["rows"] = [r for r in rows if r["paper"] == p["key"]]
        p["tally"] = _tally(p["rows"])
        p["short"] = p["citation"].split(" (")[0].split(",")[0] + (
            " et al." if p["citation"].count(",") > 1 else "")
    for s in stages:
        s.claim_rows = [r for r in rows if r["paper"] == s.paper and r["stage"] == s.stage]
    agreement = None
    if other is not None:
        both = [r for r in rows if r["other_verdict"] is not None]
        agreement = {kind: (sum(1 for r in both if r["kind"] == kind
                                and r["verdict"] == r["other_verdict"]),
                            sum(1 for r in both if r["kind"] == kind))
                     for kind in CLAIM_KINDS}
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("nnde.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    css = (Path(__file__).parent / "templates" / "style.css").read_text()
    times = [{"stage": f"{s.paper} / {s.stage}", "seconds": s.wall_seconds}
             for s in stages if s.wall_seconds is not None]
    return env.get_template("index.html").render(
        papers=papers, rows=rows, counts=counts, prov=provenance(root), css=css, times=times,
        total_seconds=sum(t["seconds"] for t in times), how_to_read=HOW_TO_READ,
        how_to_read_text=HOW_TO_READ_TEXT, agreement=agreement, other_name=other_name,
    )


#: the paper keys that get a verdict file (every reproduced paper)
VERDICT_PAPERS = tuple(k for k in PAPERS if k not in PROJECT_SECTIONS)


def verdict_counts(stages: list[Stage]) -> dict:
    """Verdicts counted per paper and in total, experiments and checks apart:
    ``{"total": {...}, "<paper>": {...}}``, each with the same six keys (experiments:
    ``reproduced``, ``partly``, ``not_reproduced``, ``inconclusive``; checks:
    ``checks_passed``, ``checks_failed``). Written as ``reports/verdicts/<name>.json``,
    one DVC metrics file each, so that ``dvc metrics show reports/verdicts`` is one short
    table (a row per paper) and ``dvc metrics diff`` compares two runs' verdicts."""
    from ..claims import verdict_counts as count

    out = {"total": count([c for s in stages for c in s.claims])}
    for paper in VERDICT_PAPERS:
        out[paper] = count([c for s in stages if s.paper == paper for c in s.claims])
    return out


def build(root: str | os.PathLike = ".", out: str | os.PathLike = "reports/index.html",
          compare: str | None = None) -> Path:
    """Render the report to ``out`` and the verdict counts to ``verdicts/<name>.json``
    beside it (:func:`verdict_counts`).
    ``compare``: a second run (a directory, git revision or DVC experiment name, see
    :mod:`nnde.verdicts`) whose verdicts the scorecard shows beside ours."""
    stages = collect_stages(Path(root))
    other = None
    if compare:
        from ..verdicts import load_run

        other = load_run(compare, root)
    html = render(root, stages, other, compare or "")
    out = Path(root) / out
    atomic_write_text(out, html)
    counts = verdict_counts(stages)
    for name, c in counts.items():
        atomic_write_text(out.parent / "verdicts" / f"{name}.json",
                          json.dumps(c, indent=2) + "\n")
    return out
