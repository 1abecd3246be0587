"""Benchmarks: the workload catalog (``catalog``), measurement (``measure``), the
regression gate (``compare``: working tree vs a revision; ``peers``: ours ÷ torchdiffeq
vs a saved baseline) and the report sections (``report``).

asv (``benchmarks/``) and pytest-benchmark (``tests/perf/``) both parametrise from
``catalog``; see the README's "Benchmarks" section for the commands.
"""

from nnde.bench.catalog import (
    DEFAULT_SIZES,
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
    "skip_reason",
    "valid_cases",
    "PASSES",
    "PEERS",
    "PROBLEMS",
    "SIZES",
    "DEFAULT_SIZES",
]
