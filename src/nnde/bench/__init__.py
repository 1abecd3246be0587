"""Benchmarks: the workload catalog (``catalog``, with the hand-written loop of each
fixed-step table as the baseline), measurement (``measure``), the regression gates
(``compare``: working tree vs a revision; ``peers``: ours ÷ torchdiffeq vs a saved
baseline, and ours ÷ hand-written loop vs the overhead target), the report sections
(``report``) and the ``benchmarks`` stage of dvc.yaml (``stage``).

asv (``benchmarks/``) and pytest-benchmark (``tests/perf/``) both parametrise from
``catalog``; see the README's "Benchmarks" section for the commands.
"""

from nnde.bench.catalog import (
    DEFAULT_SIZES,
    LOOP_OF,
    LOOPS,
    PASSES,
    PEERS,
    PROBLEMS,
    SIZES,
    Case,
    Skip,
    Workload,
    build,
    cases,
    integrators,
    loop_pairs,
    peer_pairs,
    skip_reason,
    valid_cases,
)

__all__ = [
    "Case",
    "Skip",
    "Workload",
    "build",
    "cases",
    "integrators",
    "loop_pairs",
    "peer_pairs",
    "skip_reason",
    "valid_cases",
    "LOOP_OF",
    "LOOPS",
    "PASSES",
    "PEERS",
    "PROBLEMS",
    "SIZES",
    "DEFAULT_SIZES",
]
