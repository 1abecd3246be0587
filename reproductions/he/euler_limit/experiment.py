"""The lecture's ResNet-as-Euler limit (Richter & Lessig 2021; E 2017; Haber & Ruthotto
2017): a residual net with step α = T/L is forward Euler, and as L → ∞ it converges to
the flow of an ODE — with error ∝ 1/L — while with α = 1 it has no limit.

The net is a residual MLP on ``d`` features (rows are examples)::

    y_{k+1} = y_k + α · tanh(y_k W(t_k)ᵀ + b(t_k)),   t_k = k·T/L,   k = 0 … L−1,

whose layer weights are samples, at the layer times, of one fixed smooth function of
time: ``W(t) = Σ_j cos(jπt/T)·A_j / (1 + j)²`` (and likewise ``b(t)``) with Gaussian
``A_j`` drawn from ``seed``. So all depths share one weight *function*, and deeper nets
sample it more finely (the multi-level view of Haber & Ruthotto). With α = T/L the net
is exactly L forward-Euler steps of

    dy/dt = tanh(y W(t)ᵀ + b(t)),   t ∈ [0, T],

and its output converges to the flow y(T) at first order: ``‖y_L − y(T)‖ ≈ C/L``, a
log-log slope of −1 (measured here against an RK4 reference with many steps, whose own
error is ``O(h⁴)`` and negligible). With α = 1 (the usual ResNet, no step size), layer L
adds L bounded increments: the outputs drift without limit and successive depths do not
approach each other (the Cauchy differences ``‖y_{2L} − y_L‖`` do not shrink).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from nnde.errors import ParamError
from nnde.integrators import solve
from nnde.stage import (
    StageOutputs,
    check,
    fmt,
    get_list,
    get_number,
    get_threads,
    load_params,
    positive_int,
    run_main,
)
from nnde.train import set_threads

PAPER, STAGE = "he", "euler_limit"
#: Every claim id :func:`make_claims` can produce. Both are checks: the net is built to be
#: forward Euler on a smooth ODE (first order follows from Euler's convergence theorem),
#: and with α = 1 it adds L bounded increments by construction. Nothing is trained; the
#: claims test our code and show the lecture's point, they are not evidence about a paper.
CLAIM_IDS = ("euler_first_order", "alpha_one_no_limit")


class SmoothWeights:
    """A fixed random smooth weight function ``t ↦ (W(t), b(t))`` on ``[0, T]``:
    cosine modes ``cos(jπt/T)``, j = 0 … modes−1, with amplitudes decaying as 1/(1+j)²;
    ``scale`` sets the size of W (entries ~ scale/√d)."""

    def __init__(self, d: int, T: float, modes: int, scale: float, seed: int):
        g = torch.Generator().manual_seed(seed)
        decay = 1.0 / (1.0 + torch.arange(modes, dtype=torch.float64)) ** 2
        self.A = torch.randn(modes, d, d, generator=g, dtype=torch.float64) * scale / d**0.5
        self.A = self.A * decay[:, None, None]
        self.B = torch.randn(modes, d, generator=g, dtype=torch.float64) * 0.5 * decay[:, None]
        self.T, self.modes = T, modes

    def __call__(self, t: float | torch.Tensor):
        t = float(t)
        c = torch.cos(torch.arange(self.modes, dtype=torch.float64) * np.pi * t / self.T)
        return torch.einsum("j,jab->ab", c, self.A), c @ self.B


class ResidualMLP(nn.Module):
    """L residual layers ``y ← y + α tanh(y W_kᵀ + b_k)`` with ``(W_k, b_k) = weights(t_k)``,
    ``t_k = k T / L``: forward Euler with step α for ``α = T/L``."""

    def __init__(self, weights: SmoothWeights, L: int, alpha: float):
        super().__init__()
        Ws, bs = zip(*(weights(k * weights.T / L) for k in range(L)), strict=True)
        self.W = nn.Parameter(torch.stack(Ws))  # (L, d, d)
        self.b = nn.Parameter(torch.stack(bs))  # (L, d)
        self.alpha = alpha

    def forward(self, y: torch.Tensor, trajectory: bool = False):
        ys = [y]
        for W, b in zip(self.W, self.b, strict=True):
            y = y + self.alpha * torch.tanh(y @ W.T + b)
            ys.append(y)
        return torch.stack(ys) if trajectory else y


def reference_flow(weights: SmoothWeights, y0: torch.Tensor, steps: int, trajectory=False):
    """The ODE's flow from 0 to T: classical RK4 with ``steps`` steps."""

    def f(t, y):
        W, b = weights(t)
        return torch.tanh(y @ W.T + b)

    return solve(f, y0, 0.0, weights.T, steps=steps, method="rk4", trajectory=trajectory)


def rms(a: torch.Tensor) -> float:
    """Root-mean-square over examples of the Euclidean norm across features."""
    return float(a.pow(2).sum(-1).mean().sqrt())


def run(cfg: dict) -> pd.DataFrame:
    """Per (seed, L): the output's distance to the flow for α = T/L and α = 1, and the
    Cauchy difference to the next depth in the list."""
    rows = []
    for seed in cfg["seeds"]:
        w = SmoothWeights(cfg["features"], cfg["T"], cfg["modes"], cfg["scale"], seed)
        y0 = torch.randn(cfg["examples"], cfg["features"], dtype=torch.float64,
                         generator=torch.Generator().manual_seed(10_000 + seed))
        ref = reference_flow(w, y0, cfg["reference_steps"])
        outs = {}
        with torch.no_grad():
            for L in cfg["layers"]:
                for name, alpha in (("T/L", cfg["T"] / L), ("1", 1.0)):
                    outs[name, L] = ResidualMLP(w, L, alpha)(y0)
        Ls = cfg["layers"]
        for i, L in enumerate(Ls):
            for name in ("T/L", "1"):
                nxt = outs[name, Ls[i + 1]] if i + 1 < len(Ls) else None
                rows.append({
                    "seed": seed, "layers": L, "alpha": name,
                    "error_vs_flow": rms(outs[name, L] - ref),
                    "cauchy_next": rms(nxt - outs[name, L]) if nxt is not None else np.nan,
                    "output_norm": rms(outs[name, L]),
                })
    return pd.DataFrame(rows)


def fit_slope(L, err) -> float:
    """Least-squares slope of log(err) against log(L)."""
    return float(np.polyfit(np.log(np.asarray(L, float)), np.log(np.asarray(err, float)), 1)[0])


def slopes(df: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for seed, g in df[df.alpha == "T/L"].groupby("seed"):
        g = g.sort_values("layers")
        rows.append({"seed": seed, "slope": fit_slope(g.layers, g.error_vs_flow)})
    return pd.DataFrame(rows)


def make_claims(df: pd.DataFrame, slope_df: pd.DataFrame, tol: float = 0.2) -> list:
    s = slope_df.slope.to_numpy()
    claims = [check(
        "euler_first_order",
        "With α = T/L the residual net converges to the ODE flow at first order (forward "
        "Euler): error ∝ 1/L",
        paper="ResNet layer = explicit Euler step with α = Δt (lecture)",
        ours="log-log slope " + ", ".join(f"{fmt(x, 3)}" for x in s) + " (per seed)",
        rule=f"|slope + 1| ≤ {tol} for every seed; partly if for the mean slope",
        passed=bool(np.all(np.abs(s + 1) <= tol)), partly=abs(s.mean() + 1) <= tol,
        note="A check: the net is forward Euler by construction, so first order follows "
        "from Euler's convergence theorem; the measurement tests our code.",
        kind="check",
    )]
    one = df[(df.alpha == "1") & df.cauchy_next.notna()].groupby("layers").cauchy_next.mean()
    tl = df[(df.alpha == "T/L") & df.cauchy_next.notna()].groupby("layers").cauchy_next.mean()
    claims.append(check(
        "alpha_one_no_limit",
        "With α = 1 the outputs do not converge as L grows: the differences between "
        "successive depths do not shrink",
        paper="without α = T/L there is no ODE limit (lecture)",
        ours="α = 1: ‖y_2L − y_L‖ = " + ", ".join(f"{fmt(v, 3)} (L={L})" for L, v in one.items())
             + "; α = T/L: " + ", ".join(f"{fmt(v, 3)} (L={L})" for L, v in tl.items()),
        rule="α = 1: the Cauchy difference at the largest L ≥ the one at the smallest L, "
             "while for α = T/L it falls",
        passed=one.iloc[-1] >= one.iloc[0] and tl.iloc[-1] < tl.iloc[0],
        note="A check: with α = 1 each layer adds an increment of size O(1) by "
        "construction.",
        kind="check",
    ))
    return claims


# --------------------------------------------------------------------------- figures
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def error_figure(df: pd.DataFrame, slope_df: pd.DataFrame):
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4))
    ax = axes[0]
    tl = df[df.alpha == "T/L"]
    for _, g in tl.groupby("seed"):
        ax.loglog(g.layers, g.error_vs_flow, "o-", color="C0", alpha=0.35, ms=3, lw=1)
    m = tl.groupby("layers").error_vs_flow.mean()
    slope = fit_slope(m.index, m.values)
    c = np.exp(np.polyfit(np.log(m.index.to_numpy(float)), np.log(m.values), 1)[1])
    Ls = m.index.to_numpy(float)
    ax.loglog(Ls, m.values, "o", color="C0", ms=6, label="α = T/L, mean over seeds")
    per_seed = ", ".join(f"{s:.2f}" for s in slope_df.slope)
    ax.loglog(Ls, c * Ls**slope, "-", color="k", lw=1,
              label=f"fit: slope {slope:.3f} (seeds {per_seed})")
    ax.loglog(Ls, m.values[0] * Ls[0] / Ls, ":", color="0.5", label="slope −1 (forward Euler)")
    ax.set_xlabel("layers L")
    ax.set_ylabel("‖y_L − y(T)‖ (RMS over inputs)")
    ax.set_title("α = T/L: the net converges to the ODE flow")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax = axes[1]
    for name, col in (("T/L", "C0"), ("1", "C3")):
        g = df[(df.alpha == name) & df.cauchy_next.notna()].groupby("layers").cauchy_next.mean()
        ax.loglog(g.index, g.values, "o-", color=col, label=f"α = {name}")
    ax.set_xlabel("layers L")
    ax.set_ylabel("‖y_2L − y_L‖ (next depth in the list)")
    ax.set_title("Successive depths: α = 1 has no limit")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def trajectory_figure(cfg: dict):
    """One hidden feature of one input across layer time t = k T / L, for several L, beside
    the ODE flow (the pair whose coarsest-net error is largest, so the gap is visible)."""
    plt = _plt()
    w = SmoothWeights(cfg["features"], cfg["T"], cfg["modes"], cfg["scale"], cfg["seeds"][0])
    y0 = torch.randn(cfg["examples"], cfg["features"], dtype=torch.float64,
                     generator=torch.Generator().manual_seed(10_000 + cfg["seeds"][0]))
    ref = reference_flow(w, y0, cfg["reference_steps"], trajectory=True)
    L0 = cfg["layers"][0]
    with torch.no_grad():
        coarse = ResidualMLP(w, L0, cfg["T"] / L0)(y0)
    ex, ft = np.unravel_index(int((coarse - ref[-1]).abs().argmax()), coarse.shape)
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.8))
    t_ref = np.linspace(0, cfg["T"], len(ref))
    Ls = [cfg["layers"][0], cfg["layers"][len(cfg["layers"]) // 2], cfg["layers"][-1]]
    for i, L in enumerate(dict.fromkeys(Ls)):
        with torch.no_grad():
            tr = ResidualMLP(w, L, cfg["T"] / L)(y0, trajectory=True)[:, ex, ft]
            tr1 = ResidualMLP(w, L, 1.0)(y0, trajectory=True)[:, ex, ft]
        axes[0].plot(np.linspace(0, cfg["T"], L + 1), tr, ".-" if L <= 64 else "-", ms=5,
                     lw=1, color=f"C{i}", label=f"L = {L}")
        axes[1].plot(np.arange(L + 1), tr1, "-", lw=3.0 - 0.9 * i, color=f"C{i}", label=f"L = {L}")
    axes[0].plot(t_ref, ref[:, ex, ft], "k--", lw=1.2, label="ODE flow (RK4)")
    axes[0].set_xlabel("layer time t = k·T/L")
    axes[0].set_title("α = T/L: the hidden state approaches the ODE trajectory")
    axes[1].set_xlabel("layer k")
    axes[1].set_title("α = 1: the hidden state drifts with depth")
    for ax in axes:
        ax.set_ylabel(f"feature {ft + 1} of input {ex + 1}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- config
def read_config(p: dict) -> dict:
    sec = f"{PAPER}.{STAGE}"

    def seed(v, name):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ParamError(name, f"is {v!r}", "an integer >= 0")
        return v

    cfg = {
        "T": get_number(p, "T", sec, gt=0),
        "layers": get_list(p, "layers", positive_int, sec),
        "features": get_number(p, "features", sec, kind=int, gt=0),
        "examples": get_number(p, "examples", sec, kind=int, gt=0),
        "modes": get_number(p, "modes", sec, kind=int, gt=0),
        "scale": get_number(p, "scale", sec, gt=0),
        "reference_steps": get_number(p, "reference_steps", sec, kind=int, gt=0),
        "seeds": get_list(p, "seeds", seed, sec),
        "slope_tolerance": get_number(p, "slope_tolerance", sec, gt=0),
        "threads": get_threads(p, "threads", sec),
    }
    cfg["layers"] = sorted(set(cfg["layers"]))
    if len(cfg["layers"]) < 3:
        raise ParamError(f"{sec}.layers", f"is {cfg['layers']!r}", "at least three depths")
    if cfg["reference_steps"] < 4 * cfg["layers"][-1]:
        raise ParamError(f"{sec}.reference_steps", f"is {cfg['reference_steps']}",
                         f">= 4 × the largest depth ({4 * cfg['layers'][-1]})")
    return cfg


def main() -> None:
    cfg = read_config(load_params(f"{PAPER}.{STAGE}"))
    set_threads(cfg["threads"])  # tiny tensors: one thread avoids contention
    df = run(cfg)
    slope_df = slopes(df)
    claims = make_claims(df, slope_df, cfg["slope_tolerance"])
    title = "The lecture's ResNet-as-Euler limit: α = T/L converges to an ODE flow, α = 1 not"
    with StageOutputs(PAPER, STAGE, title) as out:
        out.params(cfg)
        out.text(
            f"Residual MLPs y ← y + α·tanh(y W(t_k)ᵀ + b(t_k)) on {cfg['features']} features, "
            f"L = {cfg['layers']} layers, whose weights sample one fixed smooth random function "
            f"of time ({cfg['modes']} cosine modes on [0, T], T = {cfg['T']}) at the layer "
            f"times t_k = k·T/L. With α = T/L the net is L forward-Euler steps of "
            "dy/dt = tanh(y W(t)ᵀ + b(t)); its output is compared with that ODE's flow "
            f"(RK4, {cfg['reference_steps']} steps) for {cfg['examples']} random inputs "
            f"and seeds {cfg['seeds']} (one weight function per seed).\n\n"
            "With α = 1 the same layers add L increments of size O(1): the output moves "
            "further with every doubling of L and there is no limit."
        )
        out.csv(STAGE, df, show=True, caption="Distance to the ODE flow and to the next depth",
                max_rows=40)
        out.csv(f"{STAGE}_slopes", slope_df)
        out.figure("error", error_figure(df, slope_df),
                   "Left: distance of the net's output to the ODE flow against depth L for "
                   "α = T/L (log-log), with the fitted slope. Right: distance between "
                   "successive depths, α = T/L vs α = 1.")
        out.figure("trajectory", trajectory_figure(cfg),
                   "One hidden feature across the layers: for α = T/L it follows the ODE "
                   "trajectory more closely as L grows; for α = 1 it drifts.")
        out.metrics({"slope_mean": float(slope_df.slope.mean()),
                     **{f"slope.seed{int(r.seed)}": r.slope for r in slope_df.itertuples()}})
        out.claims(claims)


if __name__ == "__main__":
    run_main(main, f"{PAPER}.{STAGE}")
