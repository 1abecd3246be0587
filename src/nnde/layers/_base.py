"""Shared helpers for the layer stacks."""

from __future__ import annotations

import numbers

from torch import nn

from nnde.errors import ParamError


def check_depth_h(depth, h):
    if isinstance(depth, bool) or not isinstance(depth, numbers.Integral) or depth <= 0:
        raise ParamError("depth", f"must be a positive integer, got {depth!r}")
    if isinstance(h, bool) or not isinstance(h, numbers.Real) or not h > 0:
        raise ParamError("h", f"must be a number > 0, got {h!r}")
    return int(depth), float(h)


class Stack(nn.Module):
    """Base of the L-step stacks: ``depth`` (number of steps L), ``h`` (step size),
    ``fields`` (one vector field, i.e. one weight set, per step), and
    ``T = depth · h`` (the final time of the underlying ODE)."""

    depth: int
    h: float

    @property
    def T(self) -> float:
        return self.depth * self.h
