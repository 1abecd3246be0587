"""Pieces the vector fields share: activations by name, TV normalisation, time input."""

from __future__ import annotations

import torch
from torch import nn

from nnde.errors import UnknownNameError
from nnde.spatial import check_dims  # noqa: F401  (the fields' dims check)

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

