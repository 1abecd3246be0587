"""The ``benchmarks`` stage of ``dvc.yaml``: a short, representative pass of the workload
catalog for the report that ``dvc repro`` makes.

``python -m nnde.bench.stage`` reads ``benchmarks`` from ``params.yaml`` (one entry per
profile, like every stage), measures with ``nnde.bench.report.measure_all`` and writes

    data/benchmarks/catalog.section.json            the report's section (no claims file:
                                                    measurements, not a paper's claims)
    data/benchmarks/catalog_{targets,loop_ratios,peer_ratios,memory,work_precision}.csv
    data/benchmarks/catalog.numbers.json
    reports/figures/benchmarks/catalog_{ratios,memory,work_precision}.png
    data/benchmarks/catalog_compiled.csv, reports/figures/benchmarks/catalog_compiled.png
                                                    (the compiled path; only when
                                                    ``compile_methods`` is not empty)

Budget (idle 2-core machine, process start to outputs written): about 5 s at ``tiny``
(whose compiled case uses aot_eager: the plumbing, not a speed), under a minute at
``small`` (about half of it compiling). Full runs stay in ``make bench``, ``nnde bench
report`` and asv.
"""

from __future__ import annotations

from collections.abc import Mapping

from nnde.bench import catalog as C
from nnde.bench.report import ADAPTIVE, FIXED, Plan, measure_all, write_section
from nnde.stage import (
    StageOutputs,
    get_choice,
    get_list,
    get_number,
    load_params,
    one_of,
    positive_float,
    positive_int,
    run_main,
)

#: ``compile_backend``: inductor (torch's default, what the numbers are about) or
#: aot_eager (the same graph capture without code generation: a quick check of the
#: stage's plumbing, not a benchmark)
COMPILE_BACKENDS = ("inductor", "aot_eager")
SECTION = "benchmarks"
STAGE = "catalog"
TITLE = "Benchmarks: a short pass of the catalog on this machine (`benchmarks` stage)"


def plan_from_params(p: Mapping) -> Plan:
    """A ``Plan`` from the ``benchmarks`` params of the active profile, every value
    checked (an unknown name lists the valid ones)."""
    sec = SECTION
    size = get_choice(p, "size", C.SIZES, sec)
    wp_all = tuple(dict.fromkeys(FIXED + C.PEERS + ADAPTIVE))
    return Plan(
        size=size,
        methods=tuple(get_list(p, "methods", one_of(C.LOOP_OF), sec)),
        loop_problems=tuple(get_list(p, "loop_problems", one_of(C.FIELD_PROBLEMS), sec)),
        peer_problems=tuple(get_list(p, "peer_problems", one_of(C.PROBLEMS), sec)),
        peer_methods=tuple(get_list(p, "peer_methods", one_of(C.PEER_OF), sec)),
        passes=tuple(get_list(p, "passes", one_of(C.PASSES), sec)),
        rounds=get_number(p, "rounds", sec, kind=int, ge=1),
        samples=get_number(p, "samples", sec, kind=int, ge=1),
        memory_method=get_choice(p, "memory_method", ("euler", "midpoint", "rk38"), sec),
        memory_size=get_choice(p, "memory_size", C.SIZES, sec),
        memory_steps=tuple(get_list(p, "memory_steps", positive_int, sec)),
        wp_methods=tuple(get_list(p, "wp_methods", one_of(wp_all), sec)),
        wp_steps=tuple(get_list(p, "wp_steps", positive_int, sec)),
        wp_rtols=tuple(get_list(p, "wp_rtols", positive_float, sec)),
        wp_repeats=get_number(p, "wp_repeats", sec, kind=int, ge=1),
        threads=get_number(p, "threads", sec, kind=int, ge=1),
        compile_methods=tuple(get_list(p, "compile_methods", one_of(FIXED), sec)),
        compile_sizes=tuple(get_list(p, "compile_sizes", one_of(C.SIZES), sec)),
        compile_passes=tuple(get_list(p, "compile_passes", one_of(C.PASSES), sec)),
        compile_backend=get_choice(p, "compile_backend", COMPILE_BACKENDS, sec),
        adjoint_tols=tuple(get_list(p, "adjoint_tols", positive_float, sec))
        if "adjoint_tols" in p else (),
    )


def main() -> None:
    plan = plan_from_params(load_params(SECTION))
    res = measure_all(plan)
    with StageOutputs(SECTION, STAGE, TITLE, no_claims=True) as out:
        write_section(out, res, plan, "Measured by the `benchmarks` stage of dvc.yaml "
                      "(`python -m nnde.bench.stage`, params `benchmarks` in params.yaml).")


if __name__ == "__main__":
    run_main(main, "benchmarks")
