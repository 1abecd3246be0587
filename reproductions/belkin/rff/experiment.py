"""Belkin, Hsu, Ma, Mandal (2019), Figure 2: double descent with random Fourier features.

The model is ``h(x) = Σ_k a_k φ_k(x)`` with ``N`` random Fourier features
``φ_k(x) = sqrt(2/N) cos(⟨v_k, x⟩ / σ + b_k)``, ``v_k ~ N(0, I)``, ``b_k ~ U[0, 2π)``, so that
``Σ_k φ_k(x) φ_k(x') → exp(−‖x − x'‖² / (2σ²))`` (the Gaussian kernel) as ``N → ∞``.
Labels are one-hot; one least-squares fit per class on the shared features, so the
``n × N`` feature matrix ``Φ`` has ``n`` rows and the interpolation threshold sits at
``N = n``. Below it the fit is least squares; at and above it, the minimum-norm
interpolant ``A = pinv(Φ) Y`` — the limit of gradient descent from zero. The features for
a smaller ``N`` are the first ``N`` of one draw (nested), per seed.

The paper writes the features as complex exponentials ``exp(i⟨v, x⟩)``; we use the real
cosine form above (same kernel), for which the threshold is exactly at ``N = n`` real
parameters per class.

Per ``N`` the stage computes one thin SVD of ``Φ`` (through a QR of the tall side, then
the SVD of the small triangular factor, in float64 with ``torch.linalg``, on the chosen
device), and measures: test zero-one loss, test and training squared loss (mean over
examples of ``‖h(x) − e_y‖²``, summed over the 10 outputs) and the ℓ2 (Frobenius) norm of
the ``N × 10`` coefficient matrix.

Data: the small profile uses scikit-learn's bundled 8×8 digits (``nnde.data.digits_split``,
pixels in [0, 1]); the paper profile uses MNIST (``nnde.data.load_mnist``, pixels scaled
to [0, 1]) with ``n = 10⁴``. The bandwidth ``σ`` is either a number (σ = 5 for MNIST, the
value a public reproduction used; the paper's own is [unverified]) or ``median``: the
median Euclidean distance between training images (the median heuristic), fixed before
any fit is made.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from nnde.errors import ParamError
from nnde.stage import (
    StageOutputs,
    check,
    fmt,
    get_choice,
    get_list,
    get_number,
    get_threads,
    load_params,
    positive_float,
    run_main,
)
from nnde.train import set_threads

PAPER, STAGE = "belkin", "rff"
DATASETS = ("digits", "mnist")
#: The peak counts as "at the threshold" when its location is within this factor of n.
PEAK_FACTOR = 1.5
#: "Training loss ≈ 0" past the threshold: largest training squared loss below this.
TRAIN_ZERO = 1e-6
#: Floor of the comparisons between fits: the fit a comparison rests on has at most this
#: fraction of the test loss of the trivial predictor (see :func:`trivial_losses`).
FLOOR_FRACTION = 0.5
#: Every claim id make_claims can produce.
CLAIM_IDS = (
    "rff_peak_at_threshold",
    "rff_second_descent_squared",
    "rff_second_descent_zero_one",
    "rff_train_zero",
    "rff_norm_peaks_at_threshold",
)


# --------------------------------------------------------------------------- data
def load_data(dataset: str, n_train: int, n_test: int, seed: int, root: str = "data/raw"):
    """``(x_train, y_train, x_test, y_test)`` as float64 ``(n, d)`` arrays in [0, 1] and
    int64 labels; a seeded subset of ``n_train`` training and ``n_test`` test images."""
    rng = np.random.default_rng(seed)
    if dataset == "digits":
        from nnde.data import digits_split

        s = digits_split(seed, val_frac=0.0, test_frac=0.4)
        xtr, ytr, xte, yte = s.x_train, s.y_train, s.x_test, s.y_test
    elif dataset == "mnist":
        from nnde.data import load_mnist

        xtr, ytr = load_mnist(root, "train")
        xte, yte = load_mnist(root, "test")
        xtr, xte = xtr.double() / 255.0, xte.double() / 255.0
    else:
        raise ParamError("dataset", f"is {dataset!r}", ", ".join(DATASETS))
    xtr = xtr.reshape(len(xtr), -1).double().numpy()
    xte = xte.reshape(len(xte), -1).double().numpy()
    ytr, yte = ytr.numpy(), yte.numpy()
    if n_train > len(xtr) or n_test > len(xte):
        key = "n_train" if n_train > len(xtr) else "n_test"
        raise ParamError(
            f"{PAPER}.{STAGE}.{key}",
            f"asks for {n_train}/{n_test} train/test images but {dataset} has "
            f"{len(xtr)}/{len(xte)}",
        )
    i = np.sort(rng.permutation(len(xtr))[:n_train])
    j = np.sort(rng.permutation(len(xte))[:n_test])
    return xtr[i], ytr[i], xte[j], yte[j]


def median_distance(x, max_points: int = 2000, seed: int = 0) -> float:
    """The median heuristic: median Euclidean distance between distinct rows of ``x``
    (on a seeded subset of at most ``max_points`` rows)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) > max_points:
        x = x[np.random.default_rng(seed).permutation(len(x))[:max_points]]
    sq = (x**2).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0)
    iu = np.triu_indices(len(x), k=1)
    return float(np.median(np.sqrt(d2[iu])))


# --------------------------------------------------------------------------- model
def draw_features(d: int, n_max: int, seed: int, device="cpu"):
    """Directions ``V`` (d × n_max, standard normal) and phases ``b`` (uniform on [0, 2π))."""
    g = torch.Generator().manual_seed(seed)
    V = torch.randn(d, n_max, generator=g, dtype=torch.float64)
    b = 2 * math.pi * torch.rand(n_max, generator=g, dtype=torch.float64)
    return V.to(device), b.to(device)


def features(x, V, b, sigma: float, N: int):
    """``sqrt(2/N) cos(x V[:, :N] / σ + b[:N])``: the first ``N`` random Fourier features."""
    return math.sqrt(2.0 / N) * torch.cos(x @ V[:, :N] / sigma + b[:N])


def min_norm_solve(Phi, Y, rcond: float | None = None):
    """``pinv(Φ) Y`` by one thin SVD: least squares if ``Φ`` is tall, the minimum-norm
    solution if wide. The SVD goes through a QR of the long side (``Φ = QR`` or
    ``Φᵀ = QR``), so only a ``min(n, N)``-square matrix is decomposed. Singular values
    below ``rcond · σ_max`` (default ``max(n, N) · eps``, numpy's) are treated as 0.
    Returns ``(A, singular values)``."""
    n, N = Phi.shape
    if N >= n:
        Q, R = torch.linalg.qr(Phi.T)  # Φ = Rᵀ Qᵀ
        U, s, Vh = torch.linalg.svd(R.T)
        left, right = U, Q @ Vh.T
    else:
        Q, R = torch.linalg.qr(Phi)  # Φ = Q R
        U, s, Vh = torch.linalg.svd(R)
        left, right = Q @ U, Vh.T
    if rcond is None:
        rcond = max(n, N) * torch.finfo(Phi.dtype).eps
    keep = s > rcond * s.max()
    inv = torch.where(keep, 1.0 / torch.where(keep, s, torch.ones_like(s)), torch.zeros_like(s))
    return right @ (inv[:, None] * (left.T @ Y)), s


def one_hot(y, classes: int = 10):
    return np.eye(classes)[np.asarray(y)]


def trivial_losses(ytr, yte, classes: int | None = None) -> dict:
    """Test losses of the predictors that ignore the image, the floors of the comparisons:
    ``test_zero_one`` of predicting the training set's majority class, ``test_squared``
    of predicting the training class frequencies (the least-squares constant fit to the
    one-hot targets)."""
    ytr, yte = np.asarray(ytr), np.asarray(yte)
    classes = classes or int(max(ytr.max(), yte.max())) + 1
    freq = np.bincount(ytr, minlength=classes) / len(ytr)
    return {
        "test_zero_one": float(np.mean(yte != int(np.argmax(freq)))),
        "test_squared": float(((freq[None, :] - one_hot(yte, classes)) ** 2).sum(1).mean()),
    }


def sweep(data, Ns, sigma: float, seeds, device="cpu"):
    """Pure computation: one row per (seed, N) with the losses and norms of Figure 2."""
    xtr, ytr, xte, yte = data
    classes = int(max(ytr.max(), yte.max())) + 1
    Xtr = torch.as_tensor(xtr, dtype=torch.float64, device=device)
    Xte = torch.as_tensor(xte, dtype=torch.float64, device=device)
    Ytr = torch.as_tensor(one_hot(ytr, classes), device=device)
    Yte = torch.as_tensor(one_hot(yte, classes), device=device)
    yte_t = torch.as_tensor(yte, device=device)
    n = len(xtr)
    rows = []
    for seed in seeds:
        V, b = draw_features(Xtr.shape[1], max(Ns), seed, device)
        for N in Ns:
            Phi = features(Xtr, V, b, sigma, N)
            A, s = min_norm_solve(Phi, Ytr)
            P_te = features(Xte, V, b, sigma, N) @ A
            P_tr = Phi @ A
            rows.append(
                {
                    "seed": seed,
                    "N": N,
                    "N_over_n": N / n,
                    "test_zero_one": float((P_te.argmax(1) != yte_t).double().mean()),
                    "test_squared": float(((P_te - Yte) ** 2).sum(1).mean()),
                    "train_squared": float(((P_tr - Ytr) ** 2).sum(1).mean()),
                    "train_zero_one": float((P_tr.argmax(1) != Ytr.argmax(1)).double().mean()),
                    "coef_norm": float(torch.linalg.norm(A)),
                    "cond": float(s.max() / s.min()),
                }
            )
    return pd.DataFrame(rows)


def n_grid(n: int, lo: float, hi: float, points: int, near: list[float]) -> list[int]:
    """Feature counts: ``points`` log-spaced from ``lo·n`` to ``hi·n`` and the multiples
    ``near`` of ``n`` (dense around the threshold)."""
    g = np.geomspace(lo * n, hi * n, points)
    g = np.concatenate([g, np.asarray(near) * n, [n]])
    return sorted({max(1, int(round(v))) for v in g})


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    cols = ["test_zero_one", "test_squared", "train_squared", "coef_norm", "cond"]
    g = df.groupby("N")[cols]
    return pd.concat(
        [g.median().add_suffix("_median"), g.min().add_suffix("_min"), g.max().add_suffix("_max")],
        axis=1,
    ).reset_index()


# --------------------------------------------------------------------------- claims
def make_claims(df: pd.DataFrame, n: int, dataset: str, trivial: dict):
    """The claims of Figure 2 from the sweep; ``trivial`` holds the test losses of the
    trivial predictors (:func:`trivial_losses`), the floors of the comparisons."""
    summ = summarise(df).sort_values("N")
    Ns = summ.N.to_numpy()
    claims = []
    paper_note = (
        ""
        if dataset == "mnist"
        else (f"Small profile: 8×8 digits with n = {n}, not MNIST with n = 10⁴.")
    )
    sq = summ.test_squared_median.to_numpy()
    i = int(np.argmax(sq))
    zo = summ.test_zero_one_median.to_numpy()
    iz = int(np.argmax(zo))
    claims.append(
        check(
            "rff_peak_at_threshold",
            "The test loss peaks at the interpolation threshold N = n",
            paper="peak at N = n = 10⁴ (Fig. 2, MNIST)",
            ours=f"squared loss peaks at N = {int(Ns[i])} = {fmt(Ns[i] / n, 3)} n "
            f"({fmt(sq[i])}); zero-one loss peaks at N = {int(Ns[iz])} = "
            f"{fmt(Ns[iz] / n, 3)} n ({fmt(zo[iz], 3)})",
            rule=f"argmax over N of the median test squared loss within a factor "
            f"{PEAK_FACTOR} of n; 'partly' if only the zero-one peak is",
            passed=n / PEAK_FACTOR <= Ns[i] <= n * PEAK_FACTOR,
            partly=n / PEAK_FACTOR <= Ns[iz] <= n * PEAK_FACTOR,
            note=paper_note,
        )
    )
    under, over = summ[summ.N < n], summ[summ.N > n]
    for key, label, paper in (
        ("test_squared", "squared", "falls past N = n; lowest at the largest N (Fig. 2)"),
        ("test_zero_one", "zero-one", "falls past N = n; lowest at the largest N (Fig. 2)"),
    ):
        if not (len(under) and len(over)):
            break
        col = f"{key}_median"
        peak = float(summ[col].max())
        end = float(summ[col].iloc[-1])
        bu = under.loc[under[col].idxmin()]
        bo = over.loc[over[col].idxmin()]
        falls = end < 0.5 * peak
        better = bo[col] < bu[col]
        triv = float(trivial[key])
        triv_name = (
            "predicting the training majority class"
            if key == "test_zero_one"
            else "predicting the training class frequencies"
        )
        claims.append(
            check(
                f"rff_second_descent_{label.replace('-', '_')}",
                f"Past the threshold the test {label} loss descends again, to below the best "
                "under-parameterised value",
                paper=paper,
                ours=f"peak {fmt(peak)} → {fmt(end)} at N = {int(Ns[-1])} "
                f"({fmt(Ns[-1] / n, 3)} n); best under-parameterised {fmt(bu[col])} "
                f"(N = {int(bu.N)}), best over-parameterised {fmt(bo[col])} (N = {int(bo.N)})"
                f"; {triv_name}: {fmt(triv)}",
                rule="loss at the largest N < half the peak (second descent) AND best "
                "over-parameterised < best under-parameterised; 'partly' if only the first",
                passed=falls and better,
                partly=falls,
                floor=f"the best under-parameterised fit has ≤ {FLOOR_FRACTION:g} × the test "
                f"{label} loss of {triv_name} (features that learn nothing make the "
                "comparison noise)",
                competent=float(bu[col]) <= FLOOR_FRACTION * triv,
                note=paper_note,
            )
        )
    past = df[df.N >= n]
    if len(past):
        worst = past.loc[past.train_squared.idxmax()]
        claims.append(
            check(
                "rff_train_zero",
                "At and past the threshold the training loss is ≈ 0 (interpolation)",
                paper="training loss 0 for N ≥ n (Fig. 2)",
                ours=f"largest training squared loss for N ≥ n: {fmt(worst.train_squared, 3)} "
                f"(N = {int(worst.N)})",
                rule=f"max training squared loss over seeds and N ≥ n < {TRAIN_ZERO:g}",
                passed=worst.train_squared < TRAIN_ZERO,
                kind="check",
                note="An identity: with N ≥ n random features of distinct images the n × N "
                "feature matrix has rank n (almost surely), so the minimum-norm "
                "least-squares fit solves Φ A = Y. It tests our solver, not the paper.",
            )
        )
    nm = summ.coef_norm_median.to_numpy()
    j = int(np.argmax(nm))
    claims.append(
        check(
            "rff_norm_peaks_at_threshold",
            "The coefficient norm peaks at the threshold and decreases past it",
            paper="ℓ2 norm largest at N = n, decreasing after (Fig. 2)",
            ours=f"median ‖A‖ peaks at N = {int(Ns[j])} = {fmt(Ns[j] / n, 3)} n "
            f"({fmt(nm[j])}); {fmt(nm[-1])} at N = {int(Ns[-1])}",
            rule=f"argmax within a factor {PEAK_FACTOR} of n AND norm at the largest N < "
            "norm at the peak / 2",
            passed=n / PEAK_FACTOR <= Ns[j] <= n * PEAK_FACTOR and nm[-1] < nm[j] / 2,
            note=paper_note,
        )
    )
    return claims


# --------------------------------------------------------------------------- figure
def figure(summ: pd.DataFrame, n: int, title: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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


# --------------------------------------------------------------------------- main
def read_config(p: dict) -> dict:
    sec = f"{PAPER}.{STAGE}"
    cfg = {
        "dataset": get_choice(p, "dataset", DATASETS, sec),
        "n_train": get_number(p, "n_train", sec, kind=int, ge=10),
        "n_test": get_number(p, "n_test", sec, kind=int, ge=10),
        "seed": get_number(p, "seed", sec, kind=int, ge=0),
        "repeats": get_number(p, "repeats", sec, kind=int, ge=1),
        "N_min_factor": get_number(p, "N_min_factor", sec, gt=0),
        "N_max_factor": get_number(p, "N_max_factor", sec, gt=1),
        "grid_points": get_number(p, "grid_points", sec, kind=int, ge=2),
        "near_threshold": get_list(p, "near_threshold", positive_float, sec),
        "device": get_choice(p, "device", ("cpu", "cuda"), sec),
        "threads": get_threads(p, "threads", sec),
    }
    if cfg["N_min_factor"] >= 1:
        raise ParamError(f"{sec}.N_min_factor", f"is {cfg['N_min_factor']}", "a number < 1")
    bw = p.get("bandwidth")
    if bw == "median":
        cfg["bandwidth"] = "median"
    else:
        cfg["bandwidth"] = get_number(p, "bandwidth", sec, gt=0)
    if cfg["device"] == "cuda" and not torch.cuda.is_available():
        raise ParamError(f"{sec}.device", "is 'cuda' but no CUDA device is available", "cpu")
    return cfg


def main() -> None:
    cfg = read_config(load_params(f"{PAPER}.{STAGE}"))
    set_threads(cfg["threads"])
    data = load_data(cfg["dataset"], cfg["n_train"], cfg["n_test"], cfg["seed"])
    n = len(data[0])
    sigma = median_distance(data[0]) if cfg["bandwidth"] == "median" else cfg["bandwidth"]
    Ns = n_grid(
        n, cfg["N_min_factor"], cfg["N_max_factor"], cfg["grid_points"], cfg["near_threshold"]
    )
    seeds = list(range(cfg["seed"], cfg["seed"] + cfg["repeats"]))
    df = sweep(data, Ns, sigma, seeds, cfg["device"])
    summ = summarise(df)
    trivial = trivial_losses(data[1], data[3])
    claims = make_claims(df, n, cfg["dataset"], trivial)
    name = {"digits": "8×8 digits", "mnist": "MNIST"}[cfg["dataset"]]
    bw_text = (
        f"σ = {fmt(sigma, 4)}, the median distance between training images (median heuristic)"
        if cfg["bandwidth"] == "median"
        else f"σ = {fmt(sigma, 4)} (set)"
    )
    with StageOutputs(PAPER, STAGE, "Figure 2: random Fourier features") as out:
        out.params({**cfg, "sigma_used": sigma, "n": n})
        out.text(
            f"{name}: n = {n} training and {len(data[2])} test images, pixels in [0, 1], "
            f"10 classes with one-hot targets. N real random Fourier features "
            f"√(2/N)·cos(⟨v, x⟩/σ + b), v ~ N(0, I), b ~ U[0, 2π), Gaussian-kernel bandwidth "
            f"{bw_text}. One fit per class on the shared features: least squares for "
            "N < n, the minimum-norm interpolant pinv(Φ)Y for N ≥ n (one SVD per N, float64). "
            f"N from {min(Ns)} to {max(Ns)} ({len(Ns)} values, dense near N = n), "
            f"{len(seeds)} feature draw(s); line: median, band: min–max over draws.\n\n"
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
            near[
                [
                    "N",
                    "test_zero_one_median",
                    "test_squared_median",
                    "train_squared_median",
                    "coef_norm_median",
                    "cond_median",
                ]
            ],
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
        out.claims(claims)


if __name__ == "__main__":
    run_main(main, f"{PAPER}.{STAGE}")
