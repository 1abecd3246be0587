"""The He nets' training step: torch's Conv1d layers, the channels-last layers, and
several nets side by side (nnde.bench.he_nets), timed by pytest-benchmark (``make bench``)."""

import itertools

import pytest

from nnde.bench import he_nets as H
from nnde.bench import measure as M

M.pin_threads()
CASES = list(itertools.product(H.DEPTHS, H.MEMBERS, H.MODES))


@pytest.mark.parametrize("depth,members,mode", CASES,
                         ids=[f"resnet{d}-E{e}-{m}" for d, e, m in CASES])
def test_he_step(time_step, depth, members, mode):
    time_step(H.he_step(depth, members, mode), depth=depth, members=members, mode=mode)
