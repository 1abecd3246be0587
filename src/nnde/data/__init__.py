"""Data sets: MNIST-1D and bundled digits (small profiles), MNIST and CIFAR-10 file loaders (paper
profiles), and the 2-D sets of Haber & Ruthotto."""

from .cifar import load_cifar10, read_cifar_bin
from .digits import Split, digits_split, stratified_split
from .mnist import load_mnist, read_idx
from .mnist1d import generate_mnist1d, load_mnist1d, read_mnist1d, write_mnist1d
from .toy2d import TOY2D, ellipses, pad_features, peaks, swiss_roll, toy2d_split  # noqa: F401

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
