"""map_jobs: the same results, in the same order, with one worker or several."""

from __future__ import annotations

import torch

from nnde.parallel import map_jobs


def seeded_fit(seed: int, steps: int) -> tuple[int, list[float], int]:
    torch.manual_seed(seed)
    model = torch.nn.Linear(3, 1)
    x, y = torch.randn(32, 3), torch.randn(32, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(steps):
        opt.zero_grad()
        loss = (model(x) - y).square().mean()
        loss.backward()
        opt.step()
    return seed, model.weight.detach().flatten().tolist(), torch.get_num_threads()


def test_forked_workers_give_the_serial_results_in_order():
    jobs = [(s, 5 + s) for s in (3, 0, 2, 1)]
    serial = map_jobs(seeded_fit, jobs, workers=1, threads=1)
    forked = map_jobs(seeded_fit, jobs, workers=2, threads="auto")
    assert [r[:2] for r in forked] == [r[:2] for r in serial]  # bit for bit, same order
    assert [r[0] for r in forked] == [3, 0, 2, 1]
    # each worker got its share of the cores ("auto" / 2 workers), at least one thread
    assert all(r[2] >= 1 for r in forked)
