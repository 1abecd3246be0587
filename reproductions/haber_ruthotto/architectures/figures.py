"""The stage's report section from the saved results: text, tables, figures (drawn in
``plots``), metrics and the CSVs the report and ``dvc plots`` read."""

from __future__ import annotations

import math

import pandas as pd

from nnde.plateau import Plateau
from nnde.results import Results
from nnde.stage import StageOutputs

from . import STAGE
from .claims import GRAD_FACTOR
from .plots import (
    decision_figure,
    depth_figure,
    eigen_figure,
    gradient_figure,
    multilevel_figure,
    trajectory_figure,
)
from .stability import OFF_AXIS
from .summary import CONV_LOSS, breakdown, convergence_rows, grad_ratios, summary, table


def kept_cells(res: Results) -> dict:
    """{(arch, depth): {"state", "hlam", "classes"}} of the cells kept for the figures."""
    return {(k["arch"], k["depth"]): {
        "state": res.arrays(f"state_{k['arch']}_{k['depth']}"),
        "hlam": res.arrays(f"hlam_{k['arch']}_{k['depth']}")["hlam"],
        "classes": k["classes"]} for k in res.record("kept")}


def _criterion(cfg: dict) -> str:
    pl = cfg.get("plateau")
    if not pl:
        return f"a fixed {cfg['epochs']} steps"
    return (Plateau(**pl).describe("training objective (Σ over the members packed in "
                                   "the cell)", "steps")
            + f" (cap {cfg['epochs']} steps)")


def _convergence(out: StageOutputs, cfg: dict, df) -> None:
    """One row per (architecture, depth) cell (:func:`summary.convergence_rows`)."""
    rows = convergence_rows(df)
    if not rows:
        return
    out.convergence(rows, _criterion(cfg), unit="steps", loss=CONV_LOSS)


def _text(cfg: dict, wall: float) -> str:
    top = cfg["ml_depth"]
    return (
        f"Five architectures, each {cfg['width']} wide (inputs padded with zeros), are "
        f"trained at fixed final time T = {cfg['T']:g} with N ∈ {cfg['depths']} layers "
        f"(h = T/N) on {', '.join(cfg['datasets'])}, seeds {cfg['seeds']}, with the same "
        f"linear soft-max head and the same optimiser: full-batch Adam, lr {cfg['lr']:g}, "
        f"on the cross-entropy plus the authors' time-derivative regulariser "
        f"α/h Σ_k ‖θ_(k+1) − θ_k‖² (α = {cfg['smooth']:g}, {cfg['smooth_antisym']:g} for "
        f"the antisymmetric nets, as in the authors' swiss-roll examples), each cell "
        f"trained to {_criterion(cfg)}. Multi-level training runs "
        f"{cfg['ml_epochs_level']} iterations per level, the authors' count (their "
        f"iterations are Newton-type steps, ours Adam steps). M is the largest ratio "
        f"‖Φ(a + δ) − Φ(a)‖/‖δ‖ of the "
        f"feature map over validation inputs a and {cfg['n_perturbations']} random δ of "
        f"relative size {cfg['eps']:g}.\n\n"
        "Each claim names the part of the paper it tests. §3 argues that Re λ(J) ≈ 0 "
        "(the antisymmetric, Hamiltonian and second-order parametrisations give it for "
        "any weights) makes the forward propagation stable, with M bounded independently "
        "of the number of layers at fixed T, not M ≈ 1, and that this keeps gradients "
        "from exploding or vanishing; the plain ResNet's K is unconstrained. We measure "
        "the eigenvalues of every layer's Jacobian along the trajectories of validation "
        "points, M at every depth, and the gradient norms of the first and last layers "
        "at initialisation and after training.\n\n"
        "The eigenvalue figure draws h λ over the region where the integrator does not "
        "amplify: the disk |1 + z| ≤ 1 of forward Euler, |R(z)| ≤ 1 of the higher-order "
        "Runge–Kutta step, and the segment z ∈ i[−2, 2] of Verlet and leapfrog. "
        "Eigenvalues outside the region are modes the discrete network amplifies at "
        "every layer even when the ODE does not.\n\n"
        "How to read M: it is a maximum over inputs, and a classifier must stretch the "
        "neighbourhood of inputs close to a decision boundary, so a trained network has "
        "M ≫ 1 where the classes come close (the swiss roll); M_typical (median ratio) "
        "shows the typical amplification. Each depth of the sweep is trained on its own, "
        "so its weights differ; the refinement table instead samples one weight function "
        "θ(t), the finest multi-level net's, at every N, which isolates the effect of h.\n\n"
        f"Multi-level training ({', '.join(cfg['ml_archs']) or 'none'}), as in the "
        f"authors' code: {cfg['ml_start']} layers trained for {cfg['ml_epochs_first']} "
        f"steps, then the layers doubled, h halved and the weights interpolated linearly "
        f"in time, {cfg['ml_epochs_level']} steps per level, up to {top} layers; compared "
        f"with the {top}-layer net trained directly to the plateau criterion, in accuracy "
        "and training CPU time (one thread per run). The finest level's weights, linear in "
        f"time between layers, define one θ(t), sampled at N = {cfg['ml_start']} … "
        f"{cfg['ml_refine_to']} for the refinement table.\n\n"
        f"All runs took {wall:.0f} s ({cfg['workers']} worker(s)); the members of one "
        "cell (data sets × seeds) are trained side by side as one block-diagonal network."
    )


def _multilevel_tables(out: StageOutputs, cfg: dict, df, levels, refine) -> None:
    """Multi-level training level by level against the direct run, and the refinement of
    one θ(t)."""
    top = cfg["ml_depth"]
    gl = grad_ratios(levels)
    lv = levels.groupby(["arch", "depth"], sort=False).agg(
        epochs=("epochs", "first"), val_acc=("val_acc", "mean"),
        train_acc=("train_acc", "mean"),
        cpu_seconds_cumulative=("cpu_seconds", "max")).reset_index()
    lv["grad_ratio_init"] = gl.r_init.to_numpy()
    lv["grad_ratio_trained"] = gl.r_trained.to_numpy()
    d_top = df[df.depth == top]
    gd = grad_ratios(d_top)
    direct = d_top.groupby("arch", sort=False).agg(
        val_acc=("val_acc", "mean"), train_acc=("train_acc", "mean"),
        cpu_seconds_cumulative=("cpu_seconds_cell", "max")).reset_index()
    direct["grad_ratio_init"] = gd.r_init.to_numpy()
    direct["grad_ratio_trained"] = gd.r_trained.to_numpy()
    steps = d_top.groupby("arch", sort=False).steps_run.first() if "steps_run" in d_top \
        else pd.Series(cfg["epochs"], index=direct.arch)
    direct["epochs"] = direct.arch.map(steps).to_numpy()
    direct = direct[direct.arch.isin(cfg["ml_archs"])].assign(depth=f"{top} direct")
    out.csv(f"{STAGE}_multilevel", levels)
    out.table(pd.concat([lv, direct[lv.columns]], ignore_index=True),
              caption="Multi-level training level by level (mean over members; "
                      "CPU time cumulative over the levels; gradient ratio ‖∇θ "
                      "first‖ / ‖∇θ last‖ of a fresh net of that depth and of the "
                      "trained one, median over members) and the deepest net trained "
                      "directly")
    rf = refine.groupby(["arch", "depth"], sort=False).agg(
        h=("h", "first"), M=("M", "median"), M_typical=("M_median", "median"),
        max_abs_hlam=("max_abs_hlam", "median"),
        frac_outside=("frac_outside_region", "median"),
        frac_step_only=("frac_step_only", "median")).reset_index()
    gr = grad_ratios(refine)
    rf["grad_ratio_fresh"] = gr.r_init.to_numpy()
    rf["grad_ratio_theta"] = gr.r_trained.to_numpy()
    out.csv(f"{STAGE}_refine", refine)
    out.table(rf, caption="One weight function θ(t) (the finest multi-level net's) "
              "sampled at every N: M, and the share of eigenvalues h λ outside the "
              "integrator's region (frac_outside) and of those the ODE does not "
              "amplify (Re λ ≤ 0) but the step does (frac_step_only: for forward "
              "Euler |1 + hλ| > 1); gradient ratio ‖∇θ first‖ / ‖∇θ last‖ of a "
              "fresh net of that depth and of the sampled θ(t) (median over members)")
    out.figure("multilevel", multilevel_figure(levels, df, refine),
               "Multi-level against direct training, and M of one θ(t) as h → 0.")


def _metrics(s, levels, top: int, wall: float) -> dict:
    metrics = {"wall_seconds": wall}
    for r in s.itertuples(index=False):
        metrics[f"val_acc.{r.arch}.N{r.depth}"] = r.val_acc
        metrics[f"M.{r.arch}.N{r.depth}"] = r.M
    if levels is not None and len(levels):
        for a, t in levels[levels.depth == top].groupby("arch"):
            metrics[f"multilevel.val_acc.{a}"] = float(t.val_acc.mean())
            metrics[f"multilevel.cpu_seconds.{a}"] = float(t.cpu_seconds.max())
    return metrics


def write(res: Results, out: StageOutputs) -> None:
    cfg = res.record("config")
    df, levels, refine = table(res, "cells"), table(res, "levels"), table(res, "refine")
    kept = kept_cells(res)
    lo, hi = cfg["depths"][0], cfg["depths"][-1]
    fig_depth = cfg["depths"][len(cfg["depths"]) // 2]
    wall = res.run_seconds.get("wall", math.nan)
    s = summary(df)
    out.text(_text(cfg, wall))
    _convergence(out, cfg, df)
    out.csv(STAGE, df)
    out.csv(f"{STAGE}_summary", s, show=True, max_rows=60,
            caption="Medians over data sets and seeds per architecture and depth "
                    "(val_acc_sd: standard deviation over seeds of the mean over data "
                    "sets; grad_ratio_init: ‖∇ first layer‖ / ‖∇ last layer‖ at "
                    "initialisation)")
    eig = df.groupby(["arch", "depth"], sort=False).agg(
        off_axis=("eig_off_axis", "median"), re_positive=("eig_re_pos", "median"),
        max_abs_re_rel=("eig_max_abs_re_rel", "max"), min_re=("eig_min_re", "min"),
        max_abs_lambda=("eig_max_abs", "median")).reset_index()
    out.table(eig, caption=f"Layer-Jacobian eigenvalues λ along validation trajectories: "
              f"share with |Re λ| > {OFF_AXIS:g} |λ| (off_axis) and with Re λ > "
              f"{OFF_AXIS:g} |λ| (re_positive), median over members; largest |Re λ| / "
              "max |λ| and smallest Re λ over members")
    out.table(grad_ratios(df).reset_index(), caption="‖∇θ first layer‖ / ‖∇θ last "
              "layer‖, median over members, at initialisation and after training")
    out.table(breakdown(df), caption="Where each integrator breaks: depths whose layer "
              "eigenvalues h λ fall outside the stability region (share of eigenvalues, "
              "median over data sets and seeds)")
    if levels is not None and len(levels):
        _multilevel_tables(out, cfg, df, levels, refine)
    out.figure("depth", depth_figure(df),
               "Validation accuracy and measured stability constant M against depth "
               "(T fixed), per data set; bands: range over seeds.")
    out.figure("gradients", gradient_figure(df),
               f"Gradient norm of the first layer over the last, against depth; grey: "
               f"within a factor {GRAD_FACTOR:g}.")
    out.figure("eigenvalues", eigen_figure(kept, [lo, hi], cfg),
               f"h λ of every layer's Jacobian (trained network, {cfg['datasets'][0]}, "
               f"seed {cfg['seeds'][0]}) at N = {lo} and N = {hi}, over the stability "
               "region of the integrator that runs the layer (grey).")
    out.figure("decision_regions", decision_figure(kept, fig_depth, cfg),
               f"Decision regions (N = {fig_depth}, seed {cfg['seeds'][0]}) with the "
               "validation points.")
    out.figure("trajectories", trajectory_figure(kept, fig_depth, cfg),
               "The first two features of a few validation inputs through the layers.")
    out.metrics(_metrics(s, levels, cfg["ml_depth"], wall))
