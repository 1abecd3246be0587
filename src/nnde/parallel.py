"""Independent training runs of one stage spread over the machine's cores.

A stage with several (model, seed) runs hands them to :func:`map_jobs`, which runs them
in ``workers`` forked processes (each with its share of the cores) or, with one worker,
one after another in this process. Every run is seeded on its own, so the results do not
depend on the number of workers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from .train import set_threads


def _init_worker(threads, workers: int) -> None:
    set_threads(threads, workers)


def map_jobs(fn: Callable, jobs: Sequence[tuple], workers: int = 1,
             threads: int | str = "auto") -> list:
    """``[fn(*job) for job in jobs]``, in order. With ``workers > 1`` the calls run in
    that many forked processes, each with ``threads`` torch threads (``auto``: the cores
    shared evenly); arguments and results travel by pickle, and the data a process
    already holds is inherited by the fork. With one worker (or one job) ``threads`` is
    set here and the calls run in this process."""
    if workers <= 1 or len(jobs) <= 1:
        set_threads(threads)
        return [fn(*job) for job in jobs]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    # The first optimiser built in a process costs seconds (lazy imports inside
    # torch.optim); build one here so that the forked workers inherit it warm.
    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"),
                             initializer=_init_worker, initargs=(threads, workers)) as ex:
        futures = [ex.submit(fn, *job) for job in jobs]
        return [f.result() for f in futures]


def continue_runs(fn: Callable, results: Sequence[dict], indices: Sequence[int],
                  job: Callable[[dict], tuple], workers: int = 1,
                  threads: int | str = "auto") -> list[dict]:
    """Continue the stopped runs ``results[i]`` (``i`` in ``indices``, e.g. failed runs):
    ``fn(*job(results[i]), results[i])`` for each, spread over ``workers`` as
    :func:`map_jobs`. Returns the continued results in the order of ``indices``, their
    ``seconds`` and ``cpu_seconds`` summed over both parts of the run."""
    redo = map_jobs(fn, [(*job(results[i]), results[i]) for i in indices], workers, threads)
    return [r | {"seconds": r["seconds"] + results[i]["seconds"],
                 "cpu_seconds": r["cpu_seconds"] + results[i]["cpu_seconds"]}
            for i, r in zip(indices, redo, strict=True)]
