"""Chen et al. (2018), memory and adjoint gradients: the section text, the tables
(``data/chen/memory_*.csv``), the figure and the metrics, from the saved results."""

from __future__ import annotations

import pandas as pd

from nnde.plotting import pyplot
from nnde.results import Results
from nnde.stage import StageOutputs

from . import STAGE
from .claims import slopes


def figure(mem: pd.DataFrame, err: pd.DataFrame, ref_tol: float):
    plt = pyplot()
    s = slopes(mem)
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for g, d in mem.groupby("gradient"):
        ax[0].loglog(d.steps, d.peak_saved_MB, "o-", label=f"{g} (slope {s[g]:.2f})")
    ax[0].set_xlabel("solver steps")
    ax[0].set_ylabel("peak saved-tensor memory (MB)")
    ax[0].set_title("Memory of one forward + backward pass")
    ax[0].legend()
    for g, d in err.groupby("gradient"):
        ax[1].loglog(d.tol, d.rel_error, "o-", label=g)
    ax[1].set_xlabel("rtol = atol")
    ax[1].set_ylabel("relative gradient error")
    ax[1].set_title(f"Gradient vs reference (direct, tol {ref_tol:g})")
    ax[1].invert_xaxis()
    ax[1].legend()
    fig.tight_layout()
    return fig


def write(res: Results, out: StageOutputs) -> None:
    cfg = res.record("config")
    mem, err = res.frame("steps"), res.frame("gradient_error")
    s = slopes(mem)
    out.text(
        f"An ODE block over t ∈ [0, 1] with an MLP field ({cfg['dim']} → {cfg['hidden']} "
        f"→ {cfg['dim']}, tanh; weights ×{cfg['field_scale']} for the gradient part), batch "
        f"{cfg['batch']}. Left: peak memory of one forward "
        "+ backward pass with fixed-step RK4 (3/8 rule, the table torchdiffeq calls "
        "rk4), measured as the high-water mark of the tensors autograd holds "
        "(saved-tensor hooks with reference counting; parameters excluded). Right: "
        "relative error of the parameter gradient (float64, dopri5 with rtol = atol = "
        f"tol) against direct backpropagation through dopri5 at tol {cfg['ref_tol']:g}."
    )
    out.csv(f"{STAGE}_steps", mem, show=True, caption="Peak memory against solver steps")
    out.csv(f"{STAGE}_gradient_error", err, show=True,
            caption="Gradient error against tolerance")
    out.figure(
        "scaling",
        figure(mem, err, cfg["ref_tol"]),
        "Left: memory against steps (log-log) for direct backpropagation and the "
        "adjoint. Right: gradient error against tolerance.",
    )
    out.metrics(
        {
            "slope.direct": s["direct"],
            "slope.adjoint": s["adjoint"],
            **{
                f"adjoint_rel_error.tol{r.tol:g}": r.rel_error
                for r in err[err.gradient == "adjoint"].itertuples()
            },
        }
    )
