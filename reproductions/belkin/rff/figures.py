"""Figure, table, section text and metrics of the random-Fourier-feature stage, from its
results."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nnde.claims import fmt
from nnde.plotting import pyplot
from nnde.results import Results
from nnde.stage import StageOutputs

from . import PAPER, STAGE
from .summary import summarise

NAMES = {"digits": "8×8 digits", "mnist": "MNIST"}


def figure(summ: pd.DataFrame, n: int, title: str):
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(10.5, 7.5), sharex=True)
    panels = [
        ("test_zero_one", "zero-one test loss (%)", 100.0),
        ("test_squared", "squared test loss", 1.0),
        ("coef_norm", "ℓ2 norm of the coefficients", 1.0),
        ("train_squared", "training squared loss", 1.0),
    ]
    seeds_band = summ.filter(like="_min").to_numpy() != summ.filter(like="_max").to_numpy()
    for ax, (col, label, scale) in zip(axes.flat, panels, strict=True):
        s = summ.sort_values("N")
        y = s[f"{col}_median"] * scale
        if col == "train_squared":
            y = y.clip(lower=1e-32)
        ax.plot(s.N, y, "o-", color="#0072B2", ms=3, lw=1.4)
        if seeds_band.any():
            ax.fill_between(
                s.N,
                (s[f"{col}_min"] * scale).clip(lower=1e-32),
                s[f"{col}_max"] * scale,
                color="#0072B2",
                alpha=0.2,
                lw=0,
            )
        ax.axvline(n, color="k", ls="--", lw=0.9)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, which="both")
    for ax in axes[1]:
        ax.set_xlabel("number of random Fourier features N")
    axes[0, 0].text(n, axes[0, 0].get_ylim()[1], " N = n", va="top", fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def write(res: Results, out: StageOutputs) -> None:
    cfg, data = res.record("config"), res.record("data")
    n, sigma, Ns, trivial = data["n"], data["sigma"], data["Ns"], data["trivial"]
    # the checked config with the bandwidth used and n, as the report showed it before
    out.params({**cfg, "sigma_used": sigma, "n": n})
    df = res.frame("sweep")
    summ = summarise(df)
    name = NAMES[cfg["dataset"]]
    bw_text = (
        f"σ = {fmt(sigma, 4)}, the median distance between training images (median heuristic)"
        if cfg["bandwidth"] == "median"
        else f"σ = {fmt(sigma, 4)} (set)"
    )
    out.text(
        f"{name}: n = {n} training and {data['n_test']} test images, pixels in [0, 1], "
        f"10 classes with one-hot targets. N real random Fourier features "
        f"√(2/N)·cos(⟨v, x⟩/σ + b), v ~ N(0, I), b ~ U[0, 2π), Gaussian-kernel bandwidth "
        f"{bw_text}. One fit per class on the shared features: least squares for "
        "N < n, the minimum-norm interpolant pinv(Φ)Y for N ≥ n (one SVD per N, float64). "
        f"N from {min(Ns)} to {max(Ns)} ({len(Ns)} values, dense near N = n), "
        f"{cfg['repeats']} feature draw(s); line: median, band: min–max over draws.\n\n"
        "Squared loss: mean over examples of ‖h(x) − e_y‖², summed over the 10 outputs. "
        "Norm: Frobenius norm of the N × 10 coefficient matrix. The paper's bandwidth for "
        "MNIST is [unverified]; a public reproduction used σ = 5, which the paper profile "
        "uses."
    )
    out.csv(STAGE, df)
    out.csv(f"{STAGE}_summary", summ)
    near = summ.iloc[
        sorted({int(np.abs(summ.N - f * n).argmin()) for f in (0.05, 0.5, 1, 2, 10)})
    ]
    out.table(
        near[["N", "test_zero_one_median", "test_squared_median", "train_squared_median",
              "coef_norm_median", "cond_median"]],
        caption="Medians over feature draws at N ≈ n/20, n/2, n, 2n, 10n",
        source=f"data/{PAPER}/{STAGE}_summary.csv",
    )
    out.figure(
        "curves",
        figure(summ, n, f"Random Fourier features on {name}, n = {n}, σ = {fmt(sigma, 3)}"),
        "Zero-one and squared test loss, coefficient norm and training loss "
        "against the number of features N; the dashed line marks N = n.",
    )
    metrics = {"n": n, "sigma": sigma, **{f"trivial.{k}": v for k, v in trivial.items()}}
    for _, r in near.iterrows():
        tag = f"N{int(r.N)}"
        metrics[f"test_zero_one.{tag}"] = float(r.test_zero_one_median)
        metrics[f"test_squared.{tag}"] = float(r.test_squared_median)
        metrics[f"coef_norm.{tag}"] = float(r.coef_norm_median)
    i = int(summ.test_squared_median.to_numpy().argmax())
    metrics["peak_N"] = int(summ.N.iloc[i])
    metrics["peak_test_squared"] = float(summ.test_squared_median.iloc[i])
    out.metrics(metrics)
