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

    def compile(self, **options):
        """Opt in to the compiled path: ``forward`` (all L steps) becomes one graph of
        ``torch.compile(fullgraph=True)``, compiled on the first call and again when a
        guard fails (see ``nnde.integrators.compiled``: grad mode, dtype, sizes).
        ``options`` are ``solve``'s ``compile=`` options (``backend``, ``mode``,
        ``dynamic``). The module and its ``state_dict`` are unchanged (no
        ``_orig_mod.`` prefix); ``compiled`` says whether it is on. Returns ``self``.
        """
        from nnde.integrators.compiled import options as compile_options

        opts = compile_options(dict(options))
        super().compile(fullgraph=True, **dict(opts))
        return self

    @property
    def compiled(self) -> bool:
        return getattr(self, "_compiled_call_impl", None) is not None
