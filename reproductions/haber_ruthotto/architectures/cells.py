"""One (architecture, depth) cell of the sweep: its members (data sets × seeds) trained
side by side and measured — accuracy, M, gradient norms, eigenvalues h λ against the
integrator's region, and for antisym_rk4 the same γ = 0 weights under forward Euler."""

from __future__ import annotations

import itertools
import time

import numpy as np
import torch
from torch import nn

from nnde.data.toy2d import toy2d_split
from nnde.errors import DivergenceError
from nnde.train import TrainConfig, seed_everything, set_threads, train_classifier

from . import PAPER, STAGE
from .model import (
    ARCHS,
    Packed,
    block_stability,
    build_stack,
    integrator,
    layer_eigenvalues,
    member_grad_norms,
)
from .stability import eigen_stats, predicted_growth


def member_data(datasets, seeds, n_train, n_val, w):
    """Packed tensors: x (n, E·w), labels (n, E); member e = (data set, seed)."""
    members, xs_t, ys_t, xs_v, ys_v = [], [], [], [], []
    for d, s in itertools.product(datasets, seeds):
        sp = toy2d_split(d, n_train, n_val, seed=s, pad_to=w)
        members.append((d, s))
        xs_t.append(sp.x_train)
        ys_t.append(sp.y_train)
        xs_v.append(sp.x_val)
        ys_v.append(sp.y_val)
    classes = [5 if d == "peaks" else 2 for d, _ in members]
    return (members, classes, torch.cat(xs_t, 1), torch.stack(ys_t, 1), torch.cat(xs_v, 1),
            torch.stack(ys_v, 1))


def accuracy(packed, x, y) -> np.ndarray:
    with torch.no_grad():
        return (packed(x).argmax(1) == y).double().mean(0).numpy()


def majority(yv: torch.Tensor) -> list[float]:
    """Per member, the trivial baseline: the share of its most frequent validation class."""
    return [float(torch.bincount(yv[:, e]).max()) / len(yv) for e in range(yv.shape[1])]


def gamma_of(arch: str, cfg) -> float:
    return cfg.gamma if arch == "antisym_euler" else 0.0


def eig_points(xv64: torch.Tensor, cfg) -> torch.Tensor:
    """The validation points whose layer Jacobians are measured (evenly spaced)."""
    P = min(cfg.eig_points, len(xv64))
    return xv64[torch.linspace(0, len(xv64) - 1, P).long()]


def run_cell(arch: str, depth: int, cfg, keep: bool = False) -> dict:
    """Train the E = |data sets| × |seeds| members of one (architecture, depth) cell side
    by side and measure them. Returns {"rows": [...], "extra": {...}} (picklable)."""
    set_threads(cfg.threads, cfg.workers)
    w, T, E = cfg.width, cfg.T, len(cfg.datasets) * len(cfg.seeds)
    h = T / depth
    members, classes, xt, yt, xv, yv = member_data(
        cfg.datasets, cfg.seeds, cfg.n_train, cfg.n_val, w)
    seed = cfg.seeds[0] * 100_003 + list(ARCHS).index(arch) * 10_007 + depth
    seed_everything(seed)
    stack = build_stack(arch, E * w, depth, h, cfg.gamma, cfg.higher)
    packed = Packed(stack, E, w, classes)
    g0_first, g0_last = member_grad_norms(packed, xt, yt)

    alpha = cfg.smooth
    Ks = [f.K for f in stack.fields]

    def loss_fn(out, y):
        loss = nn.functional.cross_entropy(out, y) * E  # Σ over members of their means
        if alpha and depth > 1:
            th = torch.stack(Ks)
            loss = loss + alpha / h * (th[1:] - th[:-1]).square().sum()
        return loss

    tc = TrainConfig(epochs=cfg.epochs, batch_size=min(cfg.batch_size, len(xt)),
                     lr=cfg.lr, optimizer="adam", seed=seed, stage=f"{PAPER}.{STAGE}",
                     model_name=f"{arch}, N={depth}", progress=False,
                     eval_batch_size=max(len(xt), len(xv)), eval_train=False)
    diverged = ""
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        hist = train_classifier(packed, xt, yt, tc, loss_fn=loss_fn)
        seconds = hist.seconds
    except DivergenceError as exc:  # a measurement here: where the scheme breaks
        diverged, seconds = str(exc), time.perf_counter() - t0
    cpu_seconds = time.process_time() - c0
    c1 = time.process_time()
    g_first, g_last = member_grad_norms(packed, xt, yt)
    acc_t, acc_v = accuracy(packed, xt, yt), accuracy(packed, xv, yv)
    base = majority(yv)

    # diagnostics in float64 on the trained weights
    st64 = build_stack(arch, E * w, depth, h, cfg.gamma, cfg.higher).double()
    st64.load_state_dict(stack.state_dict())
    xv64 = xv.double()
    ratios = block_stability(st64, xv64, E, w, cfg.eps, cfg.n_perturbations, seed)
    M, M_min = ratios.max(0).values.numpy(), ratios.min(0).values.numpy()
    pts = eig_points(xv64, cfg)
    method = integrator(arch, cfg.higher)
    hlam = layer_eigenvalues(arch, st64, pts, E, w, gamma_of(arch, cfg))
    logg, outside = predicted_growth(method, hlam)
    eig = eigen_stats(hlam / h)
    euler = _under_euler(st64, xv64, pts, cfg, seed) if arch == "antisym_rk4" else {}
    extra = {}
    if keep:
        extra = {"hlam": hlam, "state": {k: v.clone() for k, v in packed.state_dict().items()},
                 "members": members, "classes": classes}
    rows = []
    cpu_diag = time.process_time() - c1
    for e, (d, s) in enumerate(members):
        row = {
            "arch": arch, "depth": depth, "h": h, "dataset": d, "seed": s,
            "integrator": method, "train_acc": acc_t[e], "val_acc": acc_v[e],
            "majority_val": base[e],
            "M": M[e], "M_min": M_min[e], "M_median": float(ratios[:, e].median()),
            "grad_first_init": g0_first[e], "grad_last_init": g0_last[e],
            "grad_first": g_first[e], "grad_last": g_last[e],
            "max_abs_hlam": float(np.abs(hlam[:, :, e]).max()),
            "frac_outside_region": outside[e],
            "predicted_growth": float(np.exp(np.median(logg[:, e]))),
            "seconds_cell": seconds, "cpu_seconds_cell": cpu_seconds,
            "cpu_seconds_diag": cpu_diag, "diverged": diverged,
            "gamma": gamma_of(arch, cfg), **{k: float(v[e]) for k, v in eig.items()},
        }
        for k, v in euler.items():
            row[k] = float(v[e])
        rows.append(row)
    return {"rows": rows, "extra": extra, "arch": arch, "depth": depth}


def _under_euler(st64, xv64, pts, cfg, seed) -> dict[str, np.ndarray]:
    """The γ = 0 antisymmetric weights trained with the higher-order step, run under
    forward Euler: measured M and the predicted growth Π(1 + h²|λ|²)^½ per member."""
    E, w = len(cfg.datasets) * len(cfg.seeds), cfg.width
    eu = build_stack("antisym_euler", E * w, st64.depth, st64.h, 0.0, cfg.higher).double()
    eu.load_state_dict(st64.state_dict())
    r_e = block_stability(eu, xv64, E, w, cfg.eps, cfg.n_perturbations, seed)
    hl_e = layer_eigenvalues("antisym_euler", eu, pts, E, w, 0.0)
    lg_e, _ = predicted_growth("euler", hl_e)
    return {"M_euler": r_e.max(0).values.numpy(), "P_euler": np.exp(np.median(lg_e, 0)),
            "P_euler_max": np.exp(lg_e.max(0))}
