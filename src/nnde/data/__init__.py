"""Data sets: MNIST-1D and bundled digits (small profiles), MNIST and CIFAR-10 file loaders (paper
profiles), and the 2-D sets of Haber & Ruthotto.

The loaders load on first use (``from nnde.data import load_mnist1d``), so that a module
without torch, such as :mod:`nnde.data.poly1d`, imports without it."""

from __future__ import annotations

import importlib

#: name → the module that defines it
_LAZY = {
    "load_cifar10": "cifar", "read_cifar_bin": "cifar",
    "Split": "digits", "digits_split": "digits", "stratified_split": "digits",
    "load_mnist": "mnist", "read_idx": "mnist",
    "generate_mnist1d": "mnist1d", "load_mnist1d": "mnist1d", "read_mnist1d": "mnist1d",
    "write_mnist1d": "mnist1d",
    "TOY2D": "toy2d", "ellipses": "toy2d", "pad_features": "toy2d", "peaks": "toy2d",
    "swiss_roll": "toy2d", "toy2d_split": "toy2d",
}

__all__ = [
    "Split",
    "digits_split",
    "generate_mnist1d",
    "load_cifar10",
    "load_mnist",
    "load_mnist1d",
    "read_cifar_bin",
    "read_idx",
    "read_mnist1d",
    "write_mnist1d",
    "stratified_split",
]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
