"""Data augmentation drawn from the training loop's seeded generator (an ``augment``
hook of :func:`nnde.train.train_classifier`: ``augment(x, gen) -> x``)."""

from __future__ import annotations

import functools

import torch


def crop_flip(x: torch.Tensor, gen: torch.Generator, pad: int = 4) -> torch.Tensor:
    """The standard CIFAR augmentation (He et al. 2016, §4.2): zero-pad images
    ``(N, C, H, W)`` by ``pad`` pixels, crop a random ``H × W`` window, flip
    horizontally with probability 1/2. Draws, in this order: column offsets, row
    offsets, flips."""
    if x.ndim != 4:
        raise ValueError(f"crop_flip takes images (N, C, H, W), got shape {tuple(x.shape)}")
    n, _, H, W = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    flip = torch.rand(n, generator=gen) < 0.5
    rows = (dy[:, None] + torch.arange(H))[:, :, None]  # (n, H, 1)
    cols = dx[:, None] + torch.arange(W)  # (n, W)
    cols = torch.where(flip[:, None], cols.flip(1), cols)[:, None, :]  # (n, 1, W)
    out = padded[torch.arange(n)[:, None, None], :, rows, cols]  # (n, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()


def crop_flip_fn(pad: int):
    """:func:`crop_flip` with a fixed ``pad``, as a training hook."""
    return functools.partial(crop_flip, pad=pad)
