"""The report's benchmark section, measured side by side in one run.

``peers_section(quick)`` measures, on this machine, with pinned threads:

* ours ÷ torchdiffeq per shared method, problem and pass (``peers.measure``), with the
  max-abs difference of the outputs for same-table pairs;
* integrator overhead at width 64, batch 128 (size ``medium``): time of an n-step solve
  ÷ (n × evaluations per step × time of one field evaluation) — 1.0 is the limit;
* achieved FLOP/s of a dense solve at size ``large`` ÷ a matmul of the same shape;
* peak-memory delta of one forward+backward pass against steps, direct vs adjoint;
* a work-precision diagram: error against time, one line per method, one marker per
  step count (fixed-step) or tolerance (adaptive).

``write_peers_section(root)`` writes it through ``StageOutputs`` as
``data/benchmarks/peers.section.json`` with its figures and CSVs.
"""

from __future__ import annotations

import os
from dataclasses import asdict

import pandas as pd
import torch

from nnde.bench import catalog as C
from nnde.bench import measure as M
from nnde.bench import peers as P
from nnde.bench.measure import in_dir

OVERHEAD_TARGET = 1.15
FIXED = ("euler", "midpoint", "heun", "rk4", "rk38")


def overhead(size="medium", methods=FIXED, repeats=7) -> pd.DataFrame:
    rows = []
    for m in methods:
        w = C.build(C.Case(m, "dense", size, "forward"))
        y = w.y0
        t = torch.zeros((), dtype=w.dtype)

        def one_eval(f=w.field, t=t, y=y):
            with torch.no_grad():
                return f(t, y)

        evals = w.nfe()
        t_eval = M.time_best(one_eval, "cpu", repeats, clock="cpu")
        t_solve = M.time_best(w.run, "cpu", repeats, clock="cpu")
        rows.append(
            {
                "method": m,
                "nfe": evals,
                "solve_ms": t_solve * 1e3,
                "eval_us": t_eval * 1e6,
                "overhead": t_solve / (evals * t_eval),
            }
        )
    return pd.DataFrame(rows)


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


def memory_vs_steps(steps=(8, 32, 128, 512), method="euler", size="medium") -> pd.DataFrame:
    rows = []
    for problem in ("ode_block_direct", "ode_block_adjoint"):
        for n in steps:
            w = C.build(C.Case(method, problem, size, "backward"), steps=n)
            w.run()  # warm-up: first-call allocations are not the workload's
            rows.append(
                {
                    "gradient": problem.rsplit("_", 1)[1],
                    "steps": n,
                    "peak_mib": M.peak_memory_delta(w.run, "cpu") / 2**20,
                }
            )
    return pd.DataFrame(rows)


def work_precision(quick=False) -> pd.DataFrame:
    steps = (4, 8, 16, 32) if quick else (4, 8, 16, 32, 64)
    tols = ((1e-3, 1e-5), (1e-5, 1e-7), (1e-7, 1e-9))
    plan = [(m, {"steps": n}, f"{n} steps") for m in FIXED + ("torchdiffeq.rk4",) for n in steps]
    for m in ("bosh3", "dopri5", "torchdiffeq.dopri5"):
        plan += [(m, {"tol": tol}, f"rtol {tol[0]:g}") for tol in tols]
    rows = []
    for m, kw, label in plan:
        w = C.build(C.Case(m, "dense", "small", "forward"), **kw)
        rows.append(
            {
                "method": m,
                "setting": label,
                "nfe": w.nfe(),
                "error": C.error(w),
                "time_ms": M.time_best(w.run, "cpu", 3 if quick else 5, clock="cpu") * 1e3,
            }
        )
    return pd.DataFrame(rows)


def _fig_ratios(df):
    import matplotlib.pyplot as plt

    piv = df.pivot_table(index=["ours", "problem"], columns="pass_", values="ratio")
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(piv) + 1.2))
    piv.plot.barh(ax=ax)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xlabel("time ours ÷ time torchdiffeq (< 1: ours faster)")
    ax.set_ylabel("")
    return fig


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
        ls = "--" if m.startswith("torchdiffeq") else "-"
        ax.loglog(d["time_ms"], d["error"].clip(lower=1e-16), "o" + ls, label=m, ms=4)
    ax.set_xlabel("time per solve (ms)")
    ax.set_ylabel("max-abs error at T vs float64 dopri5")
    ax.legend(fontsize=7, ncol=2)
    return fig


def peers_section(quick=False):
    M.pin_threads()
    problems = ("dense", "hamiltonian", "ode_block_direct") if quick else C.PROBLEMS
    pr = P.measure(C.peer_pairs(problems=problems), rounds=5 if quick else 7)
    peers = pd.DataFrame([asdict(r) for r in pr])
    ov = overhead(repeats=5 if quick else 7)
    fl = flops(size="medium" if quick else "large")
    mem = memory_vs_steps(steps=(8, 32, 128) if quick else (8, 32, 128, 512))
    wp = work_precision(quick)
    return peers, ov, fl, mem, wp


def _targets(peers, ov, mem) -> pd.DataFrame:
    rows = []
    worst = ov["overhead"].max()
    rows.append(
        {
            "target": f"integrator overhead ≤ {OVERHEAD_TARGET} (batch 128, width 64)",
            "measured": f"max {worst:.2f} ({ov.loc[ov.overhead.idxmax(), 'method']})",
            "met": bool(worst <= OVERHEAD_TARGET),
        }
    )
    shared = peers[peers.same_table]
    r = shared["ratio"].max()
    rows.append(
        {
            "target": "ours at least as fast as torchdiffeq (ratio ≤ 1) per shared method",
            "measured": f"max ratio {r:.2f}",
            "met": bool(r <= 1.0),
        }
    )
    d = shared["max_abs_diff"].max()
    rows.append(
        {
            "target": "equal outputs for same-table pairs (max |Δy| ≤ 1e-4, float32)",
            "measured": f"{d:.1e}",
            "met": bool(d <= 1e-4),
        }
    )
    adj = mem[mem.gradient == "adjoint"]["peak_mib"]
    spread = (adj.max() - adj.min()) / max(adj.min(), 1e-9)
    rows.append(
        {
            "target": "adjoint peak memory flat within 10% across steps",
            "measured": f"spread {100 * spread:.0f}%",
            "met": bool(spread <= 0.10),
        }
    )
    return pd.DataFrame(rows)


def write_peers_section(root=".", quick=False):
    from nnde.stage import StageOutputs

    with in_dir(root):
        peers, ov, fl, mem, wp = peers_section(quick)
        targets = _targets(peers, ov, mem)
        title = "Benchmarks: nnde beside torchdiffeq, overhead, memory, work-precision"
        with StageOutputs("benchmarks", "peers", title, no_claims=True) as out:
            out.text(
                "Measured by `nnde bench report` on this machine, one thread "
                f"(NNDE_BENCH_THREADS={os.environ.get(M.THREADS_ENV, 1)}). Ratios are medians "
                "of interleaved per-round ratios, so they hold on a loaded machine where "
                "absolute times do not. Targets are reported, not asserted."
            )
            out.csv("peers_targets", targets, show=True, caption="Targets")
            show = peers[
                [
                    "ours",
                    "peer",
                    "problem",
                    "pass_",
                    "ours_ms",
                    "peer_ms",
                    "ratio",
                    "max_abs_diff",
                    "nfe_ours",
                    "nfe_peer",
                ]
            ]
            out.csv("peers_ratios", show, show=True, caption="ours ÷ torchdiffeq", max_rows=80)
            out.figure("ratios", _fig_ratios(peers), "Time ours ÷ torchdiffeq per problem.")
            out.csv("peers_overhead", ov, show=True, caption="Integrator overhead")
            out.csv("peers_flops", fl, show=True, caption="Achieved FLOP/s vs matmul")
            out.csv("peers_memory", mem, show=True, caption="Peak memory vs steps")
            out.figure("memory", _fig_memory(mem), "Peak memory delta of forward+backward.")
            out.csv("peers_work_precision", wp)
            out.figure("work_precision", _fig_wp(wp), "Work-precision, dense field, small.")
            out.metrics(
                {
                    "max_peer_ratio": float(peers.ratio.max()),
                    "max_overhead": float(ov.overhead.max()),
                }
            )
            out.claims([])
    return os.path.join(root, "data/benchmarks/peers.section.json")
