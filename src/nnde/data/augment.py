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


def shift(x: torch.Tensor, gen: torch.Generator, pad: int = 3) -> torch.Tensor:
    """The 1-D analogue of pad-and-crop for signals ``(N, C, L)``: zero-pad by ``pad``
    samples at both ends and take a random window of length ``L``, i.e. shift each signal
    by a uniform offset in ``−pad … pad`` with zeros (the training mean, after
    normalisation) shifted in. No flip: a reversed MNIST-1D signal is not its digit's
    template read the other way, so flipping is not label-preserving there (unlike a
    mirrored photograph). Draws one offset per signal."""
    if x.ndim != 3:
        raise ValueError(f"shift takes signals (N, C, L), got shape {tuple(x.shape)}")
    n, _, L = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad))
    off = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    idx = (off[:, None] + torch.arange(L))[:, None, :].expand(-1, x.shape[1], -1)
    return padded.gather(2, idx.to(x.device)).contiguous()


def shift_fn(pad: int):
    """:func:`shift` with a fixed ``pad``, as a training hook."""
    return functools.partial(shift, pad=pad)
