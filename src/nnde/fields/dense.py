"""Dense vector fields f(t, y), y of shape (batch, width): rows are examples.

Every field is written for one example as a column vector, e.g. f(y) = σ(K y + b), and
applied row-wise, y ↦ σ(y Kᵀ + b) (the nn.Linear convention). Haber and Ruthotto (2017)
write rows as Y K; their K is our Kᵀ, which reverses, e.g., the sense of rotation of
K₀ = [[0, −1], [1, 0]].
"""

from __future__ import annotations

import math

import torch
from torch import nn

from nnde.errors import ParamError
from nnde.fields._common import append_time, get_activation, tv_norm


def _check_width(width, key="width"):
    if isinstance(width, bool) or not isinstance(width, int) or width <= 0:
        raise ParamError(key, f"must be a positive integer, got {width!r}")


def _normal(rows, cols, scale):
    return nn.Parameter(torch.randn(rows, cols) * (scale / math.sqrt(cols)))


class DenseField(nn.Module):
    """f(t, y) = σ(K y + b) (Haber and Ruthotto, 2017, eq. for the ResNet ODE).

    K: (width, width) — or (width, width + 1) with ``time_input``, where t is appended
    to y as one more feature. Shapes: y (batch, width) → (batch, width).
    """

    def __init__(self, width, activation="tanh", bias=True, time_input=False, init_scale=1.0):
        super().__init__()
        _check_width(width)
        self.width = width
        self.time_input = time_input
        self.sigma = get_activation(activation)
        self.K = _normal(width, width + int(time_input), init_scale)
        self.b = nn.Parameter(torch.zeros(width)) if bias else None

    def forward(self, t, y):
        if self.time_input:
            y = append_time(t, y)
        return self.sigma(nn.functional.linear(y, self.K, self.b))


class AntisymmetricField(nn.Module):
    """f(t, y) = σ((K − Kᵀ − γI) y + b) (Haber and Ruthotto, 2017, antisymmetric net).

    K − Kᵀ has purely imaginary eigenvalues; −γI (γ ≥ 0 small, the authors' code uses
    1e-4) shifts them left, so the Jacobian diag(σ')(K − Kᵀ − γI) has
    −γ·max σ' ≤ Re λ ≤ −γ·min σ' ≤ 0. Shapes: (batch, width) → (batch, width).
    """

    def __init__(self, width, gamma=1e-4, activation="tanh", bias=True, init_scale=1.0):
        super().__init__()
        _check_width(width)
        if gamma < 0:
            raise ParamError("gamma", f"must be >= 0, got {gamma}")
        self.width = width
        self.gamma = gamma
        self.sigma = get_activation(activation)
        self.K = _normal(width, width, init_scale)
        self.b = nn.Parameter(torch.zeros(width)) if bias else None

    def matrix(self):
        """The effective matrix K − Kᵀ − γI."""
        eye = torch.eye(self.width, dtype=self.K.dtype, device=self.K.device)
        return self.K - self.K.T - self.gamma * eye

    def forward(self, t, y):
        return self.sigma(nn.functional.linear(y, self.matrix(), self.b))


class HamiltonianField(nn.Module):
    """The Hamiltonian pair of Haber and Ruthotto (2017):

        y' = σ(K z + b),      z' = −σ(Kᵀ y + b),

    a separable system (y plays q, z plays p) with a shared K (width × width), b.
    ``forward(t, x)`` acts on the concatenation x = [y, z] of shape (batch, 2·width) so
    any method can integrate it; ``pair`` gives (fq, fp) = (z ↦ y', y ↦ z') for the
    symplectic methods: ``solve(field.pair, (y0, z0), ...)``.
    """

    def __init__(self, width, activation="tanh", bias=True, init_scale=1.0):
        super().__init__()
        _check_width(width)
        self.width = width
        self.sigma = get_activation(activation)
        self.K = _normal(width, width, init_scale)
        self.b = nn.Parameter(torch.zeros(width)) if bias else None

    def fq(self, t, z):
        """y' as a function of z: σ(K z + b)."""
        return self.sigma(nn.functional.linear(z, self.K, self.b))

    def fp(self, t, y):
        """z' as a function of y: −σ(Kᵀ y + b)."""
        return -self.sigma(nn.functional.linear(y, self.K.T, self.b))

    @property
    def pair(self):
        return (self.fq, self.fp)

    def forward(self, t, x):
        y, z = x.split(self.width, dim=1)
        return torch.cat([self.fq(t, z), self.fp(t, y)], dim=1)


class SymmetricField(nn.Module):
    """f(t, y) = −Kᵀ σ(N(K y + b)) (Ruthotto and Haber, 2020, the parabolic layer).

    K: (hidden, width), hidden defaults to width. Without normalisation the Jacobian
    −Kᵀ diag(σ'(K y + b)) K is symmetric negative semi-definite for non-decreasing σ, so
    the flow is contractive. ``norm="tv"`` applies TV normalisation per example across
    the hidden features (ε = 1e-3), as the paper does per pixel across channels; it
    breaks the exact symmetry of the Jacobian. ``time_input`` appends t to y before K
    (the transpose uses only the y columns, so the Jacobian in y keeps its structure).
    Shapes: (batch, width) → (batch, width).
    """

    def __init__(
        self,
        width,
        hidden=None,
        activation="tanh",
        bias=True,
        norm=None,
        time_input=False,
        init_scale=1.0,
        eps=1e-3,
    ):
        super().__init__()
        _check_width(width)
        hidden = width if hidden is None else hidden
        _check_width(hidden, "hidden")
        if norm not in (None, "tv"):
            raise ParamError("norm", f"unknown normalisation {norm!r}", "None, 'tv'")
        self.width = width
        self.time_input = time_input
        self.norm = norm
        self.eps = eps
        self.sigma = get_activation(activation)
        self.K = _normal(hidden, width + int(time_input), init_scale)
        self.b = nn.Parameter(torch.zeros(hidden)) if bias else None

    def forward(self, t, y):
        x = append_time(t, y) if self.time_input else y
        u = nn.functional.linear(x, self.K, self.b)
        if self.norm == "tv":
            u = tv_norm(u, self.eps)
        return -self.sigma(u) @ self.K[:, : self.width]
