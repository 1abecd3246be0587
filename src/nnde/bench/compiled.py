"""What the compiled path buys, what it costs and when it pays back.

``measure(...)`` times, per method × width × pass (``catalog.compiled_quads``), side by
side in one process: our solve compiled (``compiled.<method>``: one
``torch.compile(fullgraph=True)`` graph, static shapes), our eager solve, the
hand-written loop of the same table and torchdiffeq. Times are CPU time per call (the
median over rounds of each side's minimum sample, samples interleaved); ratios are the
median over rounds of the round's ratio, so they hold on a loaded machine.

Compile time is measured apart: the wall time of the compiled case's first call (which
traces and compiles, forward and backward graphs for the backward pass) minus one
steady call. Wall time, because inductor compiles in worker processes whose CPU time
this process does not see. Caches are off while compiling (``cold=True``): with a warm
on-disk cache a recompile of the same graph costs a fraction of this, which is not what
a first use pays. The compiler's one-off start-up in a process (imports, toolchain
checks) is measured once and reported apart (``startup_s``); it is not in the per-case
compile times.

Break-even: a compiled solve saves (eager − compiled) per call, so it pays back its
compile time after compile_s / (eager − compiled) calls; ``inf`` ("never") when the
compiled solve is not faster.

``training_payback(...)``: the same question for a whole training step (forward,
backward and optimiser step) of a model whose ODE block is compiled.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import time
from dataclasses import asdict, dataclass

import pandas as pd
import torch

from nnde.bench import catalog as C
from nnde.bench import measure as M

COLUMNS = ["method", "problem", "width", "pass_", "compile_s", "compiled_ms", "eager_ms",
           "loop_ms", "peer", "peer_ms", "vs_eager", "vs_eager_lo", "vs_eager_hi",
           "vs_loop", "vs_peer", "break_even_calls", "max_abs_diff"]


@dataclass
class CompiledRow:
    method: str
    problem: str
    width: int
    pass_: str
    compile_s: float
    compiled_ms: float
    eager_ms: float
    loop_ms: float | None
    peer: str | None
    peer_ms: float | None
    vs_eager: float
    vs_eager_lo: float
    vs_eager_hi: float
    vs_loop: float | None
    vs_peer: float | None
    break_even_calls: float
    max_abs_diff: float


def break_even(compile_s: float, eager_s: float, compiled_s: float) -> float:
    """Calls after which compiling has paid for itself; ``inf`` when it never does."""
    saving = eager_s - compiled_s
    return compile_s / saving if saving > 0 else math.inf


def fmt_calls(n: float) -> str:
    return "never" if math.isinf(n) else f"{n:,.0f}"


@contextlib.contextmanager
def _cold(cold: bool):
    if not cold:
        yield
        return
    with torch.compiler.config.patch(force_disable_caches=True):
        yield


def compiler_startup(options: dict | None = None, cold: bool = True) -> float:
    """Wall seconds of compiling and running a one-operation function: what the first
    compile in a process pays once on top of the per-graph cost."""

    def tiny(x):
        return torch.tanh(x) + 1

    opts = dict(options or {})
    fn = torch.compile(tiny, fullgraph=True, **opts)
    t = time.perf_counter()
    with _cold(cold):
        fn(torch.ones(3))
    return time.perf_counter() - t


def _ratio(a, b):
    rs = sorted(x / y for x, y in zip(a, b, strict=True))
    q = len(rs) // 4
    return statistics.median(rs), rs[q], rs[-1 - q]


def measure(methods=("euler", "rk4"), sizes=("w16", "w64", "w256"), passes=C.PASSES,
            problem="dense", *, rounds=5, samples=3, min_time=0.003, cold=True,
            compile_options=None, progress=None) -> list[CompiledRow]:
    """One row per (method, size, pass); see the module docstring."""
    from nnde.integrators import compiled as K

    opts = {**C.COMPILE_OPTIONS, **(compile_options or {})}
    rows = []
    for comp, eager, loop, peer in C.compiled_quads(methods, problem, sizes, passes):
        K.clear_cache()  # each case compiles afresh, in its own compiled solver
        wc = C.build(comp, compile_options=opts)
        t = time.perf_counter()
        with _cold(cold):
            wc.run()
        first = time.perf_counter() - t
        sides = [wc, C.build(eager)] + [C.build(c) for c in (loop, peer) if c is not None]
        times = M.interleaved([w.run for w in sides], comp.device, rounds, samples, min_time,
                              clock="cpu", calibrate_on=1)
        med = [statistics.median(ts) for ts in times]
        steady = time.perf_counter()
        wc.run()
        steady = time.perf_counter() - steady
        compile_s = max(first - steady, 0.0)
        r, lo, hi = _ratio(times[0], times[1])
        i_loop = 2 if loop is not None else None
        i_peer = (3 if loop is not None else 2) if peer is not None else None
        rows.append(CompiledRow(
            method=C.base_method(comp.integrator),
            problem=problem,
            width=C.SIZES[comp.size].width,
            pass_=comp.pass_,
            compile_s=compile_s,
            compiled_ms=med[0] * 1e3,
            eager_ms=med[1] * 1e3,
            loop_ms=None if i_loop is None else med[i_loop] * 1e3,
            peer=None if peer is None else peer.integrator,
            peer_ms=None if i_peer is None else med[i_peer] * 1e3,
            vs_eager=r,
            vs_eager_lo=lo,
            vs_eager_hi=hi,
            vs_loop=None if i_loop is None else _ratio(times[0], times[i_loop])[0],
            vs_peer=None if i_peer is None else _ratio(times[0], times[i_peer])[0],
            break_even_calls=break_even(compile_s, med[1], med[0]),
            max_abs_diff=float((wc.output() - sides[1].output()).abs().max()),
        ))
        if progress:
            progress(rows[-1])
    K.clear_cache()
    return rows


def frame(rows: list[CompiledRow]) -> pd.DataFrame:
    return pd.DataFrame([asdict(r) for r in rows], columns=COLUMNS)


# --------------------------------------------------------------------------- training
def training_payback(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                     steps_in_stage: int, rounds=5, samples=3, compile_options=None,
                     cold=True) -> dict:
    """Does compiling pay back within a stage? ``model``'s ODE blocks (direct gradient,
    fixed steps) are compiled in a deep copy; one training step (cross-entropy forward,
    backward, SGD step) of the eager and the compiled model is timed side by side on the
    batch (x, y). Returns the compile time, both step times, the break-even number of
    steps and whether it falls within ``steps_in_stage`` (the training steps one process
    of the stage runs: the compile is paid once per process)."""
    import copy

    from nnde.layers import ODEBlock

    compiled = copy.deepcopy(model)
    blocks = [m for m in compiled.modules() if isinstance(m, ODEBlock)]
    if not blocks:
        raise ValueError("training_payback needs a model with an ODEBlock to compile")
    for b in blocks:
        b.compile(**(compile_options or {}))

    def stepper(net):
        opt = torch.optim.SGD(net.parameters(), lr=1e-3)

        def step():
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()

        return step

    eager_step, comp_step = stepper(model), stepper(compiled)
    t = time.perf_counter()
    with _cold(cold):
        comp_step()
    first = time.perf_counter() - t
    times = M.interleaved([comp_step, eager_step], "cpu", rounds, samples, 0.02, "cpu",
                          calibrate_on=1)
    ce, ee = (statistics.median(ts) for ts in times)
    compile_s = max(first - ce, 0.0)
    n = break_even(compile_s, ee, ce)
    return {
        "compile_s": compile_s,
        "eager_step_ms": ee * 1e3,
        "compiled_step_ms": ce * 1e3,
        "ratio": _ratio(times[0], times[1])[0],
        "break_even_steps": n,
        "steps_in_stage": steps_in_stage,
        "pays_back": bool(n <= steps_in_stage),
    }


# --------------------------------------------------------------------------- RK-Net
#: Chen Table 1's RK-Net at the small profile (params.yaml chen.table1.small): MNIST-1D
#: signals (B, 1, 40), 16 channels, GroupNorm groups of 4, two halvings, rk4 with 2 fixed
#: steps and direct backprop, batch 128; a seed trains for ~24 epochs of 32 steps
RKNET_SMALL = dict(image_size=40, dims=1, channels=16, groups=4, downsample=2,
                   method="rk4", steps=2)
RKNET_BATCH = 128
RKNET_STEPS_PER_RUN = 24 * 32

#: the conclusion the report states, from ``python -m nnde.bench.compiled`` on the 2-core
#: machine (1 thread, shared with other work, so times are ±20%; the ratio and the
#: compile time are what decide)
TRAINING_NOTE = (
    "Training: compiling the ODE block of Chen Table 1's RK-Net (small profile: MNIST-1D, "
    "16 channels, rk4 with 2 steps, batch 128) does not pay back within the stage, so no "
    "stage uses it. Measured with `python -m nnde.bench.compiled` (1 thread, inductor, "
    "caches off; two runs): the compile of the training step's graphs took 29–43 s, as "
    "long as or longer than a whole RK-Net run of one seed (19–29 s), and a compiled "
    "training step was slower (20.6 against 18.4 ms eager on the idle machine, 23.0 "
    "against 20.1 ms under load; ratio 1.12–1.14): the step is dominated by the "
    "convolutions and "
    "GroupNorm of 16-channel feature maps, which inductor on a CPU does not speed up, not "
    "by per-step Python overhead. Break-even: never (the stage runs ~770 steps per seed, "
    "and each worker process would compile again, also a second graph for evaluation "
    "under no_grad)."
)


def main() -> None:
    """Measure the training-step payback of the RK-Net and print it as JSON."""
    import json

    from nnde.models.chen import make_classifier

    M.pin_threads(1)
    torch.manual_seed(0)
    model = make_classifier("rknet", **RKNET_SMALL)
    x = torch.randn(RKNET_BATCH, 1, RKNET_SMALL["image_size"])
    y = torch.randint(0, 10, (RKNET_BATCH,))
    startup = compiler_startup()
    res = training_payback(model, x, y, steps_in_stage=RKNET_STEPS_PER_RUN)
    print(json.dumps({"compiler_startup_s": startup, **res}, indent=1))


if __name__ == "__main__":
    main()
