"""Every catalog case at the default size, timed by pytest-benchmark (``make bench``
writes .benchmarks/perf.json). Invalid combinations are skipped with their reason."""

import pytest

from nnde.bench import catalog as C
from nnde.bench import measure as M

M.pin_threads()
CASES = list(C.cases())


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(benchmark, case):
    reason = C.skip_reason(case)
    if reason:
        pytest.skip(reason)
    w = C.build(case)

    def run():
        w.run()
        w.sync()

    run()  # warm-up, outside the timed region
    benchmark.extra_info.update(
        integrator=case.integrator,
        problem=case.problem,
        size=case.size,
        pass_=case.pass_,
        device=case.device,
        samples=w.samples,
        nfe=w.nfe(),
    )
    benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=0)
