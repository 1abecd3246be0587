"""Layers = integrator × vector field, each a whole stack of L steps (``nn.Module``).

Registry ``LAYERS`` (name → class); ``get_layer(name, **kwargs)`` builds one.

=================  ==============================================  =====================
name               scheme                                          reference
=================  ==============================================  =====================
plain              y ← σ(K y + b) (no skip)                        He et al. 2016
residual           forward Euler on σ(K y + b)                     He 2016; Haber 2017
rk                 any explicit RK on σ(K y + b)                   Chen et al. 2018
field_net          any explicit RK × any registered field          —
antisymmetric      forward Euler on σ((K − Kᵀ − γI) y + b)         Haber–Ruthotto 2017
hamiltonian        Verlet (Haber–Ruthotto) or Chang two-layer      H–R 2017; Chang 2018
second_order       leapfrog, Y'' = −Kᵀσ(K Y + b)                   Haber–Ruthotto 2017
parabolic_cnn      forward Euler on −Kᵀσ(N(K Y)), 3×3 conv          Ruthotto–Haber 2020
hyperbolic_cnn     Verlet, channel halves                          Ruthotto–Haber 2020
second_order_cnn   leapfrog on −Kᵀσ(N(K Y))                         Ruthotto–Haber 2020
ode_block          solve on [0, T], direct or adjoint gradient     Chen et al. 2018
=================  ==============================================  =====================
"""

from __future__ import annotations

from nnde.errors import UnknownNameError
from nnde.layers.hamiltonian import HamiltonianNet, HyperbolicCNN
from nnde.layers.ode_block import TORCHDIFFEQ_NAMES, ODEBlock
from nnde.layers.second_order import SecondOrderCNN, SecondOrderNet
from nnde.layers.stacks import (
    AntisymmetricNet,
    FieldNet,
    ParabolicCNN,
    PlainNet,
    ResidualNet,
    RKNet,
)

LAYERS = {
    "plain": PlainNet,
    "residual": ResidualNet,
    "rk": RKNet,
    "field_net": FieldNet,
    "antisymmetric": AntisymmetricNet,
    "hamiltonian": HamiltonianNet,
    "second_order": SecondOrderNet,
    "parabolic_cnn": ParabolicCNN,
    "hyperbolic_cnn": HyperbolicCNN,
    "second_order_cnn": SecondOrderCNN,
    "ode_block": ODEBlock,
}


def get_layer(name, **kwargs):
    """Build the layer stack registered as ``name``; unknown names list the valid ones."""
    try:
        cls = LAYERS[name]
    except (KeyError, TypeError):
        raise UnknownNameError("layer", name, list(LAYERS)) from None
    return cls(**kwargs)


__all__ = [
    "LAYERS",
    "get_layer",
    "PlainNet",
    "FieldNet",
    "ResidualNet",
    "RKNet",
    "AntisymmetricNet",
    "ParabolicCNN",
    "HamiltonianNet",
    "HyperbolicCNN",
    "SecondOrderNet",
    "SecondOrderCNN",
    "ODEBlock",
    "TORCHDIFFEQ_NAMES",
]
