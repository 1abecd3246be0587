"""Shared by every asv benchmark: the catalog's axes, seeded cached builders, pinned
threads. Parameters come from ``nnde.bench.catalog`` — nothing is listed here."""

from nnde.bench import catalog as C
from nnde.bench import measure as M

M.pin_threads()

INTEGRATORS = list(C.integrators())
FIELD_PROBLEMS = list(C.FIELD_PROBLEMS)
BLOCK_PROBLEMS = list(C.BLOCK_PROBLEMS)
PASSES = list(C.PASSES)
DEVICES = list(C.DEVICES)
SIZES = list(C.DEFAULT_SIZES)

_CACHE: dict = {}


def workload(integrator, problem, size, pass_, device):
    """The built case (cached per process); NotImplementedError (asv: skipped) when the
    combination is invalid."""
    case = C.Case(integrator, problem, size, pass_, device)
    if case not in _CACHE:
        _CACHE[case] = C.build(case)  # raises catalog.Skip, a NotImplementedError
    return _CACHE[case]


class CaseBench:
    """Base for a parametrised catalog benchmark: ``setup`` builds (untimed) and warms."""

    def setup(self, *params):
        self.w = workload(*self.case_params(*params))
        self.w.run()
        self.w.sync()

    def case_params(self, *params):
        raise NotImplementedError

    def time_run(self, *params):
        self.w.run()
        self.w.sync()

    def track_peak_memory_delta(self, *params):
        return M.peak_memory_delta(self.w.run, self.w.case.device)

    track_peak_memory_delta.unit = "bytes"

    def track_samples_per_s(self, *params):
        return self.w.samples / M.time_median(self.w.run, self.w.case.device, repeats=3)

    track_samples_per_s.unit = "samples/s"

    def track_nfe(self, *params):
        return self.w.nfe()

    track_nfe.unit = "evaluations"
