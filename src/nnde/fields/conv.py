"""Convolutional vector fields f(t, Y): Y of shape (batch, C, L) for 1-D signals
(``dims=1``) or (batch, C, H, W) for images (``dims=2``, the default)."""

from __future__ import annotations

import math

import torch
from torch import nn

from nnde.errors import ParamError
from nnde.fields._common import append_time, get_activation, tv_norm
from nnde.spatial import check_dims, check_input, torch_layers


def _check_pos(x, key):
    if isinstance(x, bool) or not isinstance(x, int) or x <= 0:
        raise ParamError(key, f"must be a positive integer, got {x!r}")


class SymmetricConvField(nn.Module):
    """F_sym(Y) = −Kᵀ σ(N(K Y + b)) with K a convolution, 3×3 on images or 3-tap on
    signals (Ruthotto and Haber, 2020).

    ``dims=2``: K Y is ``conv2d(Y, K)`` and Kᵀ is its adjoint, ``conv_transpose2d(·, K)``
    with the *same* weight tensor (hidden, C, k, k). ``dims=1``: ``conv1d`` and
    ``conv_transpose1d`` with K of shape (hidden, C, k). Padding k//2 keeps L (or H, W).
    Without normalisation the Jacobian −Kᵀ diag(σ') K is symmetric negative
    semi-definite (the parabolic CNN is stable, Theorem 1). ``norm="tv"``: TV
    normalisation per pixel (per sample point) across channels, ε = 1e-3. ``time_input``:
    t is appended as an extra input channel of K (Chen et al., 2018); Kᵀ uses only the
    state channels.
    Shapes: (batch, C, L) → (batch, C, L) for ``dims=1``; (batch, C, H, W) →
    (batch, C, H, W) for ``dims=2``. Another number of dims is refused (ValueError).
    """

    def __init__(
        self,
        channels,
        hidden=None,
        kernel_size=3,
        activation="relu",
        bias=True,
        norm=None,
        time_input=False,
        init_scale=1.0,
        eps=1e-3,
        dims=2,
    ):
        super().__init__()
        self.dims = check_dims(dims)
        layers = torch_layers(self.dims)
        self._conv, self._conv_t = layers.conv_fn, layers.conv_transpose_fn
        _check_pos(channels, "channels")
        hidden = channels if hidden is None else hidden
        _check_pos(hidden, "hidden")
        _check_pos(kernel_size, "kernel_size")
        if kernel_size % 2 == 0:
            raise ParamError(
                "kernel_size", f"must be odd to keep the image size, got {kernel_size}"
            )
        if norm not in (None, "tv"):
            raise ParamError("norm", f"unknown normalisation {norm!r}", "None, 'tv'")
        self.channels = channels
        self.time_input = time_input
        self.norm = norm
        self.eps = eps
        self.pad = kernel_size // 2
        self.sigma = get_activation(activation)
        cin = channels + int(time_input)
        fan_in = cin * kernel_size**self.dims
        self.K = nn.Parameter(
            torch.randn(hidden, cin, *(kernel_size,) * self.dims) * (init_scale / math.sqrt(fan_in))
        )
        self.b = nn.Parameter(torch.zeros(hidden)) if bias else None

    def forward(self, t, y):
        check_input(type(self).__name__, self.dims, y)
        x = append_time(t, y) if self.time_input else y
        u = self._conv(x, self.K, self.b, padding=self.pad)
        if self.norm == "tv":
            u = tv_norm(u, self.eps)
        return -self._conv_t(self.sigma(u), self.K[:, : self.channels], padding=self.pad)


class ODENetConvField(nn.Module):
    """The ODE-Net block field of Chen et al. (2018):

        f(t, Y) = GN₃(conv₂([ReLU(GN₂(conv₁([ReLU(GN₁(Y)), t]))), t]))

    GroupNorm (min(32, C) groups) → ReLU → 3×3 conv with t appended as a channel →
    GroupNorm → ReLU → 3×3 conv with t appended → GroupNorm; with ``dims=1`` the
    convolutions are 3-tap ``nn.Conv1d`` instead of 3×3 ``nn.Conv2d``.
    Shapes: (B, C, L) → (B, C, L) for ``dims=1``; (B, C, H, W) → (B, C, H, W) for
    ``dims=2`` (the default). Another number of dims is refused (ValueError).
    """

    def __init__(self, channels, groups=None, time_input=True, dims=2):
        super().__init__()
        self.dims = check_dims(dims)
        _check_pos(channels, "channels")
        g = min(32, channels) if groups is None else groups
        if channels % g:
            raise ParamError("groups", f"{g} does not divide channels = {channels}")
        self.time_input = time_input
        extra = int(time_input)
        self.norm1 = nn.GroupNorm(g, channels)
        conv = torch_layers(self.dims).conv
        self.conv1 = conv(channels + extra, channels, 3, padding=1)
        self.norm2 = nn.GroupNorm(g, channels)
        self.conv2 = conv(channels + extra, channels, 3, padding=1)
        self.norm3 = nn.GroupNorm(g, channels)

    def _conv(self, conv, t, x):
        return conv(append_time(t, x) if self.time_input else x)

    def forward(self, t, y):
        check_input(type(self).__name__, self.dims, y)
        x = self._conv(self.conv1, t, torch.relu(self.norm1(y)))
        x = self._conv(self.conv2, t, torch.relu(self.norm2(x)))
        return self.norm3(x)
