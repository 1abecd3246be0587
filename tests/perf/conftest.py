"""pytest-benchmark over the workload catalog. Kept out of the ordinary test run: these
files are collected only with NNDE_PERF=1 (``make bench`` sets it)."""

import os

import pytest

collect_ignore_glob = [] if os.environ.get("NNDE_PERF") else ["test_*.py"]


@pytest.fixture
def time_step(benchmark):
    """Time a training step built by nnde.bench (one step first, untimed), recording its
    parameters with the result: ``time_step(step, kind=..., members=...)``."""
    def run(step, **info):
        step()
        benchmark.extra_info.update(info)
        benchmark(step)
    return run
