"""Multi-level training as in the authors' code, and one weight function θ(t) sampled at
finer and finer h (no training)."""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from nnde.errors import DivergenceError
from nnde.train import seed_everything, set_threads

from .cells import (
    accuracy,
    eig_points,
    fit,
    gamma_of,
    majority,
    member_data,
    objective,
    smooth_of,
)
from .model import (
    ARCHS,
    Packed,
    block_stability,
    build_stack,
    integrator,
    layer_eigenvalues,
    member_grad_norms,
)
from .stability import EIG_TOL, growth_factor, predicted_growth


def resample_weights(src: nn.Module, dst: nn.Module) -> None:
    """Copy into ``dst`` (N_dst layers on [0, T]) the weight function θ(t) of ``src``
    (θ_k at t_k = k T / N_src), linearly interpolated in time at t_j = j T / N_dst and held
    at θ_{N_src − 1} past the last layer's time. With N_dst = 2 N_src this is the
    prolongation of multi-level training (h halved); other N_dst sample one θ(t) on a finer
    or coarser grid."""
    n0, n1 = src.depth, dst.depth
    pos = torch.arange(n1, dtype=torch.float64) * (n0 / n1)  # t_j / h_src
    k0 = pos.floor().long().clamp(max=n0 - 1)
    k1 = (k0 + 1).clamp(max=n0 - 1)
    frac = (pos - k0).clamp(0, 1)
    with torch.no_grad():
        for name in ("K", "b"):
            if getattr(src.fields[0], name) is None:
                continue
            th = torch.stack([getattr(f, name).detach().double() for f in src.fields])
            fw = frac.view(-1, *[1] * (th.dim() - 1))
            new = (1 - fw) * th[k0] + fw * th[k1]
            for f, v in zip(dst.fields, new, strict=True):
                getattr(f, name).copy_(v)


def ml_levels(cfg, to: int | None = None) -> list[int]:
    """Depths of multi-level training: the start depth doubled up to ``multilevel_depth``
    (or up to ``to``)."""
    n, out = cfg.ml_start, []
    while n <= (to or cfg.ml_depth):
        out.append(n)
        n *= 2
    return out


def run_multilevel(arch: str, cfg) -> dict:
    """Multi-level training as in the authors' code: train ``ml_start`` layers, then
    double the layers, halve h, interpolate the weights linearly in time
    (:func:`resample_weights`) and continue training, up to ``multilevel_depth``. Then
    :func:`refine` the finest level's θ(t). Returns {"levels": rows, "refine": rows}."""
    set_threads(cfg.threads, cfg.workers)
    w, T, E = cfg.width, cfg.T, len(cfg.datasets) * len(cfg.seeds)
    members, classes, xt, yt, xv, yv = member_data(
        cfg.datasets, cfg.seeds, cfg.n_train, cfg.n_val, w)
    seed = cfg.seeds[0] * 100_003 + list(ARCHS).index(arch) * 10_007 + 7
    seed_everything(seed)
    base = majority(yv)
    packed, rows, cpu, wall, diverged = None, [], 0.0, 0.0, ""
    for level, N in enumerate(ml_levels(cfg)):
        stack = build_stack(arch, E * w, N, T / N, cfg.gamma, cfg.higher)
        new = Packed(stack, E, w, classes)
        if packed is not None:
            resample_weights(packed.stack, stack)
            new.head.load_state_dict(packed.head.state_dict())
        packed = new
        epochs = cfg.ml_epochs_first if level == 0 else cfg.ml_epochs_level
        t0, c0 = time.perf_counter(), time.process_time()
        if not diverged:
            try:
                fit(packed, xt, yt, objective(packed, E, T / N, smooth_of(arch, cfg)),
                    epochs, cfg.lr, None, f"{arch} multi-level, N={N}")
            except DivergenceError as exc:
                diverged = str(exc)
        cpu += time.process_time() - c0
        wall += time.perf_counter() - t0
        acc_t, acc_v = accuracy(packed, xt, yt), accuracy(packed, xv, yv)
        g_first, g_last = member_grad_norms(packed, xt, yt)
        torch.manual_seed(seed + level)  # a fresh net of this depth: the initial ratio
        fresh = Packed(build_stack(arch, E * w, N, T / N, cfg.gamma, cfg.higher),
                       E, w, classes)
        i_first, i_last = member_grad_norms(fresh, xt, yt)
        for e, (d, s) in enumerate(members):
            rows.append({"arch": arch, "depth": N, "level": level, "epochs": epochs,
                         "dataset": d, "seed": s, "train_acc": acc_t[e], "val_acc": acc_v[e],
                         "majority_val": base[e], "cpu_seconds": cpu, "seconds": wall,
                         "grad_first": g_first[e], "grad_last": g_last[e],
                         "grad_first_init": i_first[e], "grad_last_init": i_last[e],
                         "diverged": diverged})
    refined = refine(arch, packed, cfg, members, classes, xt, yt, xv, seed)
    return {"levels": rows, "refine": refined}


def refine(arch, packed, cfg, members, classes, xt, yt, xv, seed) -> list[dict]:
    """The finest level's weights, linearly interpolated in time, as one weight function
    θ(t), sampled at N = ml_start, 2 ml_start, … ``multilevel_refine_to`` (no training):
    M, the eigenvalues h λ against the region and the gradient norms, per member — the
    discretisations of one θ(t) as h → 0. (Below the finest trained depth a sample skips
    weights, so only the finer samples show the limit.)"""
    w, T, E = cfg.width, cfg.T, len(members)
    method = integrator(arch, cfg.higher)
    fine = build_stack(arch, E * w, packed.stack.depth, packed.stack.h, cfg.gamma,
                       cfg.higher).double()
    fine.load_state_dict(packed.stack.state_dict())
    xv64 = xv.double()
    pts = eig_points(xv64, cfg)
    out, c1 = [], time.process_time()
    for N in ml_levels(cfg, cfg.ml_refine_to):
        st = build_stack(arch, E * w, N, T / N, cfg.gamma, cfg.higher).double()
        resample_weights(fine, st)
        ratios = block_stability(st, xv64, E, w, cfg.eps, cfg.n_perturbations, seed)
        hlam = layer_eigenvalues(arch, st, pts, E, w, gamma_of(arch, cfg))
        _, outside = predicted_growth(method, hlam)
        # modes the ODE does not amplify (Re λ ≤ 0) that the step does (|R(hλ)| > 1)
        with np.errstate(all="ignore"):
            g = growth_factor(method, hlam)
        tol = EIG_TOL * np.abs(hlam).max()
        only = ((hlam.real <= tol) & (g > 1 + 1e-6)).mean(axis=(0, 1, 3))
        # gradient norms of the first and last layers: the sampled θ(t), and a fresh net
        pk = Packed(build_stack(arch, E * w, N, T / N, cfg.gamma, cfg.higher),
                    E, w, classes)
        i_first, i_last = member_grad_norms(pk, xt, yt)
        resample_weights(packed.stack, pk.stack)
        pk.head.load_state_dict(packed.head.state_dict())
        g_first, g_last = member_grad_norms(pk, xt, yt)
        for e, (d, s) in enumerate(members):
            out.append({"arch": arch, "depth": N, "h": T / N, "dataset": d, "seed": s,
                        "integrator": method, "M": float(ratios[:, e].max()),
                        "M_median": float(ratios[:, e].median()),
                        "max_abs_hlam": float(np.abs(hlam[:, :, e]).max()),
                        "frac_outside_region": float(outside[e]),
                        "frac_step_only": float(only[e]),
                        "grad_first": g_first[e], "grad_last": g_last[e],
                        "grad_first_init": i_first[e], "grad_last_init": i_last[e],
                        "cpu_seconds_refine": time.process_time() - c1})
    return out
