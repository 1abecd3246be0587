"""The CNF stage's constants and the summaries that claims and figures share."""

from __future__ import annotations

import math

import pandas as pd

from nnde.claims import convergence_note
from nnde.results import Results

MODELS = {"planar": "planar NF (K layers)", "cnf": "CNF (M hidden units)"}
#: the ML-trained CNF must close this share of the gap between the best single Gaussian
#: and the target, in KL(p || ·), for "its samples follow the target"
FOLLOW_SHARE = 0.9
RUN = ["task", "target", "kind", "size", "seed"]


def convergence(res: Results) -> list[dict]:
    """One row per trained flow for the report's convergence table (its reading: the
    last validation loss)."""
    last = res.frame("history").groupby(RUN, sort=False).val_loss.last()
    return [{"model": f"{r['task'].upper()} {r['kind']} {r['size']} on {r['target']}, seed "
             f"{r['seed']}", "final_train_loss": float(last[tuple(r[k] for k in RUN)]),
             "final_train_error": math.nan, "epochs_run": int(r["iterations"]),
             "converged": bool(r["converged"]), "stop_reason": str(r["stop_reason"])}
            for r in res.frame("runs").to_dict("records")]


def conv_note(res: Results) -> str:
    """The claims' note on flows that stopped at the iteration cap ("" if none did)."""
    return convergence_note(convergence(res), unit="iteration", loss="validation loss")


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Mean final losses (and summed CPU time) per task, target, model and size."""
    summary = (table.groupby(["task", "target", "kind", "size"])
               .agg(params=("params", "first"), seeds=("seed", "size"),
                    final_loss=("final_loss", "mean"), kl_q_p=("kl_q_p", "mean"),
                    kl_p_q=("kl_p_q", "mean"), nll=("nll", "mean"),
                    nll_fine_solver=("nll_fine_solver", "mean"),
                    kl_p_q_fine=("kl_p_q_fine", "mean"),
                    iterations=("iterations", "mean"), cpu_seconds=("cpu_seconds", "sum"))
               .reset_index())
    summary["model"] = summary.kind.map(MODELS)
    return summary
