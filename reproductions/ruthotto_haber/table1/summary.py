"""The paper's Table 1 and the per-variant summary of our runs (read by the experiment,
the claims and the figures)."""

from __future__ import annotations

import pandas as pd

from nnde.results import Results

#: Ruthotto & Haber (2020), Table 1: test accuracy (%) and number of weights.
PAPER_TABLE1 = {
    "stl10": {"parabolic": (77.0, 618_554), "hamiltonian": (78.3, 324_794),
              "second_order": (74.3, 618_554)},
    "cifar10": {"parabolic": (88.5, 502_570), "hamiltonian": (89.3, 264_106),
                "second_order": (89.2, 502_570)},
    "cifar100": {"parabolic": (64.8, 652_484), "hamiltonian": (64.9, 362_180),
                 "second_order": (65.4, 652_484)},
}
#: The paper's CIFAR-10 architecture (widths 32/64/112, 3 steps per block).
PAPER_WIDTHS = (32, 64, 112)
PAPER_STEPS = 3


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Per variant: weights, test accuracy and loss (mean and std over seeds, ddof 0; the
    lowest seed's accuracy), the accuracy on every held-out example (validation and test:
    what the claims compare) and their number, training accuracy, seeds, and the paper's
    CIFAR-10 numbers."""
    g = table.groupby("variant", sort=False)
    out = pd.DataFrame({
        "dataset": g.dataset.first(),
        "weights": g.weights.first(),
        "test_accuracy": g.test_accuracy.mean(),
        "test_accuracy_std": g.test_accuracy.std(ddof=0),
        "test_accuracy_min": g.test_accuracy.min(),
        **({"heldout_accuracy": g.heldout_accuracy.mean(),
            "heldout_accuracy_std": g.heldout_accuracy.std(ddof=0),
            "heldout_examples": g.heldout_examples.first()}
           if "heldout_accuracy" in table else {}),
        "test_loss": g.test_loss.mean(),
        "train_accuracy": g.train_accuracy.mean(),
        "epochs_mean": g.epochs.mean(),
        "seeds": g.seed.nunique(),
        "paper_cifar10_accuracy": g.paper_cifar10_accuracy.first(),
        "paper_cifar10_weights": g.paper_cifar10_weights.first(),
    }).reset_index()
    return out


def table(res: Results) -> pd.DataFrame:
    """:func:`summarise` of the per-seed results (``seeds``)."""
    return summarise(res.frame("seeds"))


def convergence(res: Results) -> list[dict]:
    """One convergence row per (variant, seed) run (:meth:`nnde.train.History.summary`
    with ``model``, ``variant`` and ``seed``); [] when the results hold none."""
    return list(res.record("convergence")) if res.has("convergence") else []


def baselines(res: Results) -> dict[str, float]:
    """The same run's baselines on the held-out examples: {model: accuracy %} (majority
    class, linear classifier); {} when the results hold none."""
    if not res.has("baselines"):
        return {}
    b = res.frame("baselines")
    return dict(zip(b.model, b.accuracy.astype(float), strict=True))
