"""One-step stacks: plain, residual (forward Euler), any explicit Runge–Kutta method,
antisymmetric, and Ruthotto–Haber's parabolic CNN.

All are batch first: dense stacks map (batch, width) → (batch, width), convolutional
ones (batch, C, H, W) → (batch, C, H, W), or (batch, C, L) → (batch, C, L) for 1-D
signals when built with ``dims=1``. Layer k (k = 0..L−1) has its own weights
θ_k and is evaluated at time t_k = k h.
"""

from __future__ import annotations

import torch
from torch import nn

from nnde.errors import ParamError
from nnde.fields import get_activation, get_field
from nnde.integrators import get_method
from nnde.integrators.tableau import _rk_combine, scaled_coefficients
from nnde.layers._base import Stack, check_depth_h


class PlainNet(Stack):
    """A plain network without skip connections: y_{k+1} = σ(K_k y_k + b_k).

    Not a discretised ODE: the baseline of He et al. (2016). Shapes: (batch, width) →
    (batch, width). ``h`` is kept for interface symmetry and unused.
    """

    def __init__(self, width, depth, activation="tanh", bias=True, h=1.0):
        super().__init__()
        self.depth, self.h = check_depth_h(depth, h)
        self.sigma = get_activation(activation)
        self.linears = nn.ModuleList(nn.Linear(width, width, bias=bias) for _ in range(depth))

    def forward(self, y, return_states=False):
        states = [y]
        for lin in self.linears:
            y = self.sigma(lin(y))
            states.append(y)
        return torch.stack(states) if return_states else y


class FieldNet(Stack):
    """Integrator × field: L steps of an explicit Runge–Kutta method, step k using its own
    field f_k (weights θ_k) for all of its stages:

        y_{k+1} = y_k + h Σ_i b_i f_k(t_k + c_i h, Y_i),   Y_i = y_k + h Σ_j a_ij k_j

    — the discretisation of y' = f(θ(t), y) on [0, L h]. With ``method="euler"`` this is
    a residual network (He et al., 2016; Haber and Ruthotto, 2017).

    field: a name in ``nnde.fields.FIELDS``; ``field_kwargs`` go to its constructor
    (e.g. width=..., activation=...; for the conv fields ``dims=1`` takes signals
    (batch, C, L), the default ``dims=2`` images (batch, C, H, W)).
    ``forward(y, return_states=False)``: with
    ``return_states`` a tensor (L + 1, *y.shape) of y_0..y_L.
    """

    def __init__(self, field="dense", method="euler", depth=1, h=1.0, **field_kwargs):
        super().__init__()
        self.depth, self.h = check_depth_h(depth, h)
        m = get_method(method)
        if m.kind != "explicit":
            raise ParamError(
                "method", f"{m.name!r} is {m.kind}; FieldNet takes explicit Runge–Kutta methods"
            )
        self.method = m
        self.fields = nn.ModuleList(get_field(field, **field_kwargs) for _ in range(self.depth))
        self.h = self._h  # computes the h-scaled coefficient lists once

    @property
    def h(self) -> float:
        return self._h

    @h.setter
    def h(self, value: float) -> None:
        # Changing the step size after construction must change the scheme too, so the
        # h-scaled coefficients are recomputed whenever h is set.
        _, self._h = check_depth_h(1, value)
        if "method" in self.__dict__:
            self._coef = scaled_coefficients(self.method.tableau, self._h)

    def step(self, k, y):
        """Layer k: one step of the method with field f_k."""
        stage_coef, b_coef = self._coef
        ks = [None] * self.method.stages
        return _rk_combine(
            self.fields[k], k * self.h, y, self.h, self.method.tableau.c, stage_coef, b_coef, ks
        )

    def forward(self, y, return_states=False):
        states = [y]
        for k in range(self.depth):
            y = self.step(k, y)
            states.append(y)
        return torch.stack(states) if return_states else y


class ResidualNet(FieldNet):
    """Residual network = forward Euler: y_{k+1} = y_k + h σ(K_k y_k + b_k), for the ODE
    y' = σ(K(t) y + b(t)) (He et al., 2016; Haber and Ruthotto, 2017). Shapes:
    (batch, width) → (batch, width)."""

    def __init__(self, width, depth, h=1.0, activation="tanh", bias=True):
        super().__init__("dense", "euler", depth, h, width=width, activation=activation, bias=bias)


class RKNet(FieldNet):
    """Any explicit Runge–Kutta method over the dense field σ(K_k y + b_k), one weight set
    per step (Chen et al., 2018, call the RK4 version "RK-Net"). Shapes: (batch, width)
    → (batch, width)."""

    def __init__(self, width, depth, h=1.0, method="rk4", activation="tanh", bias=True):
        super().__init__("dense", method, depth, h, width=width, activation=activation, bias=bias)


class AntisymmetricNet(FieldNet):
    """Antisymmetric network (Haber and Ruthotto, 2017):
    y_{k+1} = y_k + h σ((K_k − K_kᵀ − γI) y_k + b_k), forward Euler for an ODE whose
    Jacobian has eigenvalues with real part in [−γ max σ', 0] (nearly conservative).
    Shapes: (batch, width) → (batch, width)."""

    def __init__(
        self, width, depth, h=1.0, gamma=1e-4, activation="tanh", bias=True, method="euler"
    ):
        super().__init__(
            "antisymmetric",
            method,
            depth,
            h,
            width=width,
            gamma=gamma,
            activation=activation,
            bias=bias,
        )


class ParabolicCNN(FieldNet):
    """Parabolic CNN block (Ruthotto and Haber, 2020): forward Euler for the
    diffusion-like PDE ∂_t Y = F_sym(θ(t), Y) = −K(t)ᵀ σ(N(K(t) Y + b(t))), K a 3×3
    convolution (3-tap for ``dims=1``) and Kᵀ its transpose with the same weights:

        Y_{j+1} = Y_j − h K_jᵀ σ(N(K_j Y_j + b_j)).

    Stable for non-decreasing σ (Theorem 1); the paper uses 3 steps, h = 1, ReLU, TV
    normalisation. Shapes: (batch, C, H, W) → (batch, C, H, W) (``dims=2``, the
    default); (batch, C, L) → (batch, C, L) (``dims=1``, signals).
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
        super().__init__(
            "symmetric_conv",
            "euler",
            depth,
            h,
            channels=channels,
            hidden=hidden,
            activation=activation,
            norm=norm,
            bias=bias,
            dims=dims,
        )
