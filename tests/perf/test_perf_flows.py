"""The flows' training step, alone in turn and side by side (nnde.bench.flows), timed by
pytest-benchmark (``make bench``)."""

import itertools

import pytest

from nnde.bench import flows as F
from nnde.bench import measure as M

M.pin_threads()
CASES = list(itertools.product(F.KINDS, F.MEMBERS, F.MODES))


@pytest.mark.parametrize("kind,members,mode", CASES,
                         ids=[f"{k}-E{e}-{m}" for k, e, m in CASES])
def test_flow_step(time_step, kind, members, mode):
    time_step(F.flow_step(kind, members, mode), kind=kind, members=members, mode=mode)
