"""Shared by every asv benchmark: the catalog's axes, seeded cached builders, pinned
threads. Parameters come from the workload catalog — nothing is listed here.

The catalog and the measurement code are loaded from *this* checkout's
``src/nnde/bench/`` by file path, while ``nnde.integrators``/``fields``/``layers`` come
from the project as installed for the commit under test: so `asv run HEAD~10..HEAD`
runs the same workloads on every commit, including commits older than the catalog.
"""

import importlib.util
import sys
from pathlib import Path

_BENCH_SRC = Path(__file__).resolve().parents[1] / "src" / "nnde" / "bench"


def load(name):
    """``src/nnde/bench/<name>.py`` of this checkout, loaded by file path."""
    spec = importlib.util.spec_from_file_location(f"_nnde_asv_{name}", _BENCH_SRC / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up by name
    spec.loader.exec_module(mod)
    return mod


C = load("catalog")
M = load("measure")
M.pin_threads()

INTEGRATORS = list(C.integrators())
FIELD_PROBLEMS = list(C.FIELD_PROBLEMS)
BLOCK_PROBLEMS = list(C.BLOCK_PROBLEMS)
PASSES = list(C.PASSES)
# cuda joins the grid where a GPU is visible (the catalog skips it with a reason
# elsewhere; leaving it out here saves asv a process per skipped combination).
DEVICES = [d for d in C.DEVICES if C.skip_reason(C.Case("euler", "dense", device=d)) is None]
SIZES = list(C.DEFAULT_SIZES)

_CACHE: dict = {}


def workload(integrator, problem, size, pass_, device):
    """The built case (cached per process); NotImplementedError (asv: skipped) when the
    combination is invalid."""
    case = C.Case(integrator, problem, size, pass_, device)
    if case not in _CACHE:
        _CACHE[case] = C.build(case)  # raises catalog.Skip, a NotImplementedError
    return _CACHE[case]


class _CaseBench:
    """Base for a parametrised catalog benchmark: ``setup`` builds (untimed) and warms;
    ``time_run`` is one pass, CUDA synchronised. Subclasses map their parameters to a
    catalog case in ``case_params``. (The leading underscore keeps asv from collecting
    the base class itself.)"""

    warmup_time = 0.0  # setup has already run the workload once

    def setup(self, *params):
        self.w = workload(*self.case_params(*params))
        self.w.run()
        self.w.sync()

    def case_params(self, *params):
        raise NotImplementedError

    def time_run(self, *params):
        self.w.run()
        self.w.sync()


def peak_memory_delta(w):
    """Bytes the workload adds to the peak (allocator on CUDA, RSS on CPU)."""
    return M.peak_memory_delta(w.run, w.case.device)


def samples_per_s(w):
    return w.samples / M.time_best(w.run, w.case.device, repeats=3)


class _StepBench:
    """Base for a benchmark of one training step: ``build(*params)`` (a subclass's
    staticmethod) returns the step; ``setup`` builds it and takes one step untimed,
    ``time_step`` times one more."""

    def setup(self, *params):
        self.step = self.build(*params)
        self.step()

    def time_step(self, *params):
        self.step()
