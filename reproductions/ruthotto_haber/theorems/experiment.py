"""Ruthotto & Haber (2020), Theorems 1 and 2 and reversibility, measured.

* **Theorem 1** (parabolic CNN): for non-decreasing σ the Jacobian of the symmetric field
  F_sym(Y) = −Kᵀσ(K Y + b) is −Kᵀ diag(σ′) K, symmetric negative semi-definite, so the
  flow is stable, ‖Y(T) − Ỹ(T)‖ ≤ ‖Y(0) − Ỹ(0)‖; forward Euler keeps this when
  |1 + h λ| ≤ 1 for every eigenvalue λ, i.e. h ≤ 2 / ‖K‖² for ReLU. We measure the
  ratio ‖Y(T) − Ỹ(T)‖ / ‖Y(0) − Ỹ(0)‖ over many random perturbations, for random and
  for trained weights, with the step-size condition met (h = h* = 0.9 · 2 / max‖K_j‖²)
  and violated (h = 4 h*), and for the blocks exactly as the network uses them (TV
  normalisation inside σ, h = 1) — where the hypothesis of the theorem is not met: with
  N the Jacobian is −Kᵀ diag(σ′) J_N K, and diag(σ′) J_N is not symmetric.
* **Theorem 2** (second-order CNN): with constant weights and |σ(x)| ≤ |x| the leapfrog
  solution stays bounded. For ReLU without normalisation the equation is Y″ = −∇Φ(Y),
  Φ(Y) = ½‖σ(K Y + b)‖², so E = ½‖Y′‖² + Φ(Y) is conserved by the flow; we follow the
  discrete energy E_{j+½} = ½‖(Y_{j+1} − Y_j)/h‖² + ½(Φ(Y_{j+1}) + Φ(Y_j)) over many
  steps, with h inside (h‖K‖ < 2) and outside the leapfrog stability limit.
* **Hamiltonian block**: the Verlet scheme is reversible; we measure
  ‖inverse(forward(Y)) − Y‖ / ‖Y‖ in float32 and float64.

Trained weights come from the ``table1`` stage (``data/ruthotto_haber/table1_weights.npz``);
their block inputs are the real features of test images. All measurements in float64.

Outputs: ``theorems_ratios.csv`` (every measured ratio), ``theorems_summary.csv``,
``theorems_energy.csv``, ``theorems_reversibility.csv``, metrics, claims, figures.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from nnde.diagnostics import jacobian_spectrum, stability_constant
from nnde.layers import HyperbolicCNN, ParabolicCNN, SecondOrderCNN
from nnde.parallel import map_jobs
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

PAPER, STAGE = "ruthotto_haber", "theorems"
#: Every claim id :func:`make_claims` can produce.
CLAIM_IDS = ("theorem1_random", "theorem1_trained", "step_size_condition",
             "theorem1_as_used_random", "theorem1_as_used_trained", "others_not_contractive",
             "theorem2_energy_bounded", "hamiltonian_reversible")
WEIGHTS = Path("data/ruthotto_haber/table1_weights.npz")
BLOCKS = {"parabolic": ParabolicCNN, "hamiltonian": HyperbolicCNN,
          "second_order": SecondOrderCNN}
LABELS = {"parabolic": "Parabolic", "hamiltonian": "Hamiltonian", "second_order": "Second-order"}
TOL = 1e-6  # Theorem 1: max ratio ≤ 1 + TOL
SAFETY = 0.9  # h* = SAFETY · 2 / max ‖K_j‖²
#: "Stable" for a block of a few steps: no perturbation grows by more than this factor.
#: Leapfrog / Verlet on y″ = −λy at the very edge of its stability region (h²λ = 4)
#: grows as 1 + 2j, i.e. 7 after the networks' 3 steps; an unstable step (h²λ > 4) grows
#: geometrically (h²λ = 20: ×18 per step, ~6000 after 3). 10 leaves room for the
#: nonlinearity and separates the two.
STABLE_BOUND = 10.0


def _table1():
    """The table1 stage module (for ``load_trained`` and ``load_data``)."""
    spec = importlib.util.spec_from_file_location(
        "rh_table1", Path(__file__).resolve().parent / "table1.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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


def block_norm(block, hw) -> float:
    return max(conv_norm(K, hw) for K in kernels(block))


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


def worst_growth(block, Y: torch.Tensor, n: int, exact_max: int = 2048, iters: int = 60) -> float:
    """Largest singular value of the block's Jacobian (flow map over all its steps) at the
    first ``n`` examples: the worst perturbation direction, not a random one. Exact (SVD of
    the Jacobian) up to ``exact_max`` entries per example, else power iteration on JᵀJ
    with Jacobian-vector products (a lower bound that converges from below)."""
    Y = Y[:n].double()
    if Y[0].numel() <= exact_max:
        return float(jacobian_spectrum(block, Y, kind="svd")[:, 0].max())
    g = torch.Generator().manual_seed(0)
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
    knorm = block_norm(block, hw)
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
            "jacobian_sigma_max": worst_growth(b, Y, n_jac),
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


def theorem2(cases: dict, steps: int):
    """Energy runs for constant-weight second-order blocks. ``cases``: name → (K, b, Y0).
    For each: h = 1 (the network's step) if h‖K‖ < 2, a step inside the limit
    (h = 1.8/‖K‖ otherwise), and one outside (h = 4/‖K‖, at most 100 steps: it
    overflows). Returns (tidy, summary)."""
    rows, summ = [], []
    for name, (K, b, Y0) in cases.items():
        knorm = conv_norm(K, tuple(Y0.shape[2:]))
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


# --------------------------------------------------------------------------- claims
def make_claims(summ: pd.DataFrame, en: pd.DataFrame, rev: pd.DataFrame):
    claims = []

    def sel(variant, weights, setting):
        return summ[(summ.variant == variant) & (summ.weights == weights)
                    & (summ.setting == setting)]

    def mx(df, col="max_ratio"):
        return float(df[col].max()) if len(df) else float("nan")

    for weights in ("random", "trained"):
        s = sel("parabolic", weights, "no norm, h = h*")
        if not len(s):
            continue
        m, jm = mx(s), mx(s, "jacobian_sigma_max")
        claims.append(check(
            f"theorem1_{weights}",
            f"Theorem 1, {weights} weights: the parabolic block is stable, ‖Y(T) − Ỹ(T)‖ ≤ "
            "‖Y(0) − Ỹ(0)‖ (ReLU, no normalisation, h ≤ 2/‖K‖²)",
            paper="ratio ≤ 1 (Theorem 1, forward Euler with |1 + hλ| ≤ 1)",
            ours=f"max ratio {fmt(m, 8)} over {int(s.n_ratios.sum()):,} perturbations in "
            f"{len(s)} blocks; worst direction (Jacobian σ_max) {fmt(jm, 8)}",
            rule=f"max ratio ≤ 1 + {TOL:g} and Jacobian σ_max ≤ 1 + {TOL:g}",
            passed=m <= 1 + TOL and jm <= 1 + TOL,
            partly=m <= 1 + TOL,
            note="A check: under its hypotheses the theorem holds for any weights; the "
            "measurement tests our blocks and h*, not the paper.",
            kind="check",
        ))
    s4 = summ[(summ.variant == "parabolic") & (summ.setting == "no norm, h = 4h*")]
    if len(s4):
        m = mx(s4, "jacobian_sigma_max")
        claims.append(check(
            "step_size_condition",
            "Forward Euler keeps Theorem 1 only under the step-size condition: with h = 4h* "
            "(beyond 2/‖K‖²) the parabolic block amplifies some perturbations",
            paper="needs |1 + hλ| ≤ 1",
            ours=f"max Jacobian σ_max at h = 4h*: {fmt(m, 6)}; max random-perturbation "
            f"ratio {fmt(mx(s4), 6)}",
            rule="Jacobian σ_max > 1 + 1e-6 in some block",
            passed=m > 1 + TOL,
            note="A check: linear stability of forward Euler, measured on our blocks.",
            kind="check",
        ))
    for weights in ("random", "trained"):
        s = sel("parabolic", weights, "as used (TV, h = 1)")
        if not len(s):
            continue
        m, jm = mx(s), mx(s, "jacobian_sigma_max")
        claims.append(check(
            f"theorem1_as_used_{weights}",
            f"The parabolic block as the network uses it ({weights} weights: TV "
            "normalisation inside σ, h = 1) is still non-expansive",
            paper="stable (Theorem 1, stated for F_sym; the normalisation is part of the "
            "paper's network)",
            ours=f"max ratio {fmt(m, 6)} over {int(s.n_ratios.sum()):,} perturbations; "
            f"Jacobian σ_max {fmt(jm, 6)}",
            rule=f"max ratio ≤ 1 + {TOL:g} and Jacobian σ_max ≤ 1 + {TOL:g} (partly: random "
            "perturbations only)",
            passed=m <= 1 + TOL and jm <= 1 + TOL,
            partly=m <= 1 + TOL,
            note="Outside the theorem's hypotheses: with the normalisation N the Jacobian is "
            "−Kᵀ diag(σ′) J_N K, and diag(σ′) J_N is not symmetric, so negative "
            "semi-definiteness is not guaranteed; and h = 1 is not checked against "
            "2/‖K‖² · ‖J_N‖⁻¹.",
        ))
    others = summ[summ.variant.isin(["hamiltonian", "second_order"])
                  & (summ.setting == "as used (TV, h = 1)")]
    if len(others):
        per, bounded, growing = [], {}, {}
        for v, g in others.groupby("variant", sort=False):
            # np.max propagates NaN: a block that overflowed (inf, NaN) is not bounded
            top = float(np.max(np.r_[g.jacobian_sigma_max.to_numpy(float),
                                     g.max_ratio.to_numpy(float)]))
            lo = float(g.min_ratio.min())
            bounded[v] = bool(np.isfinite(top) and top <= STABLE_BOUND and lo > 0)
            growing[v] = bool(float(g.jacobian_sigma_max.max()) > 1 + TOL)
            per.append(f"{LABELS[v]} {fmt(lo, 4)}–{fmt(top, 4)} ("
                       + ("bounded" if bounded[v] else f"beyond {STABLE_BOUND:g}") + ", "
                       + ("not contractive" if growing[v] else "contractive") + ")")
        claims.append(check(
            "others_not_contractive",
            "The Hamiltonian and second-order blocks (as used: TV, h = 1) are stable but not "
            "contractive: Theorem 1's bound M ≤ 1 is specific to the parabolic block",
            paper="hyperbolic blocks conserve energy (no decay, no growth; §3, Theorem 2); "
            "stable, ‖Y(T) − Ỹ(T)‖ ≤ M ‖Y(0) − Ỹ(0)‖, but no M ≤ 1 claimed",
            ours="ratio range (min random ratio – max of Jacobian σ_max and random ratios) "
            "per block type: " + "; ".join(per),
            rule=f"for each block type: stable, every ratio and Jacobian σ_max ≤ "
            f"{STABLE_BOUND:g} (finite, and > 0), and not contractive, some Jacobian σ_max "
            f"> 1 + {TOL:g} (partly: both stable, only one not contractive)",
            passed=all(bounded.values()) and all(growing.values()),
            partly=all(bounded.values()) and any(growing.values()),
            note=f"The bound {STABLE_BOUND:g}: leapfrog / Verlet on y″ = −λy at the edge of "
            "its stability region grows as 1 + 2j (7 after 3 steps); an unstable step grows "
            "geometrically.",
        ))
    inside = en[en.run.str.startswith("inside")]
    if len(inside):
        worst_late = float(inside.late_over_early_max_E.max())
        worst = float(inside.max_E_over_E0.max())
        out_ = en[en.run.str.startswith("outside")]
        claims.append(check(
            "theorem2_energy_bounded",
            "Theorem 2: the second-order block with constant weights and |σ(x)| ≤ |x| is "
            "stable — its energy stays bounded over many steps",
            paper="bounded (Theorem 2)",
            ours=f"inside the leapfrog limit: max E/E₀ = {fmt(worst, 4)}, late/early max "
            f"energy {fmt(worst_late, 4)}; outside (h‖K‖ = 4): max E/E₀ = "
            f"{fmt(float(out_.max_E_over_E0.max()), 3)}",
            rule="inside: max E/E₀ ≤ 10 and late/early max energy ≤ 1.1 (no drift)",
            passed=worst <= 10 and worst_late <= 1.1,
            kind="check",
            note="A check: Theorem 2 (leapfrog with constant weights), measured on our "
            "block. Outside the leapfrog limit (h‖K‖ = 4) the energy grows geometrically. "
            "Inside it the state itself still grows: max ‖Y_j‖/‖Y₀‖ = "
            f"{fmt(float(inside.max_norm_Y_over_Y0.max()), 4)} (late/early "
            f"{fmt(float(inside.late_over_early_max_norm_Y.max()), 3)}, i.e. linear drift): "
            "where σ(KY + b) = 0 the ReLU potential is flat and Y moves freely, so it is "
            "the energy, not ‖Y‖, that stays bounded.",
        ))
    if len(rev):
        e64 = float(rev[rev.dtype == "float64"].relative_error.max())
        e32 = float(rev[rev.dtype == "float32"].relative_error.max())
        claims.append(check(
            "hamiltonian_reversible",
            "The Hamiltonian (Verlet) block is reversible: the input is recovered from the "
            "output",
            paper="reversible",
            ours=f"max relative reconstruction error {fmt(e64, 3)} (float64), {fmt(e32, 3)} "
            "(float32)",
            rule="float64 error ≤ 1e-12 and float32 ≤ 1e-4",
            passed=e64 <= 1e-12 and e32 <= 1e-4,
            note="A check: Verlet is reversible by construction; this tests our inverse.",
            kind="check",
        ))
    return claims


# --------------------------------------------------------------------------- figures
def ratio_figure(df: pd.DataFrame):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    variants = [v for v in BLOCKS if v in set(df.variant)]
    weights = [w for w in ("random", "trained") if w in set(df.weights)]
    fig, axes = plt.subplots(len(weights), len(variants), figsize=(4.2 * len(variants),
                             3.2 * len(weights)), squeeze=False, sharex=True)
    pal = dict(zip(["as used (TV, h = 1)", "no norm, h = h*", "no norm, h = 4h*"],
                   sns.color_palette("colorblind", 3), strict=True))
    lo = float(np.log10(df.ratio.clip(lower=1e-3)).min())
    hi = float(np.log10(df.ratio.clip(lower=1e-3)).max())
    bins = np.linspace(min(lo, -0.05), max(hi, 0.05), 60)
    for i, w in enumerate(weights):
        for j, v in enumerate(variants):
            ax = axes[i][j]
            sub = df[(df.variant == v) & (df.weights == w)]
            for setting, g in sub.groupby("setting", sort=False):
                ax.hist(np.log10(g.ratio.clip(lower=1e-3)), bins=bins, histtype="step",
                        color=pal[setting], label=setting, density=True)
            ax.axvline(0, color="k", lw=0.8)
            ax.set_title(f"{LABELS[v]}, {w} weights", fontsize=10)
            ax.set_yticks([])
            if i == len(weights) - 1:
                ax.set_xlabel("log₁₀ ‖Y(T) − Ỹ(T)‖ / ‖Y(0) − Ỹ(0)‖")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def energy_figure(df: pd.DataFrame):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    cases = list(dict.fromkeys(df.case))
    pal = dict(zip(cases, sns.color_palette("colorblind", len(cases)), strict=True))
    styles = {r: s for r, s in zip(dict.fromkeys(df.run), ["-", "--", ":"], strict=False)}
    for (case, run), g in df.groupby(["case", "run"], sort=False):
        g0 = g.dropna(subset=["energy"])
        if len(g0):
            axes[0].plot(g0.step, g0.energy / g0.energy.iloc[0], styles[run], color=pal[case],
                         label=f"{case}, {run}")
        axes[1].plot(g.step, g.norm_Y / g.norm_Y.iloc[0], styles[run], color=pal[case],
                     label=f"{case}, {run}")
    for ax, lab in zip(axes, ("energy E(j+½) / E₀", "‖Y_j‖ / ‖Y₀‖"), strict=True):
        ax.set_yscale("log")
        ax.set_xlabel("step j (constant weights)")
        ax.set_ylabel(lab)
    axes[0].set_title("Theorem 2: leapfrog energy (ReLU, no normalisation)")
    axes[1].set_title("Size of the state")
    axes[0].legend(fontsize=6)
    axes[1].legend(fontsize=6)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- driver
def run(cfg: dict, models: dict | None, x_test: torch.Tensor | None):
    """All measurements. ``models``: trained {variant: PDECNN} (or None); ``x_test``:
    images whose block inputs serve as base points."""
    g = torch.Generator().manual_seed(cfg["seed"])
    blocks, inputs = {}, {}
    C, S = cfg["channels"], cfg["image_size"]
    for i, v in enumerate(BLOCKS):
        blocks[(v, "random", 0)] = random_block(v, C, cfg["steps"], cfg["seed"] + i)
        inputs[(v, "random", 0)] = torch.randn(cfg["examples"], C, S, S, generator=g,
                                               dtype=torch.float64)
    if models:
        for v, m in models.items():
            feats = m.features(x_test[: cfg["examples"]])
            for k, (blk, Y) in enumerate(zip(m.blocks, feats, strict=True)):
                blocks[(v, "trained", k)] = blk
                inputs[(v, "trained", k)] = Y.double()
    rat, summ = theorem1(blocks, inputs, cfg["eps"], cfg["perturbations"],
                         cfg["jacobian_examples"], cfg["seed"], cfg["workers"], cfg["threads"])
    rev = reversibility(blocks, inputs)
    cases = {}
    rb = blocks[("second_order", "random", 0)]
    cases["random K"] = (rb.fields[0].K, rb.fields[0].b, inputs[("second_order", "random", 0)][:4])
    if models and "second_order" in models:
        tb = models["second_order"].blocks[0]
        cases["trained K (stage 1, step 1)"] = (
            tb.fields[0].K, tb.fields[0].b, inputs[("second_order", "trained", 0)][:4])
    en_df, en = theorem2(cases, cfg["energy_steps"])
    return rat, summ, en_df, en, rev


def read_config(p: dict) -> dict:
    sec = f"{PAPER}.{STAGE}"
    return {
        "channels": get_number(p, "channels", sec, kind=int, gt=0),
        "image_size": get_number(p, "image_size", sec, kind=int, gt=0),
        "steps": get_number(p, "steps", sec, kind=int, gt=0),
        "examples": get_number(p, "examples", sec, kind=int, gt=0),
        "perturbations": get_number(p, "perturbations", sec, kind=int, gt=0),
        "eps": get_list(p, "eps", positive_float, sec),
        "jacobian_examples": get_number(p, "jacobian_examples", sec, kind=int, gt=0),
        "energy_steps": get_number(p, "energy_steps", sec, kind=int, gt=1),
        "trained": get_choice(p, "trained", (True, False), sec),
        "seed": get_number(p, "seed", sec, kind=int, ge=0),
        "threads": get_threads(p, "threads", sec),
        "workers": get_number(p, "workers", sec, kind=int, ge=1),
    }


def main() -> None:
    cfg = read_config(load_params(f"{PAPER}.{STAGE}"))
    if cfg["channels"] % 2:
        from nnde.errors import ParamError

        raise ParamError(f"{PAPER}.{STAGE}.channels", f"is {cfg['channels']}: the "
                         "Hamiltonian block splits channels in halves", "an even integer")
    set_threads(cfg["threads"])
    models, x_test = None, None
    if cfg["trained"]:
        t1 = _table1()
        models, meta = t1.load_trained(WEIGHTS)
        data = t1.load_data({"dataset": meta["dataset"], "seed": meta["seed"],
                             "data_root": meta["data_root"], "max_train": 0, "augment": False})
        x_test = data[2]["test"][0]
    rat, summ, en_df, en, rev = run(cfg, models, x_test)
    claims = make_claims(summ, en, rev)
    with StageOutputs(PAPER, STAGE, "Theorems 1 and 2, reversibility: measured") as out:
        out.params(cfg)
        out.text(
            "Ratio = ‖Y(T) − Ỹ(T)‖ / ‖Y(0) − Ỹ(0)‖ through one PDE block, for "
            f"{cfg['perturbations']} random perturbations δ per base point of relative sizes "
            f"{cfg['eps']}, in float64. Random weights: the library's initialisation on "
            f"{cfg['channels']} channels, {cfg['image_size']}×{cfg['image_size']} random "
            "inputs. Trained weights: the table1 networks, on the real features that enter "
            "each block for test images. Settings: 'as used' is the block as in the network "
            "(TV normalisation, h = 1); 'no norm, h = h*' meets Theorem 1's hypotheses "
            "(ReLU, symmetric Jacobian, h* = 0.9·2/max‖K‖²); 'h = 4h*' breaks the step-size "
            "condition. 'Jacobian σ_max' is the largest singular value of the block's "
            "Jacobian at a few base points: the worst direction, which random δ rarely hit."
        )
        out.csv(f"{STAGE}_ratios", rat)
        out.csv(f"{STAGE}_summary", summ, show=True, caption="Growth ratios per block "
                "(stage = index of the block in the network)", max_rows=60)
        out.csv(f"{STAGE}_energy", en_df)
        out.csv(f"{STAGE}_energy_summary", en, show=True,
                caption="Theorem 2: second-order block with constant weights")
        out.csv(f"{STAGE}_reversibility", rev, show=True,
                caption="Hamiltonian block: reconstruction error of inverse(forward(Y))")
        out.figure("ratios", ratio_figure(rat), "Distribution of the growth ratio per block "
                   "type, random (top) and trained (bottom) weights; the black line is 1.")
        out.figure("energy", energy_figure(en_df), "Second-order block with constant weights "
                   "over many leapfrog steps: energy (left) and size of the state (right).")
        metrics = {}
        for r in summ.itertuples(index=False):
            setting = r.setting.split(",")[0].replace(" ", "_")
            key = f"{r.variant}.{r.weights}.stage{r.stage}.{setting}"
            if "4h" in r.setting:
                key += "_4h"
            metrics[f"max_ratio.{key}"] = r.max_ratio
            metrics[f"sigma_max.{key}"] = r.jacobian_sigma_max
        for r in rev.itertuples(index=False):
            metrics[f"reversibility.{r.weights}.stage{r.stage}.{r.dtype}"] = r.relative_error
        out.metrics(metrics)
        out.claims(claims)


if __name__ == "__main__":
    run_main(main, f"{PAPER}.{STAGE}")
