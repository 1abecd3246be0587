"""The measurements of the theorems stage: operator norms, growth ratios through a
block, the Jacobian's largest singular value, leapfrog energy and Verlet reversibility.
All in float64 unless stated."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from nnde.diagnostics import jacobian_spectrum, stability_constant
from nnde.layers import HyperbolicCNN, ParabolicCNN, SecondOrderCNN
from nnde.parallel import map_jobs

BLOCKS = {"parabolic": ParabolicCNN, "hamiltonian": HyperbolicCNN,
          "second_order": SecondOrderCNN}
SAFETY = 0.9  # h* = SAFETY · 2 / max ‖K_j‖²


# --------------------------------------------------------------------------- helpers
def conv_norm(K: torch.Tensor, hw: tuple[int, int], iters: int = 200, seed: int = 0) -> float:
    """‖K‖₂ of the zero-padded 3×3 convolution Y ↦ conv2d(Y, K) on (C, H, W) images, by
    power iteration on KᵀK (float64)."""
    K = K.detach().double()
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(1, K.shape[1], *hw, generator=g, dtype=torch.float64)
    lam = 0.0
    for _ in range(iters):
        v = v / v.norm()
        w = F.conv_transpose2d(F.conv2d(v, K, padding=1), K, padding=1)
        lam = float((w * v).sum())
        v = w
    return float(np.sqrt(max(lam, 0.0)))


def kernels(block) -> list[torch.Tensor]:
    """All 3×3 kernels of a block (one per field)."""
    fields = list(block.fields) + list(getattr(block, "fields2", []))
    return [f.K for f in fields]


def block_norm(block, hw, seed: int = 0) -> float:
    return max(conv_norm(K, hw, seed=seed) for K in kernels(block))


def with_settings(block, h: float | None = None, norm="keep"):
    """A float64 copy of ``block`` with step ``h`` and/or normalisation changed (rebuilt:
    the Euler stack fixes its h-scaled coefficients at construction)."""
    f0 = block.fields[0]
    channels = f0.channels * (2 if isinstance(block, HyperbolicCNN) else 1)
    b = type(block)(channels=channels, depth=block.depth, h=block.h if h is None else float(h),
                    norm=f0.norm if norm == "keep" else norm, hidden=f0.K.shape[0])
    b.load_state_dict(block.state_dict())
    return b.double().eval()


def random_block(variant: str, channels: int, steps: int, seed: int, box: float = 1.0):
    """A block with the library's random initialisation, random biases, in the box."""
    torch.manual_seed(seed)
    b = BLOCKS[variant](channels=channels, depth=steps, h=1.0, norm="tv").double()
    with torch.no_grad():
        for f in list(b.fields) + list(getattr(b, "fields2", [])):
            f.b.normal_(0.0, 0.1)
        for p in b.parameters():
            p.clamp_(-box, box)
    return b.eval()


def ratios(block, Y: torch.Tensor, eps_list, n_pert: int, seed: int) -> list[np.ndarray]:
    """Growth ratios ‖Φ(Y + δ) − Φ(Y)‖ / ‖δ‖ for ``n_pert`` random δ per example and per
    relative size eps (δ of norm eps·max(1, ‖Y‖))."""
    out = []
    for i, eps in enumerate(eps_list):
        _, r = stability_constant(block, Y.double(), eps=eps, n_perturbations=n_pert,
                                  seed=seed + i, return_ratios=True)
        out.append(r.numpy())
    return out


def worst_growth(block, Y: torch.Tensor, n: int, exact_max: int = 2048, iters: int = 60,
                 seed: int = 0) -> float:
    """Largest singular value of the block's Jacobian (flow map over all its steps) at the
    first ``n`` examples: the worst perturbation direction, not a random one. Exact (SVD of
    the Jacobian) up to ``exact_max`` entries per example, else power iteration on JᵀJ
    with Jacobian-vector products (a lower bound that converges from below), started from
    a random vector drawn from ``seed``."""
    Y = Y[:n].double()
    if Y[0].numel() <= exact_max:
        return float(jacobian_spectrum(block, Y, kind="svd")[:, 0].max())
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(Y.shape, generator=g, dtype=Y.dtype)
    sig2 = torch.zeros(Y.shape[0], dtype=Y.dtype)
    for _ in range(iters):
        v = v / v.reshape(len(v), -1).norm(dim=1).reshape(-1, *[1] * (Y.dim() - 1))
        _, u = torch.func.jvp(block, (Y,), (v,))
        _, pull = torch.func.vjp(block, Y)
        (w,) = pull(u)
        sig2 = (w * v).reshape(len(v), -1).sum(dim=1)
        v = w
    return float(sig2.clamp(min=0).sqrt().max())


# --------------------------------------------------------------------------- Theorem 1
def _theorem1_block(key: tuple, block, Y: torch.Tensor, eps_list, n_pert: int, n_jac: int,
                    seed: int) -> tuple[list[pd.DataFrame], list[dict]]:
    """Ratios and the Jacobian's largest singular value of one (variant, weights, stage)
    block under the three settings: (tidy ratio frames, summary rows)."""
    variant, weights, stage = key
    hw = tuple(Y.shape[2:])
    knorm = block_norm(block, hw, seed)
    hstar = SAFETY * 2.0 / knorm**2
    settings = [("as used (TV, h = 1)", with_settings(block, h=1.0)),
                ("no norm, h = h*", with_settings(block, h=hstar, norm=None)),
                ("no norm, h = 4h*", with_settings(block, h=4 * hstar, norm=None))]
    rows, summ = [], []
    for name, b in settings:
        rs = ratios(b, Y, eps_list, n_pert, seed)
        for eps, r in zip(eps_list, rs, strict=True):
            rows.append(pd.DataFrame({"variant": variant, "weights": weights,
                                      "stage": stage, "setting": name, "eps": eps,
                                      "ratio": r}))
        allr = np.concatenate(rs)
        summ.append({
            "variant": variant, "weights": weights, "stage": stage, "setting": name,
            "h": b.h, "max_K_norm": knorm, "n_ratios": int(allr.size),
            "max_ratio": float(allr.max()), "median_ratio": float(np.median(allr)),
            "min_ratio": float(allr.min()),
            "jacobian_sigma_max": worst_growth(b, Y, n_jac, seed=seed),
        })
    return rows, summ


def theorem1(blocks: dict, inputs: dict, eps_list, n_pert: int, n_jac: int, seed: int,
             workers: int = 1, threads: int | str = "auto"):
    """Ratio measurements for every (variant, weights, stage) block in ``blocks`` with its
    inputs, the blocks spread over ``workers`` processes (every measurement is seeded on
    its own: the numbers do not depend on the number of workers). Returns (tidy ratios,
    summary)."""
    jobs = [(key, block, inputs[key], eps_list, n_pert, n_jac, seed)
            for key, block in blocks.items()]
    out = map_jobs(_theorem1_block, jobs, workers, threads)
    rows = [r for block_rows, _ in out for r in block_rows]
    summ = [s for _, block_summ in out for s in block_summ]
    return pd.concat(rows, ignore_index=True), pd.DataFrame(summ)


# --------------------------------------------------------------------------- Theorem 2
def energy_run(K: torch.Tensor, b: torch.Tensor, Y0: torch.Tensor, h: float, steps: int,
               norm=None):
    """Leapfrog Y_{j+1} = 2Y_j − Y_{j−1} − h² Kᵀσ(N(K Y_j + b)) with constant K, b,
    Y_{−1} = Y_0, through the library's SecondOrderCNN. Returns (energy E_{j+½} per
    example summed, ‖Y_j‖ per j) — the energy is defined only for ``norm=None``."""
    C = K.shape[1]
    blk = SecondOrderCNN(channels=C, depth=steps, h=h, norm=norm, hidden=K.shape[0]).double()
    with torch.no_grad():
        for f in blk.fields:
            f.K.copy_(K.double())
            f.b.copy_(b.double())
        Ys = blk(Y0.double(), return_states=True)  # (steps + 1, B, C, H, W)

    def phi(Y):
        return 0.5 * torch.relu(F.conv2d(Y, K.double(), b.double(), padding=1)).square().sum()

    with torch.no_grad():
        E = [0.5 * ((Ys[j + 1] - Ys[j]) / h).square().sum()
             + 0.5 * (phi(Ys[j + 1]) + phi(Ys[j])) for j in range(steps)]
        norms = Ys.reshape(steps + 1, -1).norm(dim=1)
    return np.array([float(e) for e in E]), norms.numpy()


def theorem2(cases: dict, steps: int, seed: int = 0):
    """Energy runs for constant-weight second-order blocks. ``cases``: name → (K, b, Y0).
    For each: h = 1 (the network's step) if h‖K‖ < 2, a step inside the limit
    (h = 1.8/‖K‖ otherwise), and one outside (h = 4/‖K‖, at most 100 steps: it
    overflows). ``seed``: the power iteration's start for ‖K‖. Returns (tidy, summary)."""
    rows, summ = [], []
    for name, (K, b, Y0) in cases.items():
        knorm = conv_norm(K, tuple(Y0.shape[2:]), seed=seed)
        h_in = 1.0 if knorm < 2.0 else 1.8 / knorm
        for label, h, norm in (("inside (h‖K‖ < 2)", h_in, None),
                               ("outside (h‖K‖ = 4)", 4.0 / knorm, None),
                               ("TV norm, h = 1", 1.0, "tv")):
            n_steps = min(steps, 100) if label.startswith("outside") else steps
            E, n = energy_run(K, b, Y0, h, n_steps, norm)
            half = n_steps // 2
            rows.append(pd.DataFrame({"case": name, "run": label, "step": np.arange(n_steps + 1),
                                      "energy": np.r_[E, np.nan] if norm is None else np.nan,
                                      "norm_Y": n}))
            summ.append({
                "case": name, "run": label, "h": h, "h_K_norm": h * knorm,
                "E0": float(E[0]) if norm is None else np.nan,
                "max_E_over_E0": float(E.max() / E[0]) if norm is None else np.nan,
                "min_E_over_E0": float(E.min() / E[0]) if norm is None else np.nan,
                "late_over_early_max_E": float(E[half:].max() / E[:half].max())
                if norm is None else np.nan,
                "max_norm_Y_over_Y0": float(n.max() / n[0]),
                "late_over_early_max_norm_Y": float(n[half:].max() / n[:half].max()),
            })
    return pd.concat(rows, ignore_index=True), pd.DataFrame(summ)


# --------------------------------------------------------------------------- reversibility
def reversibility(blocks: dict, inputs: dict) -> pd.DataFrame:
    """‖inverse(forward(Y)) − Y‖ / ‖Y‖ for each Hamiltonian block, float32 and float64."""
    rows = []
    for (variant, weights, stage), block in blocks.items():
        if variant != "hamiltonian":
            continue
        Y = inputs[(variant, weights, stage)]
        for dtype in (torch.float32, torch.float64):
            b = copy.deepcopy(block).to(dtype).eval()
            y = Y.to(dtype)
            with torch.no_grad():
                back = b.inverse(b(y))
            rows.append({"weights": weights, "stage": stage, "dtype": str(dtype).split(".")[1],
                         "relative_error": float((back - y).norm() / y.norm())})
    return pd.DataFrame(rows)
