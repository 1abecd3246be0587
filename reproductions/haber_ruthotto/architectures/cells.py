"""One (architecture, depth) cell of the sweep: its members (data sets × seeds) trained
side by side and measured — accuracy, M, gradient norms, eigenvalues h λ against the
integrator's region, and for antisym_rk4 the same γ = 0 weights under forward Euler."""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import torch
from torch import nn

from nnde.data.toy2d import toy2d_split
from nnde.errors import DivergenceError
from nnde.train import Plateau, PlateauState, check_finite, seed_everything, set_threads

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


def smooth_of(arch: str, cfg) -> float:
    """α of the smoothness-in-time penalty: ``smooth_antisym`` for the antisymmetric nets
    (the authors' EResNN_SwissRollAntiSym: 5e-4), ``smooth`` for the others (5e-3)."""
    return cfg.smooth_antisym if arch.startswith("antisym") else cfg.smooth


def objective(packed, E: int, h: float, alpha: float):
    """The training objective: Σ over members of their mean cross-entropy, plus the
    authors' regulariser of the weights' time derivative, h·α Σ_k ‖(θ_{k+1} − θ_k)/h‖²
    = α/h Σ_k ‖θ_{k+1} − θ_k‖² over K and b (per member, since the blocks are
    independent)."""
    fields = packed.stack.fields

    def loss_fn(out, y):
        loss = nn.functional.cross_entropy(out, y) * E
        if alpha and len(fields) > 1:
            for name in ("K", "b"):
                if getattr(fields[0], name) is None:
                    continue
                th = torch.stack([getattr(f, name) for f in fields])
                loss = loss + alpha / h * (th[1:] - th[:-1]).square().sum()
        return loss

    return loss_fn


def init_ratio_median(arch, depth, h, cfg, classes, xt, yt, seed, first) -> np.ndarray:
    """Per member, the median over ``cfg.init_draws`` draws of the initial weights (the
    trained net's own initial draw ``first`` and fresh ones, seeded from ``seed``) of
    ‖∇θ_first‖ / ‖∇θ_last‖: the ratio at initialisation is a property of the weight
    distribution, and one draw per member is too noisy to compare depths."""
    E, w = len(classes), cfg.width
    rs = [np.asarray(first, dtype=float)]
    for r in range(1, cfg.init_draws):
        torch.manual_seed(seed + 7_919 * r)
        pk = Packed(build_stack(arch, E * w, depth, h, cfg.gamma, cfg.higher), E, w, classes)
        f, l_ = member_grad_norms(pk, xt, yt)
        rs.append(np.asarray(f, dtype=float) / np.asarray(l_, dtype=float))
    return np.median(np.stack(rs), axis=0)


def fit(packed, xt, yt, loss_fn, steps: int, lr: float, plateau: Plateau | None,
        name: str) -> dict:
    """Full-batch Adam on ``loss_fn`` until the ``plateau`` criterion, read on the
    objective of every step, is met (``steps``: the cap; None: a fixed number of steps).
    Returns steps_run, converged (None for a fixed budget), final_loss and stop_reason."""
    opt = torch.optim.Adam(packed.parameters(), lr=lr)
    state = PlateauState(plateau) if plateau is not None else None
    loss = torch.tensor(math.nan)
    for step in range(1, steps + 1):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(packed(xt), yt)
        check_finite(loss, step=step, stage=f"{PAPER}.{STAGE}", model=name)
        loss.backward()
        opt.step()
        if state is not None and state.update(float(loss.detach()), opt):
            return {"steps_run": step, "converged": True, "final_loss": float(loss.detach()),
                    "stop_reason": state.reason}
    return {"steps_run": steps, "converged": None if state is None else False,
            "final_loss": float(loss.detach()), "stop_reason": "cap" if state else "budget"}


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

    loss_fn = objective(packed, E, h, smooth_of(arch, cfg))
    diverged = ""
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        fitted = fit(packed, xt, yt, loss_fn, cfg.epochs, cfg.lr, cfg.plateau,
                     f"{arch}, N={depth}")
    except DivergenceError as exc:  # a measurement here: where the scheme breaks
        diverged = str(exc)
        fitted = {"steps_run": cfg.epochs, "converged": False, "final_loss": math.nan,
                  "stop_reason": "diverged"}
    seconds = time.perf_counter() - t0
    cpu_seconds = time.process_time() - c0
    c1 = time.process_time()
    g_first, g_last = member_grad_norms(packed, xt, yt)
    r_init = init_ratio_median(arch, depth, h, cfg, classes, xt, yt, seed,
                               g0_first / g0_last)
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
            "grad_ratio_init_median": float(r_init[e]),
            "grad_first": g_first[e], "grad_last": g_last[e],
            "max_abs_hlam": float(np.abs(hlam[:, :, e]).max()),
            "frac_outside_region": outside[e],
            "predicted_growth": float(np.exp(np.median(logg[:, e]))),
            "seconds_cell": seconds, "cpu_seconds_cell": cpu_seconds,
            "steps_run": fitted["steps_run"], "converged": fitted["converged"],
            "final_objective": fitted["final_loss"], "stop_reason": fitted["stop_reason"],
            "smooth": smooth_of(arch, cfg),
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
