"""pytest-benchmark over the workload catalog. Kept out of the ordinary test run: these
files are collected only with NNDE_PERF=1 (``make bench`` sets it)."""

import os

collect_ignore_glob = [] if os.environ.get("NNDE_PERF") else ["test_*.py"]
