"""Honest measurement: pinned threads, warm-up, repeats, medians, CUDA synchronised,
peak memory as the *delta* of the workload (allocator on CUDA, resident set on CPU).

Like ``catalog``, this module imports nothing from ``nnde`` so the regression gate can
load it beside an older checkout of the library.
"""

from __future__ import annotations

import ctypes
import gc
import os
import statistics
import time
from collections.abc import Callable
from contextlib import contextmanager

import torch

THREADS_ENV = "NNDE_BENCH_THREADS"


def pin_threads(n: int | None = None) -> int:
    """Fix torch's intra-op threads (default ``$NNDE_BENCH_THREADS`` or 1): one thread
    is what a loaded 2-core CI machine can give every run alike."""
    n = int(n or os.environ.get(THREADS_ENV, 1))
    torch.set_num_threads(n)
    return n


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _clock(device: str, clock: str):
    """``wall``: perf_counter (what a user waits; CUDA work is timed only this way).
    ``cpu``: the process's CPU time — on a shared machine, time the process spends
    preempted is not counted, so a ratio of two CPU times measures work, not load."""
    if clock == "cpu" and device != "cuda":
        return time.process_time
    return time.perf_counter


def calibrate(
    fn: Callable[[], object], device: str, min_time: float = 0.02, clock: str = "wall"
) -> int:
    """Calls per sample so that one sample lasts at least ``min_time`` seconds (after
    one warm-up call)."""
    fn()
    sync(device)
    number = 1
    while True:
        t = time_once(fn, device, number, clock)
        if t * number >= min_time or number >= 1 << 16:
            return number
        number = max(number * 2, int(number * min_time / max(t * number, 1e-9)) + 1)


def time_once(fn: Callable[[], object], device: str, number: int = 1, clock: str = "wall"):
    """Seconds per call, averaged over ``number`` back-to-back calls."""
    now = _clock(device, clock)
    sync(device)
    t0 = now()
    for _ in range(number):
        fn()
    sync(device)
    return (now() - t0) / number


def time_median(
    fn: Callable[[], object],
    device: str,
    repeats: int = 5,
    min_time: float = 0.02,
    clock: str = "wall",
) -> float:
    """Median over ``repeats`` samples of seconds per call (warm-up excluded)."""
    number = calibrate(fn, device, min_time, clock)
    return statistics.median(time_once(fn, device, number, clock) for _ in range(repeats))


def time_best(
    fn: Callable[[], object],
    device: str,
    repeats: int = 7,
    min_time: float = 0.003,
    clock: str = "wall",
) -> float:
    """Minimum over ``repeats`` short samples of seconds per call: load on a shared
    machine only ever adds time, so the minimum is the least disturbed figure."""
    number = calibrate(fn, device, min_time, clock)
    return min(time_once(fn, device, number, clock) for _ in range(repeats))


def paired_ratio(run_a, run_b, device="cpu", rounds=7, samples=5, min_time=0.003, clock="cpu"):
    """(median ratio, low, high, time a, time b): interleaved, min within a round.
    On CPU the clock is the process's CPU time (see ``measure``)."""
    number = calibrate(run_b, device, min_time, clock)
    calibrate(run_a, device, min_time, clock)  # warm-up of the other side
    ta, tb = [], []
    for r in range(rounds):
        best = [float("inf"), float("inf")]
        for k in range(samples):
            order = ((0, run_a), (1, run_b)) if (r + k) % 2 == 0 else ((1, run_b), (0, run_a))
            for i, fn in order:
                best[i] = min(best[i], time_once(fn, device, number, clock))
        ta.append(best[0])
        tb.append(best[1])
    ratios = sorted(a / b for a, b in zip(ta, tb, strict=True))
    q = len(ratios) // 4
    return (
        statistics.median(ratios),
        ratios[q],
        ratios[-1 - q],
        statistics.median(ta),
        statistics.median(tb),
    )


# --------------------------------------------------------------------------- memory
def _libc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


_LIBC = _libc()
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def _status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_rss_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # resets VmHWM (the peak resident set) to the current RSS
        return True
    except OSError:
        return False


def peak_memory_delta(fn: Callable[[], object], device: str) -> int:
    """Bytes by which one call of ``fn`` raises the peak above what was in use before.

    CUDA: ``torch.cuda.max_memory_allocated`` after a reset, minus the allocated bytes
    before. CPU (Linux): glibc is told to serve blocks ≥ 64 KiB by mmap and to return
    freed memory at once, so the resident set follows the tensors; the kernel's peak
    (VmHWM) is reset via /proc/self/clear_refs, and the result is VmHWM after the call
    minus VmRSS before it. Elsewhere: NotImplementedError.
    """
    gc.collect()
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return int(torch.cuda.max_memory_allocated() - base)
    if _LIBC is None or _status_kib("VmHWM") is None:
        raise NotImplementedError("CPU peak memory needs Linux /proc and glibc")
    _LIBC.mallopt(_M_MMAP_THRESHOLD, 64 * 1024)
    _LIBC.mallopt(_M_TRIM_THRESHOLD, 64 * 1024)
    _LIBC.malloc_trim(0)
    if not _reset_rss_peak():
        raise NotImplementedError("cannot reset the peak RSS (/proc/self/clear_refs)")
    base = _status_kib("VmRSS")
    fn()
    peak = _status_kib("VmHWM")
    return max(0, (peak - base) * 1024)


@contextmanager
def in_dir(path):
    """Run a block with ``path`` as the working directory (contextlib.chdir is 3.11+)."""
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def interleaved(fns, device="cpu", rounds=5, samples=3, min_time=0.003, clock="cpu",
                calibrate_on=0):
    """Per-round times of several functions timed side by side: each round takes
    ``samples`` samples of every function, in an order that rotates, and keeps each
    one's minimum. Every sample makes the same number of calls, calibrated on
    ``fns[calibrate_on]`` (all are warmed up first). Returns one list of ``rounds``
    seconds-per-call per function; ratios of two of them, round by round, hold on a
    loaded machine where absolute times do not (``paired_ratio`` is the two-way case)."""
    for i, fn in enumerate(fns):
        if i != calibrate_on:
            calibrate(fn, device, min_time, clock)
    number = calibrate(fns[calibrate_on], device, min_time, clock)
    times = [[] for _ in fns]
    n = len(fns)
    for r in range(rounds):
        best = [float("inf")] * n
        for k in range(samples):
            shift = (r * samples + k) % n
            for i in [(j + shift) % n for j in range(n)]:
                best[i] = min(best[i], time_once(fns[i], device, number, clock))
        for i in range(n):
            times[i].append(best[i])
    return times
