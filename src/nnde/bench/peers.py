"""Ours against torchdiffeq and against the hand-written loop, measured side by side in
one process, as ratios.

``measure(pairs)`` times each (ours, other) pair — ``catalog.peer_pairs`` (torchdiffeq)
or ``catalog.loop_pairs`` (the hand-written loop of the same table) — interleaved:
``rounds`` rounds of ``samples`` alternating short samples per side; each side's time
in a round is the minimum of its samples, the round's ratio is ours ÷ other, and the
reported ratio is the median over rounds. Same-table pairs are also checked for equal
outputs (max-abs difference of y(T)).

``gate(rows, baseline, threshold)``: a ratio is a regression when it exceeds the
saved baseline ratio × ``threshold`` (default 1.5). A ratio, not a time, is compared
with the baseline, so the baseline carries over between machines of similar kind and
between quiet and loaded hours. A same-table pair whose outputs differ by more than
``OUTPUT_TOL`` also fails, however fast: a solver that became wrong is a regression.

The peer side integrates :class:`nnde.bench.catalog.ReferenceDense`, a plain-torch copy
of the dense field with the same weights, so a slowdown in the library's field module
does not cancel out of the ratio.

``overhead_gate(rows, target)``: the *integrator overhead* is ours ÷ the hand-written
loop of the same table on the same field module (so the field's cost cancels and only
the integrator's code is compared). It is gated against a fixed target,
``OVERHEAD_TARGET`` = 1.6, not a baseline: a row fails when its ratio exceeds the target
or when its output differs from the loop's by more than ``OUTPUT_TOL``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from nnde.bench import catalog as C
from nnde.bench import measure as M
from nnde.errors import DataFileError

THRESHOLD = 1.5
#: largest max|y_ours(T) − y_peer(T)| accepted for a same-table pair (float32; the
#: committed baseline's pairs differ by at most 3e-6)
OUTPUT_TOL = 1e-4
CLOCK = "cpu"  # CPU time on CPU: preemption by other processes is not counted
BASELINE = Path("benchmarks/baseline/peers-cpu.json")
# The gate's pairs: every shared method on the dense field, forward and forward+backward.
GATE_PROBLEMS = ("dense",)
#: largest ours ÷ hand-written loop accepted (the integrator overhead target). Measured
#: on the idle 2-core machine at size small: see the README ("Benchmarks").
OVERHEAD_TARGET = 1.6


@dataclass
class PeerRow:
    ours: str
    peer: str
    problem: str
    size: str
    pass_: str
    ours_ms: float
    peer_ms: float
    ratio: float
    ratio_lo: float
    ratio_hi: float
    same_table: bool
    max_abs_diff: float | None
    nfe_ours: int
    nfe_peer: int

    @property
    def key(self) -> str:
        return f"{self.ours}|{self.peer}|{self.problem}|{self.size}|{self.pass_}"


def measure(pairs=None, *, rounds=7, samples=5, min_time=0.003, progress=None) -> list[PeerRow]:
    M.pin_threads()
    pairs = pairs if pairs is not None else C.peer_pairs(problems=GATE_PROBLEMS)
    rows = []
    for a, b in pairs:
        wa, wb = C.build(a), C.build(b)
        ratio, lo, hi, ta, tb = M.paired_ratio(
            wa.run, wb.run, a.device, rounds, samples, min_time, CLOCK
        )
        same = C.same_table(a.integrator, b.integrator)
        diff = None
        if same:
            diff = float((wa.output() - wb.output()).abs().max())
        rows.append(
            PeerRow(
                a.integrator,
                b.integrator,
                a.problem,
                a.size,
                a.pass_,
                ta * 1e3,
                tb * 1e3,
                ratio,
                lo,
                hi,
                same,
                diff,
                wa.nfe(),
                wb.nfe(),
            )
        )
        if progress:
            progress(rows[-1])
    return rows


def load_baseline(path=BASELINE) -> dict[str, float]:
    try:
        data = json.loads(Path(path).read_text())
        return {k: float(v) for k, v in data["ratios"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataFileError(
            f"{path}: cannot read a peers baseline ({exc.__class__.__name__}: {exc}); "
            f"the committed one is {BASELINE}, `nnde bench peers --save FILE` writes one"
        ) from exc


def save_baseline(rows: list[PeerRow], path=BASELINE, **meta) -> None:
    from nnde.stage import atomic_write_text, dumps

    meta.setdefault("torch", torch.__version__)
    atomic_write_text(
        path,
        dumps(
            {
                **meta,
                "ratios": {r.key: round(r.ratio, 4) for r in rows},
                "rows": [asdict(r) for r in rows],
            }
        ),
    )


def wrong(r: PeerRow, tol=OUTPUT_TOL) -> bool:
    """A same-table pair whose outputs differ beyond ``tol`` (or are not finite)."""
    if not r.same_table or r.max_abs_diff is None:
        return False
    return not r.max_abs_diff <= tol  # NaN counts as wrong


def gate(rows: list[PeerRow], baseline: dict[str, float], threshold=THRESHOLD,
         tol=OUTPUT_TOL):
    """Rows whose ratio exceeds baseline × threshold (rows without a baseline pass the
    time check), and same-table rows whose outputs differ beyond ``tol``."""
    return [r for r in rows if wrong(r, tol)
            or (r.key in baseline and r.ratio > baseline[r.key] * threshold)]


def over_target(r: PeerRow, target=OVERHEAD_TARGET) -> bool:
    return not r.ratio <= target  # NaN counts as over


def overhead_gate(rows: list[PeerRow], target=OVERHEAD_TARGET, tol=OUTPUT_TOL):
    """Rows of ours ÷ hand-written loop above ``target``, or whose outputs differ from
    the loop's beyond ``tol``."""
    return [r for r in rows if wrong(r, tol) or over_target(r, target)]


def table(rows: list[PeerRow], baseline: dict[str, float] | None = None, threshold=THRESHOLD,
          target: float | None = None):
    """Text table; with ``baseline`` each row is judged against baseline × threshold,
    with ``target`` (the loop rows) against that fixed ratio."""
    other = "loop" if rows and C.is_loop(rows[0].peer) else "torchdiffeq"
    head = (
        f"{'ours':9s} {other:19s} {'problem':17s} {'pass':8s} {'ours ms':>8s} "
        f"{'loop ms' if other == 'loop' else 'peer ms':>8s} {'ratio':>6s} "
        f"{'base' if target is None else 'target':>6s} {'max|Δy|':>8s}  verdict"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        if target is not None:  # the "base" column shows the fixed target
            b = target
            verdict = f"OVER TARGET (> {target:g})" if over_target(r, target) else "ok"
        else:
            b = (baseline or {}).get(r.key)
            verdict = ("" if b is None else f"SLOWER (> {threshold:g}× baseline)"
                       if r.ratio > b * threshold else "ok")
        if wrong(r):
            verdict = f"WRONG OUTPUT (> {OUTPUT_TOL:g})" + (f"; {verdict}" if verdict else "")
        diff = "-" if r.max_abs_diff is None else f"{r.max_abs_diff:.1e}"
        lines.append(
            f"{r.ours:9s} {r.peer:19s} {r.problem:17s} {r.pass_:8s} {r.ours_ms:8.3f} "
            f"{r.peer_ms:8.3f} {r.ratio:6.3f} {'-' if b is None else f'{b:6.3f}':>6s} "
            f"{diff:>8s}  {verdict}"
        )
    return "\n".join(lines)
