"""The Euler-limit stage's nets: a smooth random weight function of time, the residual MLP
that samples it at its layer times, and the ODE flow it converges to."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from nnde.integrators import solve


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
