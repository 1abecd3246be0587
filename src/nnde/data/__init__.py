"""Data sets: bundled digits (small profiles), MNIST and CIFAR-10 file loaders (paper
profiles), and the 2-D sets of Haber & Ruthotto."""

from .cifar import load_cifar10, read_cifar_bin
from .digits import Split, digits_split, stratified_split
from .mnist import load_mnist, read_idx
from .toy2d import TOY2D, ellipses, pad_features, peaks, swiss_roll, toy2d_split  # noqa: F401

__all__ = [
    "Split",
    "digits_split",
    "load_cifar10",
    "load_mnist",
    "read_cifar_bin",
    "read_idx",
    "stratified_split",
]
