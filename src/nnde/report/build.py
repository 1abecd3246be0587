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


def scorecard(stages: list[Stage]) -> tuple[list[dict], dict]:
    """All claims as rows, and the verdict counts per kind: ``{"experiment": {verdict: n},
    "check": {verdict: n}}``. Experiments are the suite's result; checks (identities,
    counts) are listed apart."""
    rows = []
    for s in stages:
        for c in s.claims:
            rows.append({"paper": s.paper, "stage": s.stage, "anchor": f"{s.paper}-{s.stage}",
                         **c})
    counts = {}
    for kind in CLAIM_KINDS:
        n = Counter(r["verdict"] for r in rows if r.get("kind", "experiment") == kind)
        counts[kind] = {v: n.get(v, 0) for v in VERDICTS}
    return rows, counts


def render(root: str | os.PathLike = ".", stages: list[Stage] | None = None) -> str:
    root = Path(root)
    stages = collect_stages(root) if stages is None else stages
    rows, counts = scorecard(stages)
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
        total_seconds=sum(t["seconds"] for t in times),
    )


def verdict_counts(stages: list[Stage]) -> dict:
    """Verdicts counted per paper and in total, experiments and checks apart:
    ``{"total": {"experiment": {verdict: n}, "check": {...}}, "<paper>": {...}}``. Written
    beside the report as a DVC metric, so that ``dvc metrics diff`` and ``dvc exp show``
    compare the verdicts of two runs."""
    def count(claims):
        return {kind: {v.replace(" ", "_"): sum(1 for c in claims if c.get("kind") == kind
                                                and c["verdict"] == v) for v in VERDICTS}
                for kind in CLAIM_KINDS}

    out = {"total": count([c for s in stages for c in s.claims])}
    for paper in dict.fromkeys(s.paper for s in stages if s.claims):
        out[paper] = count([c for s in stages if s.paper == paper for c in s.claims])
    return out


def build(root: str | os.PathLike = ".", out: str | os.PathLike = "reports/index.html") -> Path:
    """Render the report to ``out`` and the verdict counts to ``verdicts.json`` beside it."""
    stages = collect_stages(Path(root))
    html = render(root, stages)
    out = Path(root) / out
    atomic_write_text(out, html)
    counts = verdict_counts(stages)
    atomic_write_text(out.with_name("verdicts.json"), json.dumps(counts, indent=2) + "\n")
    return out
