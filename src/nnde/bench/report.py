"""The report's benchmark sections, measured side by side in one run.

``measure_all(plan)`` measures, on this machine, with pinned threads:

* the integrator overhead: ours ÷ the hand-written loop of the same Butcher table on
  the same field module (``catalog.loop_pairs``), per method × field type × pass, with
  the max-abs difference of the outputs — the target is ``peers.OVERHEAD_TARGET``;
* ours ÷ torchdiffeq per shared method, problem and pass (``catalog.peer_pairs``), with
  the max-abs difference of the outputs for same-table pairs;
* peak-memory delta of one forward+backward pass of the ODE block against the number of
  steps, direct backpropagation vs the adjoint;
* a work-precision diagram: error at T against time per solve, one line per method, one
  marker per step count (fixed-step) or tolerance (adaptive), dense field;
* (when ``plan.compile_methods`` is not empty) the compiled path: compiled ÷ eager,
  ÷ hand-written loop and ÷ torchdiffeq per method × width × pass, the compile time
  measured apart and the break-even number of calls (``nnde.bench.compiled``);
* (full runs only) achieved FLOP/s of a dense solve ÷ a matmul of the same shape.

A ``Plan`` says how much of the catalog a run covers: ``plan_from_params`` reads it from
``params.yaml`` (``benchmarks:``, one entry per profile) for the ``benchmarks`` stage of
``dvc.yaml`` (``python -m nnde.bench.stage``), ``QUICK``/``FULL`` are ``nnde bench
report [--quick]``'s. ``write_section`` writes the results through ``StageOutputs`` as a
*no-claims* section: these are measurements of this machine, labelled with its CPU, the
thread count and the torch build, not claims of a paper; targets are reported, not
asserted (the gates are ``nnde bench peers`` and ``nnde bench compare``).
"""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass, field

import pandas as pd
import torch

from nnde.bench import catalog as C
from nnde.bench import measure as M
from nnde.bench import peers as P
from nnde.bench.measure import in_dir

#: fixed-step explicit tables (each has a hand-written loop in the catalog)
FIXED = tuple(C.LOOP_OF)
ADAPTIVE = ("bosh3", "dopri5", "torchdiffeq.dopri5")
#: adjoint peak memory counts as flat when it grows over the step counts by at most this
#: fraction of what direct backprop's grows
MEMORY_FLAT = 0.10


@dataclass(frozen=True)
class Plan:
    """How much of the catalog one run measures (sizes are ``catalog.SIZES`` names)."""

    size: str = "small"
    methods: tuple = FIXED
    loop_problems: tuple = C.FIELD_PROBLEMS
    peer_problems: tuple = ("dense",)
    peer_methods: tuple = tuple(C.PEER_OF)
    passes: tuple = C.PASSES
    rounds: int = 5
    samples: int = 3
    min_time: float = 0.003
    memory_method: str = "euler"
    memory_size: str = "medium"
    memory_steps: tuple = (8, 32, 128)
    wp_methods: tuple = FIXED + ("torchdiffeq.rk4",) + ADAPTIVE
    wp_steps: tuple = (4, 8, 16, 32)
    wp_rtols: tuple = (1e-3, 1e-5, 1e-7)
    wp_repeats: int = 3
    flops_size: str | None = None
    threads: int = 1
    #: the compiled-path benchmark (empty: not measured; it costs seconds per case)
    compile_methods: tuple = ()
    compile_sizes: tuple = ("w16", "w64", "w256")
    compile_passes: tuple = C.PASSES
    compile_backend: str = "inductor"
    #: tolerances of the adjoint benchmark (nnde ÷ torchdiffeq on the Table 1 ODE-Net,
    #: ``nnde.bench.adjoint``); empty: not measured
    adjoint_tols: tuple = ()

    @property
    def loop_methods(self) -> tuple:
        return tuple(m for m in self.methods if m in C.LOOP_OF)


QUICK = Plan(peer_problems=("dense", "hamiltonian", "ode_block_direct"), flops_size="medium")
FULL = Plan(
    peer_problems=C.PROBLEMS,
    rounds=7,
    samples=5,
    memory_steps=(8, 32, 128, 512),
    wp_steps=(4, 8, 16, 32, 64),
    wp_repeats=5,
    flops_size="large",
)


# --------------------------------------------------------------------------- measuring
def _rows(pairs, plan: Plan) -> pd.DataFrame:
    rows = P.measure(pairs, rounds=plan.rounds, samples=plan.samples, min_time=plan.min_time)
    cols = list(P.PeerRow.__dataclass_fields__)
    return pd.DataFrame([asdict(r) for r in rows], columns=cols)


def _ratios(pairs_of, methods, problems, plan: Plan) -> pd.DataFrame:
    pairs = pairs_of(problems=problems, sizes=(plan.size,), passes=plan.passes)
    return _rows([(a, b) for a, b in pairs if a.integrator in methods], plan)


def loop_ratios(plan: Plan) -> pd.DataFrame:
    """ours ÷ hand-written loop for each of ``plan``'s fixed-step methods."""
    return _ratios(C.loop_pairs, plan.loop_methods, plan.loop_problems, plan)


def peer_ratios(plan: Plan) -> pd.DataFrame:
    """ours ÷ torchdiffeq for ``plan``'s methods with a peer (``catalog.PEER_OF``)."""
    return _ratios(C.peer_pairs, plan.peer_methods, plan.peer_problems, plan)


def flops(size="large", methods=("euler", "rk4"), repeats=5) -> pd.DataFrame:
    s = C.SIZES[size]
    a = torch.randn(s.batch, s.width)
    k = torch.randn(s.width, s.width)
    per_eval = 2.0 * s.batch * s.width * s.width
    peak = per_eval / M.time_best(lambda: a @ k, "cpu", repeats, clock="cpu")
    rows = []
    for m in methods:
        w = C.build(C.Case(m, "dense", size, "forward"))
        t = M.time_best(w.run, "cpu", repeats, clock="cpu")
        achieved = w.nfe() * per_eval / t
        rows.append(
            {
                "method": m,
                "gflops": achieved / 1e9,
                "matmul_peak_gflops": peak / 1e9,
                "fraction_of_peak": achieved / peak,
            }
        )
    return pd.DataFrame(rows)


def memory_vs_steps(steps=(8, 32, 128), method="euler", size="medium") -> pd.DataFrame:
    """Peak-memory delta (MiB) of one forward+backward pass of the ODE block, direct
    backpropagation vs the adjoint, per number of steps."""
    rows = []
    for problem in ("ode_block_direct", "ode_block_adjoint"):
        for n in steps:
            w = C.build(C.Case(method, problem, size, "backward"), steps=n)
            w.run()  # warm-up: first-call allocations are not the workload's
            rows.append(
                {
                    "gradient": problem.rsplit("_", 1)[1],
                    "method": method,
                    "steps": n,
                    "peak_mib": M.peak_memory_delta(w.run, "cpu") / 2**20,
                }
            )
    return pd.DataFrame(rows)


def work_precision(plan: Plan) -> pd.DataFrame:
    """Error at T (max-abs, against one float64 dopri5 reference at rtol 1e-10) and time
    per solve, dense field at ``plan.size``, for each method and setting."""
    runs = []
    for m in plan.wp_methods:
        if m in ADAPTIVE:
            runs += [(m, {"tol": (r, r / 100)}, f"rtol {r:g}") for r in plan.wp_rtols]
        else:
            runs += [(m, {"steps": n}, f"{n} steps") for n in plan.wp_steps]
    rows, ref = [], None
    for m, kw, label in runs:
        w = C.build(C.Case(m, "dense", plan.size, "forward"), **kw)
        if ref is None:  # every dense workload of one size integrates the same ODE
            ref = C.reference(w)
        rows.append(
            {
                "method": m,
                "setting": label,
                "nfe": w.nfe(),
                "error": C.error(w, ref),
                "time_ms": M.time_best(w.run, "cpu", plan.wp_repeats, clock="cpu") * 1e3,
            }
        )
    return pd.DataFrame(rows)


@dataclass
class Results:
    loops: pd.DataFrame
    peers: pd.DataFrame
    memory: pd.DataFrame
    work_precision: pd.DataFrame
    flops: pd.DataFrame | None = None
    machine: dict = field(default_factory=dict)
    compiled: pd.DataFrame | None = None
    compile_startup_s: float | None = None
    adjoint: pd.DataFrame | None = None


def machine() -> dict:
    """What these numbers belong to: CPU, cores, torch threads and the torch build."""
    from nnde.report.build import _cpu_name

    cuda = torch.version.cuda
    blas = ""
    for line in torch.__config__.show().splitlines():
        if "BLAS_INFO" in line:
            blas = line.split("BLAS_INFO=", 1)[-1].split(",", 1)[0].strip()
    return {
        "cpu": _cpu_name(),
        "logical_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "build": (f"CUDA {cuda}" if cuda else "CPU only") + (f", BLAS {blas}" if blas else ""),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def measure_all(plan: Plan) -> Results:
    """Everything the section shows, measured in this process (threads pinned to
    ``plan.threads``)."""
    M.pin_threads(plan.threads)
    loops = loop_ratios(plan)
    peers = peer_ratios(plan)
    mem = memory_vs_steps(plan.memory_steps, plan.memory_method, plan.memory_size)
    wp = work_precision(plan)
    fl = flops(plan.flops_size) if plan.flops_size else None
    comp, startup = compiled_table(plan)
    adj = None
    if plan.adjoint_tols:
        from nnde.bench import adjoint as BA

        adj = BA.frame(BA.measure(plan.adjoint_tols, rounds=plan.rounds))
    return Results(loops, peers, mem, wp, fl, machine(), comp, startup, adj)


def compiled_table(plan: Plan):
    """(rows of ``nnde.bench.compiled.measure``, the compiler's one-off start-up in
    seconds), or (None, None) when the plan measures no compiled case."""
    if not plan.compile_methods:
        return None, None
    from nnde.bench import compiled as BC

    opts = {} if plan.compile_backend == "inductor" else {"backend": plan.compile_backend}
    startup = BC.compiler_startup(opts)
    rows = BC.measure(plan.compile_methods, plan.compile_sizes, plan.compile_passes,
                      rounds=plan.rounds, samples=plan.samples, min_time=plan.min_time,
                      compile_options=opts)
    return BC.frame(rows), startup


# --------------------------------------------------------------------------- targets
def targets(res: Results, target=P.OVERHEAD_TARGET) -> pd.DataFrame:
    """Each target with what was measured and whether it was met (reported, not
    asserted)."""
    rows = []
    lp, pr = res.loops, res.peers
    if len(lp):
        worst = lp.loc[lp.ratio.idxmax()]
        rows.append({
            "target": f"integrator overhead: ours ÷ hand-written loop ≤ {target:g}",
            "measured": f"{lp.ratio.min():.2f}–{lp.ratio.max():.2f} "
                        f"(max: {worst.ours}, {worst.problem}, {worst.pass_})",
            "met": bool(lp.ratio.max() <= target),
        })
        d = lp.max_abs_diff.max()
        rows.append({
            "target": f"ours equals the loop of the same table (max |Δy| ≤ {P.OUTPUT_TOL:g})",
            "measured": f"{d:.1e}",
            "met": bool(d <= P.OUTPUT_TOL),
        })
    shared = pr[pr.same_table] if len(pr) else pr
    if len(shared):
        r = shared.ratio.max()
        rows.append({
            "target": "ours at least as fast as torchdiffeq (ratio ≤ 1) per shared table",
            "measured": f"{shared.ratio.min():.2f}–{r:.2f}",
            "met": bool(r <= 1.0),
        })
        d = shared.max_abs_diff.max()
        rows.append({
            "target": f"equal outputs for same-table pairs (max |Δy| ≤ {P.OUTPUT_TOL:g})",
            "measured": f"{d:.1e}",
            "met": bool(d <= P.OUTPUT_TOL),
        })
    cp = res.compiled
    if cp is not None and len(cp):
        fastest = cp.loc[cp.vs_eager.idxmin()]
        rows.append({
            "target": "compiled faster than eager (compiled ÷ eager < 1) somewhere in the sweep",
            "measured": f"{cp.vs_eager.min():.2f}–{cp.vs_eager.max():.2f} (min: "
                        f"{fastest.method}, width {fastest.width}, {fastest.pass_})",
            "met": bool(cp.vs_eager.min() < 1.0),
        })
        d = cp.max_abs_diff.max()
        rows.append({
            "target": f"compiled equals eager (max |Δy| ≤ {P.OUTPUT_TOL:g})",
            "measured": f"{d:.1e}",
            "met": bool(d <= P.OUTPUT_TOL),
        })
    mem = res.memory.sort_values("steps")
    adj = mem[mem.gradient == "adjoint"]["peak_mib"]
    direct = mem[mem.gradient == "direct"]["peak_mib"]
    if len(adj) > 1 and len(direct) > 1:
        # growth from the fewest to the most steps; RSS is noisy at a few hundred KiB, so
        # flat means small beside what direct backprop adds over the same steps
        g_adj, g_dir = adj.iloc[-1] - adj.iloc[0], direct.iloc[-1] - direct.iloc[0]
        steps = mem.steps.unique()
        rows.append({
            "target": f"adjoint peak memory flat in the steps ({steps[0]}→{steps[-1]}): growth "
                      f"≤ {100 * MEMORY_FLAT:.0f}% of direct backprop's",
            "measured": f"adjoint {adj.iloc[0]:.2f}→{adj.iloc[-1]:.2f} MiB, direct "
                        f"{direct.iloc[0]:.2f}→{direct.iloc[-1]:.2f} MiB",
            "met": bool(g_dir > 0 and g_adj <= MEMORY_FLAT * g_dir),
        })
    return pd.DataFrame(rows, columns=["target", "measured", "met"])


# --------------------------------------------------------------------------- figures
def _fig_ratios(loops, peers):
    import matplotlib.pyplot as plt
    import numpy as np

    panels = [(d, t) for d, t in ((loops, "ours ÷ hand-written loop (same table)"),
                                  (peers, "ours ÷ torchdiffeq")) if len(d)]
    keys = [list(dict.fromkeys(zip(d.ours, d.problem, strict=True))) for d, _ in panels]
    fig, axes = plt.subplots(len(panels), 1, squeeze=False,
                             figsize=(7, 0.22 * sum(map(len, keys)) + 1.1 * len(panels)),
                             gridspec_kw={"height_ratios": [max(len(k), 1) for k in keys],
                                          "hspace": 0.35})
    for ax, (d, title), k in zip(axes[:, 0], panels, keys, strict=True):
        passes = list(dict.fromkeys(d.pass_))
        width = 0.8 / len(passes)
        pos = {key: i for i, key in enumerate(k)}
        for j, ps in enumerate(passes):
            dd = d[d.pass_ == ps]
            y = np.array([pos[(m, p)] for m, p in zip(dd.ours, dd.problem, strict=True)])
            ax.barh(y + (j - (len(passes) - 1) / 2) * width, dd.ratio, height=width, label=ps)
        ax.set_yticks(range(len(k)), [f"{m} · {p}" for m, p in k], fontsize=7)
        ax.set_ylim(len(k) - 0.5, -0.5)
        ax.axvline(1.0, color="k", lw=0.8)
        if d is loops:
            ax.axvline(P.OVERHEAD_TARGET, color="r", lw=0.8, ls="--",
                       label=f"target {P.OVERHEAD_TARGET:g}")
        ax.set_title(title, fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
        ax.legend(fontsize=7)
    axes[-1, 0].set_xlabel("time ratio (< 1: ours faster)")
    return fig


def _fig_compiled(df):
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import NullFormatter
    from matplotlib.transforms import blended_transform_factory

    keys = list(dict.fromkeys(zip(df.method, df.width, strict=True)))
    passes = list(dict.fromkeys(df.pass_))
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(9, 0.3 * len(keys) * len(passes) + 1.6),
                                 sharey=True)
    labels, y = [], 0
    ticks = []
    for m, w in keys:
        for ps in passes:
            r = df[(df.method == m) & (df.width == w) & (df.pass_ == ps)]
            if not len(r):
                continue
            r = r.iloc[0]
            for j, (col, name) in enumerate((("vs_eager", "÷ eager"), ("vs_loop", "÷ loop"),
                                             ("vs_peer", "÷ torchdiffeq"))):
                v = r[col]
                if v is not None and not (isinstance(v, float) and np.isnan(v)):
                    ax.barh(y + (j - 1) * 0.27, v, height=0.27, color=f"C{j}",
                            label=name if not ticks else None)
            be = r.break_even_calls
            if np.isfinite(be):
                bx.barh(y, be, height=0.6, color="C3")
                bx.text(be, y, f" {be:,.0f}", va="center", fontsize=7)
            else:  # placed in axes coordinates: a log axis has no 0 to start a bar at
                bx.text(0.02, y, "never (compiled not faster)", va="center", fontsize=7,
                        transform=blended_transform_factory(bx.transAxes, bx.transData))
            ticks.append(y)
            labels.append(f"{m} · w{w} · {ps}")
            y += 1
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.set_ylim(y - 0.5, -0.5)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xlabel("compiled time ratio (< 1: compiled faster)")
    ax.legend(fontsize=7)
    bx.set_xscale("log")
    bx.xaxis.set_minor_formatter(NullFormatter())
    bx.set_xlabel("break-even calls (compile time ÷ saving per call)")
    for a in (ax, bx):
        a.tick_params(axis="x", labelsize=7)
    fig.subplots_adjust(left=0.2, right=0.97, bottom=0.3 if len(ticks) < 4 else 0.15,
                        wspace=0.08)
    return fig


def _compiled_text(res: Results, plan: Plan) -> str:
    from nnde.bench.compiled import TRAINING_NOTE, fmt_calls

    cp = res.compiled
    if cp is None or not len(cp):
        return ("\n\nThe compiled path (`solve(..., compile=True)`) is not measured in this "
                "profile: compiling costs seconds per case (`compile_methods` is empty; the "
                "small and paper profiles measure it). " + TRAINING_NOTE)
    be = cp.break_even_calls
    fin = be[be < float("inf")]
    backend = plan.compile_backend
    caveat = "" if backend == "inductor" else (
        f" This profile compiles with {backend}: the graph capture without code "
        "generation, a check of the plumbing, so its ratios are not the compiled path's "
        "speed (the small and paper profiles use inductor)."
    )
    return (
        f"\n\nThe compiled path: our solve with `compile=True` ({backend} backend, one "
        "static graph per case), timed beside our eager solve, the hand-written loop and "
        "torchdiffeq on the dense field (batch 64, 8 steps). Compile time is wall time of "
        "the first call less one steady call, with the compiler's caches off (what a "
        f"first use pays); the compiler's one-off start-up in a process, "
        f"{res.compile_startup_s:.1f} s, is apart. Here compiled ÷ eager ranged "
        f"{cp.vs_eager.min():.2f}–{cp.vs_eager.max():.2f}, compile times "
        f"{cp.compile_s.min():.1f}–{cp.compile_s.max():.1f} s, and compiling paid back "
        + (f"after {fmt_calls(fin.min())}–{fmt_calls(fin.max())} calls where it did"
           if len(fin) else "in no case")
        + (f" (never in {len(be) - len(fin)} of {len(be)} cases, where compiled was not "
           "faster)" if len(fin) < len(be) else "")
        + "." + caveat + " " + TRAINING_NOTE
    )


def _fig_memory(df):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4))
    for g, d in df.groupby("gradient"):
        ax.plot(d["steps"], d["peak_mib"], "o-", label=g)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("steps")
    ax.set_ylabel("peak memory delta (MiB)")
    ax.legend()
    return fig


def _fig_wp(df):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2))
    for m, d in df.groupby("method", sort=False):
        ls = "--" if C.is_peer(m) else "-"
        ax.loglog(d["time_ms"], d["error"].clip(lower=1e-16), "o" + ls, label=m, ms=4)
    ax.set_xlabel("time per solve (ms, CPU time)")
    ax.set_ylabel("max-abs error at T vs float64 dopri5")
    ax.legend(fontsize=7, ncol=2)
    return fig


# --------------------------------------------------------------------------- writing
RATIO_COLUMNS = ["ours", "peer", "problem", "pass_", "ours_ms", "peer_ms", "ratio",
                 "ratio_lo", "ratio_hi", "max_abs_diff", "nfe_ours", "nfe_peer"]


def machine_line(mach: dict) -> str:
    return (f"Measured on {mach['cpu']} ({mach['logical_cores']} logical cores), "
            f"{mach['torch_threads']} torch thread(s), torch {mach['torch']} "
            f"({mach['build']}), Python {mach['python']}: these numbers belong to this "
            "machine.")


def write_section(out, res: Results, plan: Plan, how: str) -> None:
    """Write ``res`` into ``out`` (a ``StageOutputs`` with ``no_claims=True``); file
    names are prefixed with the section's stage name."""
    s = out.stage
    out.text(
        machine_line(res.machine) + "\n\n"
        + f"{how} Times are CPU time of this process; each ratio is the median over "
        f"{plan.rounds} rounds of interleaved samples (the minimum of {plan.samples} per "
        "side and round), so it holds on a loaded machine where absolute times do not. "
        "The hand-written loop is each Butcher table written out as a plain Python loop "
        "over the same field module (src/nnde/bench/catalog.py): ours ÷ loop is what the "
        "library's generic engine costs over the shortest code computing the same "
        "numbers. The torchdiffeq side integrates a plain-torch copy of the dense field. "
        "Measurements, not claims: targets are reported here and gated by `nnde bench "
        "peers`; full runs are `make bench` and asv, their history `nnde bench history`."
        + _compiled_text(res, plan)
    )
    out.extra("machine", res.machine)
    out.params({**asdict(plan), **{f"machine.{k}": v for k, v in res.machine.items()}})
    out.csv(f"{s}_targets", targets(res), show=True, caption="Targets (reported, not asserted)")
    lp = res.loops[RATIO_COLUMNS].rename(columns={"peer": "loop", "peer_ms": "loop_ms"})
    out.csv(f"{s}_loop_ratios", lp, show=True, max_rows=80,
            caption="Integrator overhead: ours ÷ hand-written loop of the same table")
    out.csv(f"{s}_peer_ratios", res.peers[RATIO_COLUMNS], show=True, max_rows=80,
            caption="ours ÷ torchdiffeq")
    out.figure("ratios", _fig_ratios(res.loops, res.peers),
               f"Time ratios per method · field type and pass, size {plan.size} "
               f"({C.SIZES[plan.size]}).")
    out.csv(f"{s}_memory", res.memory, show=True,
            caption="Peak memory of one forward+backward pass vs steps")
    out.figure("memory", _fig_memory(res.memory),
               f"Peak memory delta of forward+backward through the ODE block "
               f"({plan.memory_method}, size {plan.memory_size}): direct backprop vs adjoint.")
    out.csv(f"{s}_work_precision", res.work_precision)
    out.figure("work_precision", _fig_wp(res.work_precision),
               f"Work-precision, dense field, size {plan.size}: error at T against time "
               "per solve (fixed steps: one marker per step count; adaptive: per rtol); "
               "float32, so errors level off near 1e-6.")
    if res.flops is not None:
        out.csv(f"{s}_flops", res.flops, show=True, caption="Achieved FLOP/s vs matmul")
    if res.compiled is not None and len(res.compiled):
        out.csv(f"{s}_compiled", res.compiled, show=True, max_rows=80,
                caption="Compiled path: compiled ÷ eager, ÷ hand-written loop, ÷ torchdiffeq; "
                        "compile time (s) and break-even calls (inf: never)")
        out.figure("compiled", _fig_compiled(res.compiled),
                   "Compiled solve (torch.compile) against our eager solve, the hand-written "
                   "loop and torchdiffeq per method · width · pass (left), and the calls "
                   "after which the compile time is paid back (right).")
    if res.adjoint is not None and len(res.adjoint):
        out.csv(f"{s}_adjoint", res.adjoint, show=True,
                caption="nnde's adjoint against torchdiffeq's odeint_adjoint: one training "
                        "step of the Chen Table 1 ODE-Net (MNIST-1D shapes, 16 channels, "
                        "batch 128, dopri5 at rtol = atol = tol), median CPU seconds over "
                        "interleaved rounds, gradient error against direct backprop at "
                        "tol 1e-9, forward/backward NFE, peak saved activations, and the "
                        "evaluation floor: what the function evaluations alone cost at each "
                        "row's NFE (no adjoint evaluating the field as often can be faster; "
                        "floor_vs_torchdiffeq is the best ratio any solver overhead could "
                        "reach) (nnde.bench.adjoint)")
    metrics = {
        "loop_ratio_max": float(res.loops.ratio.max()) if len(res.loops) else None,
        "loop_ratio_min": float(res.loops.ratio.min()) if len(res.loops) else None,
        "peer_ratio_max": float(res.peers.ratio.max()) if len(res.peers) else None,
        "peer_ratio_min": float(res.peers.ratio.min()) if len(res.peers) else None,
    }
    cp = res.compiled
    if cp is not None and len(cp):
        fin = cp.break_even_calls[cp.break_even_calls < float("inf")]
        metrics.update({
            "compiled_vs_eager_min": float(cp.vs_eager.min()),
            "compiled_vs_eager_max": float(cp.vs_eager.max()),
            "compile_seconds_max": float(cp.compile_s.max()),
            "break_even_calls_min": float(fin.min()) if len(fin) else None,
            "compile_startup_seconds": res.compile_startup_s,
        })
    ad = res.adjoint
    if ad is not None and len(ad):
        ours = ad[ad.backend == "nnde"]
        metrics["adjoint_time_vs_torchdiffeq_max"] = float(ours.time_vs_torchdiffeq.max())
    out.metrics(metrics)


def write_peers_section(root=".", quick=False):
    """``nnde bench report``: the full (or ``quick``) plan as
    ``data/benchmarks/peers.section.json``."""
    from nnde.stage import StageOutputs

    plan = QUICK if quick else FULL
    with in_dir(root):
        res = measure_all(plan)
        title = "Benchmarks: full run (`nnde bench report`)"
        with StageOutputs("benchmarks", "peers", title, no_claims=True) as out:
            write_section(out, res, plan,
                          f"Measured by `nnde bench report{' --quick' if quick else ''}`.")
    return os.path.join(root, "data/benchmarks/peers.section.json")
