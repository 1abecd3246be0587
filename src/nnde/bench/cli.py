"""``nnde bench …``: the regression gates and the report's benchmark sections.

nnde bench compare --base REV   working tree vs REV, interleaved; exit 1 on a slowdown
nnde bench peers [--baseline F] ours ÷ torchdiffeq and ours ÷ hand-written loop in one
                                run; exit 1 on a regression, an overhead over target or a
                                wrong output
nnde bench report [--quick]     data/benchmarks/peers.section.json (+ figures)
nnde bench history              data/benchmarks/history.section.json from asv results;
                                with none yet, one line saying how to record some (exit 0)

Bad input (a missing --root or --results directory, --last below 1) is one line on
stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nnde.errors import NndeError


def add_parser(sub, func) -> None:
    b = sub.add_parser("bench", help="benchmark gates and report sections (see `nnde bench -h`)")
    bs = b.add_subparsers(dest="bench_command", metavar="BENCH_COMMAND", required=True)

    c = bs.add_parser(
        "compare",
        help="benchmark the working tree against REV in one interleaved run; exit 1 when a "
        "case got slower than --threshold",
    )
    c.add_argument("--base", default="HEAD", help="revision to compare with (default HEAD)")
    c.add_argument("--root", default=".", help="repository root (default .)")
    c.add_argument("--case", action="append", help="case id (repeatable; default: the gate set)")
    c.add_argument("--pairs", type=int, default=None, help="rounds of paired samples (9)")
    c.add_argument("--samples", type=int, default=None, help="samples per side per round (5)")
    c.add_argument("--threshold", type=float, default=None, help="max median ratio (1.25)")
    c.add_argument("--json", help="also write the table as JSON here")

    p = bs.add_parser(
        "peers",
        help="ours ÷ torchdiffeq and ours ÷ the hand-written loop of the same table, per "
        "method and problem, measured in one run; exit 1 when a torchdiffeq ratio regressed "
        "by more than --threshold against --baseline, when ours ÷ loop exceeds "
        "--overhead-target, or when a same-table output differs by more than 1e-4",
    )
    p.add_argument("--baseline", help="baseline JSON to gate against")
    p.add_argument("--save", help="write the measured ratios as a baseline JSON here")
    p.add_argument("--threshold", type=float, default=None, help="allowed ratio ÷ baseline (1.5)")
    p.add_argument("--overhead-target", type=float, default=None,
                   help="largest ours ÷ hand-written loop accepted (1.6)")
    p.add_argument("--all", action="store_true", help="every problem, not just dense")

    r = bs.add_parser(
        "report",
        help="measure ours ÷ hand-written loop, ours ÷ torchdiffeq, memory, "
        "work-precision (a full run of the benchmarks stage); write "
        "data/benchmarks/peers.section.json",
    )
    r.add_argument("--root", default=".")
    r.add_argument("--quick", action="store_true",
                   help="fewer problems, rounds and sizes (about 30 s instead of 1.5 min)")

    h = bs.add_parser(
        "history",
        help="draw asv's result history into "
        "data/benchmarks/history.section.json (cheap; runs no benchmark)",
    )
    h.add_argument("--root", default=".")
    h.add_argument("--results", default=None,
                   help="asv results dir, relative to --root (default .asv/results; when it "
                   "does not exist there is no history yet, which is not an error)")
    h.add_argument("--last", default="10", help="most recent commits to draw (10)")
    b.set_defaults(func=func)


def _positive_int(text: str, flag: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = 0
    if v < 1:
        raise NndeError(f"{flag} must be an integer >= 1, got {text!r}")
    return v


def _directory(path: str, flag: str) -> None:
    if not Path(path).is_dir():
        raise NndeError(f"{flag} {path!r} is not a directory")


def run(args: argparse.Namespace) -> None:
    cmd = args.bench_command
    if cmd == "compare":
        from nnde.bench import compare as G

        th = args.threshold or G.THRESHOLD
        rows = G.compare_rev(
            args.root,
            args.base,
            tuple(args.case) if args.case else G.GATE_CASES,
            pairs=args.pairs or G.PAIRS,
            samples=args.samples or G.SAMPLES,
            threshold=th,
        )
        print(f"working tree ÷ {args.base} (median of per-pair ratios; threshold {th:g})")
        print(G.table(rows, th))
        if args.json:
            G.write_json(args.json, rows, base=args.base, threshold=th)
        if any(r.regressed for r in rows):
            print("regression: at least one case is slower than the threshold", file=sys.stderr)
            raise SystemExit(1)
    elif cmd == "peers":
        from nnde.bench import catalog as C
        from nnde.bench import peers as P

        th = args.threshold or P.THRESHOLD
        problems = C.PROBLEMS if args.all else P.GATE_PROBLEMS
        target = args.overhead_target or P.OVERHEAD_TARGET
        base = P.load_baseline(args.baseline) if args.baseline else None
        rows = P.measure(C.peer_pairs(problems=problems))
        loops = P.measure(C.loop_pairs(problems=problems))
        print("ours ÷ torchdiffeq (median of interleaved per-round ratios)")
        print(P.table(rows, base, th))
        print()
        print(f"integrator overhead: ours ÷ hand-written loop of the same table "
              f"(target ≤ {target:g})")
        print(P.table(loops, target=target))
        if args.save:
            P.save_baseline(rows, args.save, threshold=th)
            print(f"baseline written to {args.save}")
        failed = False
        if any(P.wrong(r) for r in rows):
            print(f"regression: outputs differ from torchdiffeq's same table by more than "
                  f"{P.OUTPUT_TOL:g}", file=sys.stderr)
            failed = True
        if base is not None and P.gate(rows, base, th):
            print("regression: a ratio exceeds its baseline × threshold", file=sys.stderr)
            failed = True
        if P.overhead_gate(loops, target):
            print(f"regression: ours ÷ hand-written loop exceeds {target:g}, or an output "
                  f"differs from the loop's by more than {P.OUTPUT_TOL:g}", file=sys.stderr)
            failed = True
        if failed:
            raise SystemExit(1)
    elif cmd == "report":
        from nnde.bench.report import write_peers_section

        out = write_peers_section(args.root, quick=args.quick)
        print(f"wrote {out}; run `nnde report` to render it")
    elif cmd == "history":
        from nnde.bench import history as H

        last = _positive_int(args.last, "--last")
        _directory(args.root, "--root")
        if args.results is not None:
            _directory(str(Path(args.root) / args.results), "--results")
        results = args.results or H.RESULTS
        out = H.write_history_section(args.root, results, last=last)
        if out is None:
            print(H.no_history_line(results))
        else:
            print(f"wrote {out}; run `nnde report` to render it")
