"""Network architectures of the cited papers, one module per paper; each module's
docstring says which of its layers is a step of which time integrator for which ODE.

The modules load on first use (``nnde.models.he``, ``from nnde.models import cifar_net``),
so that importing :mod:`nnde.models.names` does not import torch."""

from __future__ import annotations

import importlib

#: name → (module, attribute; None: the module itself)
_LAZY = {
    "chen": ("chen", None),  # Chen et al. 2018: Table 1 classifiers, latent ODE, RNN
    "he": ("he", None),
    "ruthotto_haber": ("ruthotto_haber", None),
    "flows": ("flows", None),
    "CifarNet": ("he", "CifarNet"),  # He et al. 2016, plain/residual 6n+2 nets
    "cifar_net": ("he", "cifar_net"),
    "PDECNN": ("ruthotto_haber", "PDECNN"),  # Ruthotto & Haber 2020, PDE CNNs
    "hand_count": ("ruthotto_haber", "hand_count"),
}

__all__ = ["CifarNet", "PDECNN", "chen", "cifar_net", "hand_count"]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _LAZY[name]
    mod = importlib.import_module(f".{module}", __name__)
    return mod if attr is None else getattr(mod, attr)
