"""The regression gate: the working tree against a revision, on the same machine, in the
same run, interleaved.

``nnde bench compare --base REV`` extracts ``src/`` of REV (``git archive``; the
repository is not touched), starts one worker process per side (``worker.py`` with
``PYTHONPATH`` at that side's ``src/``), warms both, fixes the calls per sample from
the base side, then for ``pairs`` rounds times each case on both sides back to back —
alternating which side goes first — and takes the ratio new ÷ base of each pair. A
case *regressed* when the median of its per-pair ratios exceeds ``threshold``.

Why this shape: on a shared machine the load changes from second to second; two
timings taken milliseconds apart see the same load, so their ratio is stable even when
each time is not, and the median discards the pairs a burst of load hit on one side.

Threshold (default 1.25): on a 2-core machine at load ~10, unchanged trees gave median
ratios within 0.9–1.1 (see the README's Benchmarks section for the measured figures);
a real slowdown worth blocking — one integrator doing its step twice — gives ≈ 1.6–2.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import asdict, dataclass
from io import BytesIO
from pathlib import Path

from nnde.bench.catalog import GATE_CASES

WORKER = Path(__file__).resolve().parent / "worker.py"
THRESHOLD = 1.25
PAIRS = 9
SAMPLES = 5
# Samples of at least 20 ms: with 3 ms samples a 0.6 ms workload gave per-pair ratios
# spreading 0.8–1.35 on an unchanged tree, and one median of 7 pairs crossed 1.25.
MIN_TIME = 0.02
# Each worker's CPU time: time a side spends preempted by the machine's other work is
# not counted, which is what makes the ratio hold at load 10 on 2 cores.
CLOCK = "cpu"


class GateError(RuntimeError):
    pass


def extract_src(root: str | os.PathLike, rev: str, dest: str | os.PathLike) -> Path:
    """Write ``src/`` of ``rev`` under ``dest`` (via ``git archive``); returns dest/src."""
    try:
        blob = subprocess.run(
            ["git", "-C", str(root), "archive", "--format=tar", rev, "src"],
            check=True,
            capture_output=True,
        ).stdout
    except subprocess.CalledProcessError as exc:
        raise GateError(f"cannot read src/ at {rev!r}: {exc.stderr.decode().strip()}") from None
    safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    with tarfile.open(fileobj=BytesIO(blob)) as tar:
        tar.extractall(dest, **safe)
    return Path(dest) / "src"


class Worker:
    """One benchmark process importing the library from ``src``."""

    def __init__(self, src: str | os.PathLike, label: str):
        self.label = label
        self.src = Path(src).resolve()
        env = dict(os.environ, PYTHONPATH=str(self.src))
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def check(self) -> None:
        """Fail unless the worker imported the library from its own ``src``."""
        got = Path(self.call(op="info")["nnde"])
        if got != self.src / "nnde":
            raise GateError(f"{self.label}: imported nnde from {got}, expected {self.src}/nnde")

    def call(self, **req):
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise GateError(f"{self.label} worker exited (code {self.proc.wait()})")
        rep = json.loads(line)
        if "error" in rep:
            raise GateError(f"{self.label} worker failed on {req}:\n{rep['error']}")
        return rep

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


@dataclass
class Row:
    case: str
    new_s: float
    base_s: float
    ratio: float
    ratio_lo: float
    ratio_hi: float
    regressed: bool


def compare_src(
    new_src,
    base_src,
    cases=GATE_CASES,
    *,
    pairs: int = PAIRS,
    samples: int = SAMPLES,
    threshold: float = THRESHOLD,
    min_time: float = MIN_TIME,
    clock: str = CLOCK,
) -> list[Row]:
    """Interleaved medians of per-pair ratios new ÷ base for each case.

    One pair is ``samples`` alternating short samples per side (each at least
    ``min_time`` seconds); each side's time in the pair is the minimum of its samples
    (load only ever adds time), and the ratio of the two is the pair's ratio."""
    new, base = Worker(new_src, "new"), None
    try:
        base = Worker(base_src, "base")  # both start (import torch) at once
        new.check()
        base.check()
        numbers = {}
        for c in cases:
            new.call(op="calibrate", case=c, min_time=min_time, clock=clock)  # warm-up
            numbers[c] = base.call(op="calibrate", case=c, min_time=min_time, clock=clock)["number"]
        t = {c: ([], []) for c in cases}
        for r in range(pairs):
            for c in cases:
                best = {"new": float("inf"), "base": float("inf")}
                for k in range(samples):
                    order = (new, base) if (r + k) % 2 == 0 else (base, new)
                    for w in order:
                        got = w.call(op="time", case=c, number=numbers[c], clock=clock)["t"]
                        best[w.label] = min(best[w.label], got)
                t[c][0].append(best["new"])
                t[c][1].append(best["base"])
    finally:
        new.close()
        if base is not None:
            base.close()
    rows = []
    for c in cases:
        tn, tb = t[c]
        ratios = sorted(a / b for a, b in zip(tn, tb, strict=True))
        q = max(len(ratios) // 4, 0)
        med = statistics.median(ratios)
        rows.append(
            Row(
                c,
                statistics.median(tn),
                statistics.median(tb),
                med,
                ratios[q],
                ratios[-1 - q],
                med > threshold,
            )
        )
    return rows


def table(rows: list[Row], threshold: float) -> str:
    head = f"{'case':44s} {'new ms':>9s} {'base ms':>9s} {'ratio':>6s} {'IQR':>13s}  verdict"
    lines = [head, "-" * len(head)]
    for r in rows:
        verdict = f"SLOWER (> {threshold:g})" if r.regressed else "ok"
        lines.append(
            f"{r.case:44s} {r.new_s * 1e3:9.3f} {r.base_s * 1e3:9.3f} {r.ratio:6.3f} "
            f"{r.ratio_lo:6.3f}–{r.ratio_hi:<6.3f}  {verdict}"
        )
    return "\n".join(lines)


def compare_rev(
    root=".",
    base: str = "HEAD",
    cases=GATE_CASES,
    *,
    pairs: int = PAIRS,
    samples: int = SAMPLES,
    threshold: float = THRESHOLD,
    min_time: float = MIN_TIME,
) -> list[Row]:
    """The working tree's ``src/`` under ``root`` against ``src/`` at revision ``base``."""
    root = Path(root).resolve()
    if not (root / "src" / "nnde").is_dir():
        raise GateError(f"{root} has no src/nnde (run from the repository root or pass --root)")
    with tempfile.TemporaryDirectory(prefix="nnde-gate-") as tmp:
        base_src = extract_src(root, base, tmp)
        return compare_src(
            root / "src",
            base_src,
            cases,
            pairs=pairs,
            samples=samples,
            threshold=threshold,
            min_time=min_time,
        )


def write_json(path, rows: list[Row], **meta) -> None:
    from nnde.stage import atomic_write_text, dumps

    atomic_write_text(path, dumps({**meta, "rows": [asdict(r) for r in rows]}))
