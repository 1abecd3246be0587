"""Pieces the vector fields share: activations by name, TV normalisation, time input, and
the checks of the convolutional fields' spatial dimension."""

from __future__ import annotations

import numbers

import torch
from torch import nn

from nnde.errors import ParamError, UnknownNameError

ACTIVATIONS = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "softplus": nn.functional.softplus,
    "leaky_relu": nn.functional.leaky_relu,
    "identity": lambda x: x,
}


def get_activation(name):
    """An activation by name (or a callable, returned unchanged)."""
    if callable(name):
        return name
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise UnknownNameError("activation", name, list(ACTIVATIONS)) from None


def tv_norm(x: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Total-variation normalisation (Ruthotto and Haber, 2020): each pixel's channel
    vector divided by sqrt(Σ_c x_c² + ε). Channels are dim 1 for (B, C, L),
    (B, C, H, W) and (B, F) tensors alike."""
    return x / torch.sqrt(x.square().sum(dim=1, keepdim=True) + eps)


def append_time(t, x: torch.Tensor) -> torch.Tensor:
    """Append the time as one more channel (dim 1), constant over the other dims
    (Chen et al., 2018, ODE-Net). ``t`` may be a float or a 0-d tensor."""
    shape = (x.shape[0], 1, *x.shape[2:])
    if isinstance(t, torch.Tensor):
        tt = t.to(dtype=x.dtype, device=x.device).expand(shape)
    else:
        tt = x.new_full(shape, float(t))
    return torch.cat([x, tt], dim=1)


#: spatial dims of the convolutional fields → the input layout they take
CONV_LAYOUTS = {1: "(batch, C, L)", 2: "(batch, C, H, W)"}


def check_dims(dims) -> int:
    """``dims`` of a convolutional field or stack: 1 (signals) or 2 (images)."""
    if (
        isinstance(dims, bool)
        or not isinstance(dims, numbers.Integral)
        or int(dims) not in CONV_LAYOUTS
    ):
        raise ParamError(
            "dims",
            f"must be 1 (signals {CONV_LAYOUTS[1]}) or 2 (images {CONV_LAYOUTS[2]}), got {dims!r}",
            "1, 2",
        )
    return int(dims)


def check_conv_input(owner: str, dims: int, y: torch.Tensor) -> None:
    """Fail clearly when ``y`` is not batch × channels × ``dims`` spatial axes (conv2d
    would otherwise read a (C, H, W) tensor as one unbatched image, without a word)."""
    if y.dim() != dims + 2:
        raise ValueError(
            f"{owner}(dims={dims}) expects {CONV_LAYOUTS[dims]}, got shape {tuple(y.shape)}"
        )
