"""Hamiltonian (reversible) stacks: Haber–Ruthotto's dense network, Chang et al.'s
two-layer block, and Ruthotto–Haber's hyperbolic CNN."""

from __future__ import annotations

import torch
from torch import nn

from nnde.errors import ParamError
from nnde.fields import HamiltonianField, SymmetricConvField, SymmetricField
from nnde.layers._base import Stack, check_depth_h


class HamiltonianNet(Stack):
    """Hamiltonian network, two forms.

    ``form="haber_ruthotto"`` (Haber and Ruthotto, 2017; the authors' Verlet code): for
    the Hamiltonian system y' = σ(K z + b), z' = −σ(Kᵀ y + b),

        Z_{k+1} = Z_k − h σ(K_kᵀ Y_k + b_k)
        Y_{k+1} = Y_k + h σ(K_k Z_{k+1} + b_k),       Z_0 = 0.

    With Z on the half steps this is the leapfrog/Störmer–Verlet scheme on a staggered
    grid (written on integer steps, it is ``symplectic_euler``). Input Y_0 (batch, width),
    output Y_L (batch, width); ``flow(Y, Z)`` returns both, ``inverse`` undoes it.

    ``form="chang"`` (Chang et al., 2018, two-layer Hamiltonian block): the input
    (batch, width), width even, is split into halves (Y, Z) and

        Y_{k+1} = Y_k + h K_{k1}ᵀ σ(K_{k1} Z_k + b_{k1})
        Z_{k+1} = Z_k − h K_{k2}ᵀ σ(K_{k2} Y_{k+1} + b_{k2}),

    two weight sets per step; the output is [Y_L, Z_L] of the same shape.

    Both are symplectic and exactly invertible (``inverse``), so activations need not be
    stored for backprop in principle.
    """

    def __init__(
        self, width, depth, h=1.0, activation="tanh", bias=True, form="haber_ruthotto", hidden=None
    ):
        super().__init__()
        self.depth, self.h = check_depth_h(depth, h)
        if form not in ("haber_ruthotto", "chang"):
            raise ParamError("form", f"unknown Hamiltonian form {form!r}", "haber_ruthotto, chang")
        self.form = form
        if form == "haber_ruthotto":
            self.width = width
            self.fields = nn.ModuleList(
                HamiltonianField(width, activation=activation, bias=bias) for _ in range(depth)
            )
        else:
            if width % 2:
                raise ParamError("width", f"must be even for form='chang' (halves), got {width}")
            self.width = width // 2
            kw = dict(width=self.width, hidden=hidden, activation=activation, bias=bias)
            self.fields = nn.ModuleList(SymmetricField(**kw) for _ in range(depth))
            self.fields2 = nn.ModuleList(SymmetricField(**kw) for _ in range(depth))

    def _step(self, k, Y, Z):
        h, t = self.h, k * self.h
        if self.form == "haber_ruthotto":
            f = self.fields[k]
            Z = Z + h * f.fp(t, Y)
            Y = Y + h * f.fq(t, Z)
        else:  # SymmetricField is −Kᵀσ(K x + b)
            Y = Y - h * self.fields[k](t, Z)
            Z = Z + h * self.fields2[k](t, Y)
        return Y, Z

    def _inverse_step(self, k, Y, Z):
        h, t = self.h, k * self.h
        if self.form == "haber_ruthotto":
            f = self.fields[k]
            Y = Y - h * f.fq(t, Z)
            Z = Z - h * f.fp(t, Y)
        else:
            Z = Z - h * self.fields2[k](t, Y)
            Y = Y + h * self.fields[k](t, Z)
        return Y, Z

    def flow(self, Y, Z, return_states=False):
        """(Y_0, Z_0) → (Y_L, Z_L); with ``return_states`` two tensors (L + 1, ...)."""
        ys, zs = [Y], [Z]
        for k in range(self.depth):
            Y, Z = self._step(k, Y, Z)
            ys.append(Y)
            zs.append(Z)
        return (torch.stack(ys), torch.stack(zs)) if return_states else (Y, Z)

    def inverse(self, Y, Z):
        """(Y_L, Z_L) → (Y_0, Z_0), running the steps backwards exactly."""
        for k in reversed(range(self.depth)):
            Y, Z = self._inverse_step(k, Y, Z)
        return Y, Z

    def forward(self, y, return_states=False):
        if self.form == "haber_ruthotto":
            out = self.flow(y, torch.zeros_like(y), return_states)
            return out[0]
        Y, Z = y.split(self.width, dim=1)
        Y, Z = self.flow(Y, Z, return_states)
        return torch.cat([Y, Z], dim=Y.dim() - 1)  # the feature dim, stacked or not


class HyperbolicCNN(Stack):
    """Hamiltonian (hyperbolic) CNN block of Ruthotto and Haber (2020), Verlet scheme for
    the second-order-in-time PDE written as the system ∂_t Y = F_sym(θ¹, Z),
    ∂_t Z = −F_sym(θ², Y):

        Y_{j+1} = Y_j + h F_sym(θ¹_j, Z_j)
        Z_{j+1} = Z_j − h F_sym(θ²_j, Y_{j+1}),       F_sym(θ, X) = −Kᵀσ(N(K X + b)).

    The channels are split in halves: input (batch, C, H, W) (``dims=2``, the default)
    or (batch, C, L) (``dims=1``, signals, 3-tap kernels), C even, Y = first C/2
    channels, Z = the rest; output of the same shape. Reversible (``inverse``);
    about half the weights of the parabolic block of the same width.
    """

    def __init__(
        self,
        channels,
        depth=3,
        h=1.0,
        activation="relu",
        norm="tv",
        hidden=None,
        bias=True,
        dims=2,
    ):
        super().__init__()
        self.depth, self.h = check_depth_h(depth, h)
        if channels % 2:
            raise ParamError("channels", f"must be even (split in halves), got {channels}")
        self.half = channels // 2
        kw = dict(
            channels=self.half,
            hidden=hidden,
            activation=activation,
            norm=norm,
            bias=bias,
            dims=dims,
        )
        self.fields = nn.ModuleList(SymmetricConvField(**kw) for _ in range(self.depth))
        self.fields2 = nn.ModuleList(SymmetricConvField(**kw) for _ in range(self.depth))

    def forward(self, x, return_states=False):
        Y, Z = x.split(self.half, dim=1)
        states = [x]
        for k in range(self.depth):
            t = k * self.h
            Y = Y + self.h * self.fields[k](t, Z)
            Z = Z - self.h * self.fields2[k](t, Y)
            if return_states:
                states.append(torch.cat([Y, Z], dim=1))
        return torch.stack(states) if return_states else torch.cat([Y, Z], dim=1)

    def inverse(self, x):
        """The output of ``forward`` → its input, running the Verlet steps backwards."""
        Y, Z = x.split(self.half, dim=1)
        for k in reversed(range(self.depth)):
            t = k * self.h
            Z = Z + self.h * self.fields2[k](t, Y)
            Y = Y - self.h * self.fields[k](t, Z)
        return torch.cat([Y, Z], dim=1)
