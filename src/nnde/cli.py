"""The one command-line entry point: ``nnde --help`` lists the commands."""

from __future__ import annotations

import argparse
import json
import sys

from .errors import NndeError


def _cmd_report(args: argparse.Namespace) -> None:
    from .report import build

    out = build(args.root, args.out, compare=args.compare)
    print(f"report written to {out}")


def _cmd_list(args: argparse.Namespace) -> None:
    """Print the registries (integrators, fields, layers) that params.yaml can name."""
    import importlib

    for title, module, attr in (
        ("integrators", "nnde.integrators", "METHODS"),
        ("fields", "nnde.fields", "FIELDS"),
        ("layers", "nnde.layers", "LAYERS"),
    ):
        try:
            reg = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            continue
        print(f"{title}:")
        for name, obj in reg.items():
            order = getattr(obj, "order", None)
            kind = getattr(obj, "kind", "")
            extra = ", ".join(x for x in (kind, f"order {order}" if order else "") if x)
            print(f"  {name}" + (f"  ({extra})" if extra else ""))


def _cmd_info(args: argparse.Namespace) -> None:
    from .report.build import provenance

    print(json.dumps(provenance(args.root), indent=2))


def _cmd_sweeps(args: argparse.Namespace) -> None:
    from .sweeps import write_sweeps

    summary = write_sweeps(args.root)
    print(f"{summary['group'].nunique()} groups, {len(summary)} metric rows written to "
          "data/sweeps/; run `nnde report` to show them")


def _cmd_verdicts(args: argparse.Namespace) -> None:
    """``nnde verdicts diff A B``: the claims of two runs side by side."""
    from .verdicts import diff_runs, format_diff, load_run

    d = diff_runs(load_run(args.a, args.root), load_run(args.b, args.root))
    if args.json:
        print(json.dumps({"rows": d.rows, "only_a": d.only_a, "only_b": d.only_b}, indent=2))
    else:
        print(format_diff(d, args.a, args.b, show_all=args.all))


def _cmd_bench(args: argparse.Namespace) -> None:
    """``nnde bench compare|peers|report|history``: see ``nnde.bench``."""
    from .bench.cli import run

    run(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nnde",
        description="Deep networks as discretised differential equations: reproductions, "
        "report and benchmarks. Run the pipeline itself with `dvc repro`.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    r = sub.add_parser("report", help="render reports/index.html from the stages' outputs")
    r.add_argument("--root", default=".", help="repository root (default: .)")
    r.add_argument("--out", default="reports/index.html", help="output path, relative to root")
    r.add_argument("--compare", default=None, metavar="RUN",
                   help="show a second run's verdicts beside ours (a directory, git "
                   "revision or DVC experiment name, as for `nnde verdicts diff`)")
    r.set_defaults(func=_cmd_report)
    ls = sub.add_parser("list", help="list the registered integrators, fields and layers")
    ls.set_defaults(func=_cmd_list)
    i = sub.add_parser("info", help="print provenance: commit, versions, CPU, threads, device")
    i.add_argument("--root", default=".")
    i.set_defaults(func=_cmd_info)
    sw = sub.add_parser("sweeps", help="aggregate finished DVC experiments (mean ± std over "
                        "seeds) into data/sweeps/ for the report")
    sw.add_argument("--root", default=".")
    sw.set_defaults(func=_cmd_sweeps)
    v = sub.add_parser("verdicts", help="compare the claims of two runs (fresh seeds, "
                       "another machine or commit)")
    vsub = v.add_subparsers(dest="verdicts_command", metavar="ACTION", required=True)
    vd = vsub.add_parser("diff", help="which verdicts two runs agree on; a run is a "
                         "directory holding data/*/*.claims.json, a git revision or a DVC "
                         "experiment name")
    vd.add_argument("a", help="first run (e.g. HEAD, a directory, an experiment name)")
    vd.add_argument("b", help="second run")
    vd.add_argument("--root", default=".", help="the repository that resolves revisions")
    vd.add_argument("--all", action="store_true", help="list every claim, not only changes")
    vd.add_argument("--json", action="store_true", help="machine-readable rows")
    vd.set_defaults(func=_cmd_verdicts)
    from .bench.cli import add_parser as _add_bench_parser

    _add_bench_parser(sub, _cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except NndeError as exc:
        print(f"nnde {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
