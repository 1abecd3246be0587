"""Chen et al. (2018), Table 1: the per-model summary of the per-seed results (means and
spreads over seeds), which the claims and the figures share."""

from __future__ import annotations

import math

import pandas as pd

from nnde.stage import convergence_rows

from . import NAMES

#: Table 1 of the paper (MNIST): test error (%), parameters (millions), memory, time.
PAPER_TABLE = {
    "mlp": (1.60, "0.24M [unverified]", "—", "—"),
    "resnet": (0.41, "0.60M", "O(L)", "O(L)"),
    "rknet": (0.47, "0.22M", "O(L̃)", "O(L̃)"),
    "odenet": (0.42, "0.22M", "O(1)", "O(L̃)"),
}
#: Published MNIST-1D test accuracy (%) of the nearest model family (Greydanus and Kobak,
#: 2024): an MLP, and a CNN for the three convolutional models.
MNIST1D_REFERENCE = {
    "mlp": ("MLP", 68.0),
    "resnet": ("CNN", 94.0),
    "rknet": ("CNN", 94.0),
    "odenet": ("CNN", 94.0),
}


def summarise(per_seed: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """One row per model: test error mean and std over seeds (std with ddof = 1; NaN for
    one seed), ours beside the paper's and the published MNIST-1D references."""
    rows = []
    for kind, g in per_seed.groupby("kind", sort=False):
        err = g.test_error_pct
        ref = MNIST1D_REFERENCE[kind] if dataset == "mnist1d" else None
        conv = g.converged.dropna()
        rows.append(
            {
                "model": NAMES[kind],
                "kind": kind,
                "seeds": len(g),
                "test_error_mean": float(err.mean()),
                "test_error_sd": float(err.std(ddof=1)) if len(g) > 1 else math.nan,
                "test_accuracy_pct": float(100 - err.mean()),
                "reference_accuracy_pct": ref[1] if ref else math.nan,
                "reference": f"MNIST-1D {ref[0]}" if ref else "",
                "paper_error_pct": PAPER_TABLE[kind][0],
                "params": int(g.params.iloc[0]),
                "paper_params": PAPER_TABLE[kind][1],
                "peak_saved_MB": float(g.peak_saved_MB.median()),
                "cuda_peak_MB": float(g.cuda_peak_MB.median()),
                "paper_memory": PAPER_TABLE[kind][2],
                "epoch_seconds": float(g.epoch_seconds.median()),
                "epochs_run": f"{int(g.epochs_run.min())}–{int(g.epochs_run.max())}"
                if g.epochs_run.nunique() > 1
                else str(int(g.epochs_run.iloc[0])),
                "converged": f"{int(conv.sum())}/{len(g)}" if len(conv) else "fixed epochs",
                "nfe_forward": float(g.nfe_forward.median()),
            }
        )
    return pd.DataFrame(rows)


def convergence(per_seed: pd.DataFrame) -> list[dict]:
    """Rows for :meth:`StageOutputs.convergence`: one per (model, seed), with its
    ``kind`` (the claims' notes pick the models they rest on by it)."""
    return convergence_rows(per_seed, lambda r: f"{r['model']} seed {r['seed']}",
                            extra=("kind",))


def spread(a, b, n_test: int) -> float:
    """The spread a gap between models ``a`` and ``b`` (summary rows) is judged against,
    in percentage points: the larger of their standard deviations over seeds; with one
    seed (no spread), the binomial standard error of ``b``'s error on ``n_test`` test
    examples. Never below one test example (100 / n_test)."""
    sds = [s for s in (a.test_error_sd, b.test_error_sd) if not math.isnan(s)]
    if sds:
        s = max(sds)
    else:
        p = b.test_error_mean / 100
        s = 100 * math.sqrt(p * (1 - p) / n_test)
    return max(s, 100 / n_test)
