"""The CNF stage's figure, table, text, metrics and convergence table, from its
results."""

from __future__ import annotations

import math

import pandas as pd

from nnde.claims import fmt
from nnde.plateau import Plateau
from nnde.plotting import pyplot
from nnde.results import Results
from nnde.stage import StageOutputs

from . import STAGE
from .summary import convergence, summarise


def _key(task: str, target: str, kind: str, size: int, seed: int) -> str:
    # as experiment.run_key (figures read the results, never the experiment module)
    return f"{task}_{target}_{kind}{size}_seed{seed}"


def figure(table: pd.DataFrame, history: pd.DataFrame, pics: dict, cfg: dict):
    plt = pyplot()
    targets, sizes, s0 = cfg["targets"], cfg["sizes"], cfg["seeds"][0]
    pick = {(r["task"], r["target"], r["kind"], r["size"]): r
            for r in table.to_dict("records") if r["seed"] == s0}
    ncol = 1 + 2 * len(sizes)
    nrow = 2 * len(targets) + 1
    fig = plt.figure(figsize=(2.1 * max(ncol, 7), 2.2 * nrow))
    gs = fig.add_gridspec(nrow, max(ncol, 7))
    lim = 1.6
    hist_kw = {"bins": 80, "range": [[-lim, lim], [-lim, lim]], "cmap": "Blues"}
    for i, tg in enumerate(targets):
        # row 2i: density matching (Fig. 4): the target, then samples of each model
        a = fig.add_subplot(gs[2 * i, 0])
        a.imshow(pics[f"target_{tg}_density"], origin="lower", extent=[-lim, lim, -lim, lim],
                 cmap="Blues")
        a.set_title(f"target: {tg.replace('_', ' ')}", fontsize=8)
        for j, (kind, m) in enumerate([(k, m) for k in ("planar", "cnf") for m in sizes]):
            a = fig.add_subplot(gs[2 * i, 1 + j])
            r = pick.get(("kl", tg, kind, m))
            if r is not None:
                s = pics[f"{_key('kl', tg, kind, m, s0)}_samples"]
                a.hist2d(s[:, 0], s[:, 1], **hist_kw)
                a.set_title(f"{'NF K' if kind == 'planar' else 'CNF M'} = {m}: "
                            f"KL {fmt(r['kl_q_p'], 2)}", fontsize=8)
        # row 2i+1: maximum likelihood (Figs. 5–6): CNF density, samples at t = 0, ½, 1
        ml = cfg["ml"]
        r = pick.get(("ml", tg, "cnf", ml["size"]))
        if r is None:  # the maximum-likelihood seeds are their own list
            r = next((q for q in table.to_dict("records") if q["task"] == "ml"
                      and q["target"] == tg and q["seed"] == ml["seeds"][0]), None)
        if r is not None:
            key = _key("ml", tg, "cnf", ml["size"], r["seed"])
            a = fig.add_subplot(gs[2 * i + 1, 0])
            a.imshow(pics[f"{key}_density"], origin="lower", extent=[-lim, lim, -lim, lim],
                     cmap="Blues")
            a.set_title(f"ML CNF density (M = {ml['size']})", fontsize=8)
            for j, tt in enumerate(("0", f"{ml['t1'] / 2:g}", f"{ml['t1']:g}")):
                a = fig.add_subplot(gs[2 * i + 1, 1 + j])
                s = pics[f"{key}_transport"][j]
                a.hist2d(s[:, 0], s[:, 1], **hist_kw)
                a.set_title(f"ML CNF samples at t = {tt}", fontsize=8)
    for a in fig.axes:
        a.set_xticks([])
        a.set_yticks([])
        a.set_aspect("equal")
    # last row: loss curves and loss against size
    a = fig.add_subplot(gs[-1, :3])
    h = history[(history.task == "kl") & (history.seed == s0)]
    for (tg, kind, m), d in h.groupby(["target", "kind", "size"]):
        a.plot(d.iteration, d.val_loss, ls="-" if kind == "cnf" else "--",
               color=f"C{sizes.index(m)}", alpha=0.9 if tg == targets[0] else 0.5,
               label=f"{kind} {m}" if tg == targets[0] else None)
    a.set_yscale("log")
    a.set_xlabel("iteration")
    a.set_ylabel("KL(q‖p), validation")
    a.set_title("Density matching against iterations (solid CNF, dashed NF; faint: "
                f"{targets[-1].replace('_', ' ')})", fontsize=8)
    a.legend(fontsize=6, ncol=2)
    a = fig.add_subplot(gs[-1, 4:])
    kl = table[table.task == "kl"].groupby(["target", "kind", "size"]).final_loss.mean()
    for tg in targets:
        for kind, ls in (("cnf", "o-"), ("planar", "s--")):
            v = kl.loc[(tg, kind)]
            a.plot(v.index, v.values, ls, label=f"{tg.replace('_', ' ')}, {kind}")
    a.set_xscale("log", base=2)
    a.set_yscale("log")
    a.set_xlabel("K (planar layers) = M (CNF units)")
    a.set_ylabel("final KL(q‖p)")
    a.set_title("Density matching against model size", fontsize=8)
    a.legend(fontsize=6)
    fig.tight_layout()
    return fig


def write(res: Results, out: StageOutputs) -> None:
    cfg, targets = res.record("config"), res.record("targets")
    ml = cfg["ml"]
    table, history = res.frame("runs"), res.frame("history")
    crit = Plateau(**cfg["plateau"]).describe("validation loss", "readings")
    summary = summarise(table)
    wall = res.run_seconds.get("wall", math.nan)
    out.text(
        f"Targets: {', '.join(t.replace('_', ' ') for t in cfg['targets'])} (noise "
        f"{cfg['noise']:g}); entropies H(p) "
        + ", ".join(f"{fmt(v['entropy'], 3)}" for v in targets.values())
        + " nats; the moment-matched Gaussian's KL(p‖N): "
        + ", ".join(f"{fmt(v['gaussian_kl'], 3)}" for v in targets.values())
        + f" nats. Density matching (Fig. 4): CNF by {cfg['method']} with {cfg['steps']} "
        f"fixed steps over t ∈ [0, 1] from N(0, I), hypernetwork width {cfg['hyper']}, "
        f"exact trace; K = M ∈ {cfg['sizes']}, minimising KL(q‖p) on batches of "
        f"{cfg['batch']} base samples, Adam (lr {cfg['lr']:g}), {crit} (read every "
        f"{cfg['eval_every']} iterations, cap {cfg['max_iterations']}); seeds "
        f"{cfg['seeds']}, trained side by side (each seed with its own weights, batches, "
        "Adam moments, learning rate and plateau, as alone; the arithmetic batched: the "
        "runs' CPU seconds are the group's, split evenly)"
        + (f"; the final KL(q‖p) of a CNF is measured under a {cfg['fine_factor']}× finer "
           "solve (kl_q_p; the training solve's: kl_q_p_train_solve), since a CNF trained "
           "on a coarse solve can learn a field whose coarse log-density is wrong"
           if "fine_factor" in cfg else "")
        + (f"; a run whose final KL is above {cfg['fail_ratio']:g}× the median of its "
           f"siblings' (the other seeds) failed and trains on from where it stopped, the "
           f"learning rate restored, to {cfg['retry_iterations']} iterations with patience "
           f"{cfg['retry_patience']}" if "fail_ratio" in cfg else "")
        + f". Maximum likelihood (Figs. 5–6), with the settings of the "
        f"authors' example (torchdiffeq examples/cnf.py, 2018): CNF with M = {ml['size']} "
        f"averaged units, t ∈ [0, {ml['t1']:g}], base N(0, {ml['base_var']:g} I), "
        f"{ml['batch']} fresh target samples per iteration, Adam (lr {ml['lr']:g}) for "
        f"{ml['iterations']} iterations; {cfg['method']} with {ml['steps']} fixed steps "
        f"(the authors: dopri5 at tolerance 1e-5), the claim judged under a "
        f"{ml['fine_factor']}× finer solve (the table's nll_fine_solver); seeds "
        f"{ml['seeds']}, side by side as above. KL(p‖q) = test NLL − H(p) on "
        f"{cfg['test_batch']} fresh samples. "
        f"The paper's own description (t ∈ [0, 1], base N(0, I), a fixed training set, "
        f"lr 0.01, 8 steps) left the two circles at the best Gaussian (KL(p‖q) ≈ 0.90). "
        f"Stage wall time {wall:.0f} s with {cfg['workers']} worker process(es)."
    )
    out.csv(STAGE, summary[["task", "target", "model", "size", "params", "seeds",
                            "kl_q_p", "kl_p_q", "nll", "nll_fine_solver", "kl_p_q_fine",
                            "iterations", "cpu_seconds"]],
            show=True, caption="Final losses (mean over seeds): KL(q‖p) of density "
            "matching (and of the ML-trained CNF's samples), KL(p‖q) = NLL − H(p) of "
            "maximum likelihood, the NLL with a finer solve (the CNF's solver "
            "check, on which the maximum-likelihood claim is judged), iterations")
    out.csv(f"{STAGE}_runs", table)
    out.csv(f"{STAGE}_history", history)
    out.figure("flows", figure(table, history, res.arrays("pictures"), cfg),
               "Density matching (Fig. 4): each target, and samples of the planar flow "
               "(K layers) and the CNF (M units); maximum likelihood (Figs. 5–6): the "
               "CNF's density and its samples carried from the noise (t = 0) to the "
               "data (t = t1); the density-matching loss against iterations and size.")
    out.convergence(convergence(res), crit, unit="iterations", loss="final validation loss")
    out.metrics({f"{r.task}.{r.target}.{r.kind}{r.size}.final_loss": r.final_loss
                 for r in summary.itertuples()}
                | {"train_cpu_seconds": float(table.cpu_seconds.sum())})
