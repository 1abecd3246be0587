"""The random-Fourier-feature sweep of Figure 2: config, data, features, minimum-norm
fits (float64 torch, on the chosen device).

``run`` writes to ``data/belkin/rff/``: ``config.json`` (the checked config),
``data.json`` (``n``, ``n_test``, the bandwidth ``sigma`` used, the feature counts ``Ns``
and the test losses of the trivial predictors, ``trivial``) and ``sweep.csv`` (one row per
feature draw and N)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch

from nnde.errors import ParamError
from nnde.results import ResultsWriter
from nnde.stage import get_choice, get_list, get_number, get_threads, positive_float
from nnde.train import set_threads

from . import PAPER, STAGE

DATASETS = ("digits", "mnist")


@dataclass(frozen=True)
class Config:
    dataset: str
    n_train: int
    n_test: int
    seed: int
    repeats: int
    N_min_factor: float
    N_max_factor: float
    grid_points: int
    near_threshold: tuple[float, ...]
    device: str
    threads: int | str
    bandwidth: float | str  # a number, or "median" (the median heuristic)

    @property
    def seeds(self) -> list[int]:
        return list(range(self.seed, self.seed + self.repeats))


def read_config(p: Mapping) -> Config:
    sec = f"{PAPER}.{STAGE}"
    dataset = get_choice(p, "dataset", DATASETS, sec)
    n_train = get_number(p, "n_train", sec, kind=int, ge=10)
    n_test = get_number(p, "n_test", sec, kind=int, ge=10)
    seed = get_number(p, "seed", sec, kind=int, ge=0)
    repeats = get_number(p, "repeats", sec, kind=int, ge=1)
    N_min_factor = get_number(p, "N_min_factor", sec, gt=0)
    N_max_factor = get_number(p, "N_max_factor", sec, gt=1)
    grid_points = get_number(p, "grid_points", sec, kind=int, ge=2)
    near_threshold = get_list(p, "near_threshold", positive_float, sec)
    device = get_choice(p, "device", ("cpu", "cuda"), sec)
    threads = get_threads(p, "threads", sec)
    if N_min_factor >= 1:
        raise ParamError(f"{sec}.N_min_factor", f"is {N_min_factor}", "a number < 1")
    bw = p.get("bandwidth")
    bandwidth = "median" if bw == "median" else get_number(p, "bandwidth", sec, gt=0)
    if device == "cuda" and not torch.cuda.is_available():
        raise ParamError(f"{sec}.device", "is 'cuda' but no CUDA device is available", "cpu")
    return Config(dataset, n_train, n_test, seed, repeats, N_min_factor, N_max_factor,
                  grid_points, tuple(near_threshold), device, threads, bandwidth)


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


def sweep(data, Ns, sigma: float, seeds, device="cpu"):
    """Pure computation: one row per (seed, N) with the losses and norms of Figure 2 and
    the standard error of the test squared loss over the test examples."""
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
            sq_te = ((P_te - Yte) ** 2).sum(1)
            rows.append(
                {
                    "seed": seed,
                    "N": N,
                    "N_over_n": N / n,
                    "test_zero_one": float((P_te.argmax(1) != yte_t).double().mean()),
                    "test_squared": float(sq_te.mean()),
                    # the test set's sampling error of that mean (per-example spread)
                    "test_squared_se": float(sq_te.std() / math.sqrt(len(sq_te))),
                    "train_squared": float(((P_tr - Ytr) ** 2).sum(1).mean()),
                    "train_zero_one": float((P_tr.argmax(1) != Ytr.argmax(1)).double().mean()),
                    "coef_norm": float(torch.linalg.norm(A)),
                    "cond": float(s.max() / s.min()),
                }
            )
    return pd.DataFrame(rows)


def n_grid(n: int, lo: float, hi: float, points: int, near) -> list[int]:
    """Feature counts: ``points`` log-spaced from ``lo·n`` to ``hi·n`` and the multiples
    ``near`` of ``n`` (dense around the threshold)."""
    g = np.geomspace(lo * n, hi * n, points)
    g = np.concatenate([g, np.asarray(near) * n, [n]])
    return sorted({max(1, int(round(v))) for v in g})


def run(config: Config, out: ResultsWriter) -> None:
    c = config
    out.json("config", asdict(c))
    set_threads(c.threads)
    data = load_data(c.dataset, c.n_train, c.n_test, c.seed)
    n = len(data[0])
    sigma = (median_distance(data[0], seed=c.seed) if c.bandwidth == "median"
             else c.bandwidth)
    Ns = n_grid(n, c.N_min_factor, c.N_max_factor, c.grid_points, list(c.near_threshold))
    out.frame("sweep", sweep(data, Ns, sigma, c.seeds, c.device))
    out.json("data", {"n": n, "n_test": len(data[2]), "sigma": sigma, "Ns": Ns,
                      "trivial": trivial_losses(data[1], data[3])})
