"""1-D signals (batch, C, L) and 2-D images (batch, C, H, W): the one place that maps a
number of spatial dimensions to torch's layer families, for the convolutional fields and
the models built on them."""

from __future__ import annotations

import numbers
from typing import NamedTuple

from torch import nn
from torch.nn import functional as F

from nnde.errors import ParamError

#: spatial dims → the input layout they take
LAYOUTS = {1: "(batch, C, L)", 2: "(batch, C, H, W)"}


class TorchLayers(NamedTuple):
    conv: type
    batchnorm: type
    avgpool: type
    adaptive_avgpool: type
    conv_fn: object
    conv_transpose_fn: object


_LAYERS = {
    1: TorchLayers(nn.Conv1d, nn.BatchNorm1d, nn.AvgPool1d, nn.AdaptiveAvgPool1d,
                   F.conv1d, F.conv_transpose1d),
    2: TorchLayers(nn.Conv2d, nn.BatchNorm2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d,
                   F.conv2d, F.conv_transpose2d),
}


def check_dims(dims) -> int:
    """``dims`` of a convolutional field, layer or model: 1 (signals) or 2 (images)."""
    if (isinstance(dims, bool) or not isinstance(dims, numbers.Integral)
            or int(dims) not in LAYOUTS):
        raise ParamError(
            "dims",
            f"must be 1 (signals {LAYOUTS[1]}) or 2 (images {LAYOUTS[2]}), got {dims!r}",
            "1, 2",
        )
    return int(dims)


def torch_layers(dims) -> TorchLayers:
    """Conv, BatchNorm, AvgPool, AdaptiveAvgPool modules and the functional convolution and
    its adjoint for ``dims`` spatial dimensions (validated by :func:`check_dims`)."""
    return _LAYERS[check_dims(dims)]


def check_input(owner: str, dims: int, y) -> None:
    """Fail clearly when ``y`` is not batch × channels × ``dims`` spatial axes (conv2d
    would otherwise read a (C, H, W) tensor as one unbatched image, without a word)."""
    if y.dim() != dims + 2:
        raise ValueError(
            f"{owner}(dims={dims}) expects {LAYOUTS[dims]}, got shape {tuple(y.shape)}"
        )
