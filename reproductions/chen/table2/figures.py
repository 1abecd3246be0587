"""Table 2's table, figure, text, metrics and convergence table, from its results."""

from __future__ import annotations

import math

import pandas as pd

from nnde.plateau import Plateau
from nnde.plotting import pyplot
from nnde.results import Results
from nnde.stage import StageOutputs

from . import STAGE
from .summary import BASELINES, FLOOR_FRAC, MODELS, NAMES, PAPER_RMSE, convergence, summarise

COLOURS = {"latent_ode": "C0", "rnn": "C3", "origin": "0.6", "last_obs": "0.35"}


def figure(summary: pd.DataFrame, history: pd.DataFrame, models: pd.DataFrame,
           ex: dict, cfg: dict):
    plt = pyplot()
    fig = plt.figure(figsize=(15, 8.2))
    gs = fig.add_gridspec(2, 4)
    a = fig.add_subplot(gs[0, :2])
    for k in MODELS + BASELINES:
        s = summary[summary.kind == k]
        a.errorbar(s.observed, s.rmse_mean, yerr=s.rmse_sd, marker="o", capsize=3,
                   color=COLOURS[k], label=f"{NAMES[k]} (ours)")
        if k in PAPER_RMSE:
            ns = sorted(PAPER_RMSE[k])
            a.plot(ns, [PAPER_RMSE[k][n] for n in ns], "x--", color=COLOURS[k],
                   label=f"{NAMES[k]} (paper)")
    a.set_yscale("log")
    a.set_xlabel("observed points")
    a.set_ylabel("extrapolation RMSE (test spirals)")
    a.set_title("Table 2: mean ± sd over seeds, beside the paper's numbers")
    a.legend(fontsize=7, ncol=2)
    a = fig.add_subplot(gs[0, 2:])
    for (k, s), h in history.groupby(["kind", "seed"]):
        a.plot(h.iteration, h.val_mse, color=COLOURS[k], alpha=0.8,
               label=NAMES[k] if s == min(cfg["seeds"]) else None)
    a.axhline(cfg["noise"] ** 2, color="k", ls=":", lw=1, label="noise variance")
    a.set_yscale("log")
    a.set_xlabel("iteration")
    a.set_ylabel("validation MSE (noisy targets)")
    a.set_title("Training curves (one line per seed; training stops at the plateau)")
    a.legend(fontsize=7)
    n = min(cfg["observed"])
    # the first model of each kind trained with n observed points
    first = {k: next(r for r in models.to_dict("records") if r["kind"] == k
                     and str(n) in str(r["group"]).split("/")) for k in MODELS}
    npts, t_obs = cfg["n_points"], ex[f"draws_n{n}"]
    for i in range(3):
        a = fig.add_subplot(gs[1, i])
        c, x = ex["clean"][i], ex["noisy"][i]
        a.plot(c[:npts, 0], c[:npts, 1], "k-", lw=0.8, label="truth (window)")
        a.plot(c[npts:, 0], c[npts:, 1], "k:", lw=1.2, label="truth (extrapolation)")
        io = t_obs[i]
        a.plot(x[io, 0], x[io, 1], "k.", ms=4, label=f"observed ({n})")
        for k, style in (("latent_ode", "-"), ("rnn", "--")):
            p = ex[f"{k}_seed{first[k]['seed']}_n{n}"][i]
            a.plot(p[:, 0], p[:, 1], style, color=COLOURS[k], lw=1, label=NAMES[k])
        a.set_aspect("equal")
        a.set_title(f"test spiral {i}, seed {first['rnn']['seed']}", fontsize=9)
        if i == 0:
            a.legend(fontsize=6)
    a = fig.add_subplot(gs[1, 3])
    for k in MODELS:
        s = summary[summary.kind == k]
        a.plot(s.observed, s.rmse_over_origin, "o-", color=COLOURS[k], label=NAMES[k])
    s = summary[summary.kind == "last_obs"]
    a.plot(s.observed, s.rmse_over_origin, "o-", color=COLOURS["last_obs"],
           label=NAMES["last_obs"])
    a.axhline(FLOOR_FRAC, color="k", ls=":", lw=1, label="floor (× better baseline)")
    a.set_yscale("log")
    a.set_xlabel("observed points")
    a.set_ylabel("RMSE ÷ RMSE of predicting the origin")
    a.set_title("Normalised RMSE")
    a.legend(fontsize=7)
    fig.tight_layout()
    return fig


def text(cfg: dict, d: dict, plateau_text: str, wall: float) -> str:
    return (
        f"{cfg['spirals']} spirals ({d['n_train']} training, {d['n_val']} validation, "
        f"{d['n_test']} test), {cfg['n_points']} times in the observation window "
        f"({cfg['turns']:g} turns) and {cfg['n_extra']} in the extrapolation window; the "
        f"models predict, and are scored at, every {cfg['out_stride']}th time "
        f"({d['n_out']} output times, {d['n_out'] - d['n_window']} of them "
        "extrapolated), "
        f"noise σ = {cfg['noise']:g} (the paper does not state its noise). Each example "
        "shows the model n random times of the observation window; the test draws are "
        "the same for every model and baseline. Both models share the recognition "
        f"network ({cfg['encoder']}, {cfg['rnn_hidden']} units, fed the points and their "
        "time gaps). Latent ODE: recognition backwards in time → q(z₀), latent "
        f"dimension {cfg['latent']}, dynamics and decoder MLPs with {cfg['hidden']} "
        f"hidden units, {cfg['method']} with one step per output interval (checked "
        "against a 4× finer rk4 below); −ELBO with "
        f"σ = {cfg['obs_std']:g}. RNN: recognition forwards, a GRU decoder stepping "
        "through the output times with the time gap as input; Gaussian NLL with the "
        f"same σ. Adam (lr {cfg['lr']:g}), batch {cfg['batch']}, "
        + ("one model per kind and seed trained on all n (n drawn per batch)"
           if cfg["joint"] else "one model per kind, n and seed")
        + f", seeds {cfg['seeds']}. Training: {plateau_text} "
        f"(read every {cfg['eval_every']} iterations; cap {cfg['max_iterations']} "
        f"iterations). A run whose best validation MSE is more than "
        f"{cfg.get('fail_ratio', 3.0):g} × the median of the other seeds' is a failed run: "
        f"it trains on from where it stopped, its learning rate restored (cap "
        f"{cfg.get('retry_iterations')} iterations in all, patience "
        f"{cfg.get('retry_patience')} readings) and, if it still fails, the convergence "
        "table and the claims say so. How this differs from the paper: the paper trains on the "
        "observation window only and extrapolates beyond it; here both models are also "
        "trained on the extrapolation window of the training spirals (the held-out test "
        "spirals are extrapolated from their observations alone), which gives both the "
        "same supervision of the future. RMSE: root mean square over the extrapolation "
        "times and both coordinates against the noise-free spiral, from the posterior mean. Stage "
        f"wall time {wall:.0f} s with {cfg['workers']} worker process(es)."
    )


def write(res: Results, out: StageOutputs) -> None:
    cfg = res.record("config")
    runs, history, models = res.frame("runs"), res.frame("history"), res.frame("models")
    summary = summarise(runs)
    plateau_text = Plateau(**cfg["plateau"]).describe("validation MSE", "readings")
    wall = res.run_seconds.get("wall", math.nan)
    out.text(text(cfg, res.record("data"), plateau_text, wall))
    out.csv(STAGE, summary.drop(columns=["kind"]), show=True,
            caption="Extrapolation RMSE on held-out spirals (mean, sd, range over "
            "seeds) beside the paper's Table 2 and two baselines")
    out.csv(f"{STAGE}_runs", runs)
    out.csv(f"{STAGE}_history", history)
    solver = res.frame("solver")
    if len(solver):
        ode = runs[(runs.kind == "latent_ode")].merge(solver, on=["seed", "observed"])
        ode["fine_minus_trained"] = ode.fine_extrap_rmse - ode.extrap_rmse
        out.csv(f"{STAGE}_solver_check", ode[["seed", "observed", "extrap_rmse",
                                             "fine_extrap_rmse", "fine_minus_trained"]],
                show=True, caption=f"The trained latent ODEs re-solved with rk4 at 4 "
                f"steps per interval (trained: {cfg['method']}, 1 step): extrapolation "
                "RMSE at the most observed points. Close values: the model learned an "
                "ODE that the training solver resolves, not a discrete map.")
    out.figure("rmse", figure(summary, history, models, res.arrays("examples"), cfg),
               "Extrapolation RMSE against observed points (ours with the spread over "
               "seeds, the paper's, two baselines), the validation curves, and three "
               f"test spirals with the {min(cfg['observed'])} observed points, the truth "
               "and both models' reconstructions and extrapolations.")
    out.convergence(convergence(res), plateau_text, unit="iterations",
                    loss="best validation MSE")
    out.metrics({f"extrap_rmse.{r.kind}.n{r.observed}": r.rmse_mean
                 for r in summary.itertuples()}
                | {f"iterations.{r.kind}.seed{r.seed}": int(r.iterations)
                   for r in models.itertuples()}
                | {"train_cpu_seconds": float(models.cpu_seconds.sum())})
