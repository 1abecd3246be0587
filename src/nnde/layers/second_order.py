"""Second-order (leapfrog) stacks: Haber–Ruthotto's dense network and Ruthotto–Haber's
second-order CNN."""

from __future__ import annotations

import torch
from torch import nn

from nnde.errors import ParamError
from nnde.fields import SymmetricConvField, SymmetricField
from nnde.layers._base import Stack, check_depth_h


class _LeapfrogStack(Stack):
    """Y_{k+1} = 2Y_k − Y_{k−1} + h² F_k(Y_k) with F_k(Y) = −K_kᵀσ(N(K_k Y + b_k)) and
    Y_{−1} = Y_0 (the start the papers use)."""

    def _accel(self, k, Y):
        return self.fields[k](k * self.h, Y)

    def flow(self, Y0, Y_prev=None, return_states=False):
        """Y_0 (and Y_{−1}, default Y_0) → (Y_L, Y_{L−1}); with ``return_states`` the
        tensor (L + 1, ...) of Y_0..Y_L instead."""
        h2 = self.h * self.h
        Y, Yp = Y0, (Y0 if Y_prev is None else Y_prev)
        states = [Y0]
        for k in range(self.depth):
            Y, Yp = 2 * Y - Yp + h2 * self._accel(k, Y), Y
            states.append(Y)
        return torch.stack(states) if return_states else (Y, Yp)

    def inverse(self, Y_last, Y_before):
        """(Y_L, Y_{L−1}) → (Y_0, Y_{−1}): Y_{k−1} = 2Y_k − Y_{k+1} + h² F_k(Y_k)."""
        h2 = self.h * self.h
        Yn, Y = Y_last, Y_before  # Y_{k+1}, Y_k with k = L − 1
        for k in reversed(range(self.depth)):
            Yn, Y = Y, 2 * Y - Yn + h2 * self._accel(k, Y)
        return Yn, Y

    def forward(self, y, return_states=False):
        return self.flow(y, None, return_states) if return_states else self.flow(y)[0]


class SecondOrderNet(_LeapfrogStack):
    """Second-order network (Haber and Ruthotto, 2017), leapfrog for
    Y'' = −K(t)ᵀ σ(K(t) Y + b(t)):

        Y_{k+1} = 2Y_k − Y_{k−1} − h² K_kᵀ σ(K_k Y_k + b_k),     Y_{−1} = Y_0.

    Reversible: ``inverse(Y_L, Y_{L−1})`` recovers (Y_0, Y_{−1}). K_k: (hidden, width).
    Shapes: (batch, width) → (batch, width).
    """

    def __init__(self, width, depth, h=1.0, activation="tanh", bias=True, hidden=None):
        super().__init__()
        self.depth, self.h = check_depth_h(depth, h)
        self.fields = nn.ModuleList(
            SymmetricField(width, hidden=hidden, activation=activation, bias=bias)
            for _ in range(self.depth)
        )


class SecondOrderCNN(_LeapfrogStack):
    """Second-order CNN block (Ruthotto and Haber, 2020), leapfrog for the wave-like PDE
    ∂²_t Y = F_sym(θ(t), Y) = −K(t)ᵀ σ(N(K(t) Y + b(t))), K a 3×3 convolution (3-tap
    for ``dims=1``):

        Y_{j+1} = 2Y_j − Y_{j−1} + h² F_sym(θ_j, Y_j),     Y_{−1} = Y_0.

    Stable for constant θ and |σ(x)| ≤ |x| (Theorem 2). Shapes: (batch, C, H, W) →
    (batch, C, H, W) (``dims=2``, the default); (batch, C, L) → (batch, C, L)
    (``dims=1``, signals).
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
        if norm not in (None, "tv"):
            raise ParamError("norm", f"unknown normalisation {norm!r}", "None, 'tv'")
        self.fields = nn.ModuleList(
            SymmetricConvField(
                channels, hidden=hidden, activation=activation, norm=norm, bias=bias, dims=dims
            )
            for _ in range(self.depth)
        )
