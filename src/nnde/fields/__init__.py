"""Vector fields f(t, y): ``nn.Module``s with ``forward(t, y)``, batch first.

Dense fields take y of shape (batch, width); convolutional ones (batch, C, H, W), or
(batch, C, L) when built with ``dims=1`` (1-D signals). Each is written for one example
as a column vector (σ(K y + b)) and applied row-wise (σ(y Kᵀ + b), the nn.Linear
convention). ``t`` may be a float or a 0-d tensor.

Registry ``FIELDS`` (name → class); ``get_field(name, **kwargs)`` builds one.
"""

from __future__ import annotations

from nnde.errors import UnknownNameError
from nnde.fields._common import ACTIVATIONS, append_time, get_activation, tv_norm
from nnde.fields.conv import ODENetConvField, SymmetricConvField
from nnde.fields.dense import AntisymmetricField, DenseField, HamiltonianField, SymmetricField

FIELDS = {
    "dense": DenseField,
    "antisymmetric": AntisymmetricField,
    "hamiltonian": HamiltonianField,
    "symmetric": SymmetricField,
    "symmetric_conv": SymmetricConvField,
    "odenet_conv": ODENetConvField,
}


def get_field(name, **kwargs):
    """Build the field registered as ``name``; unknown names list the valid ones."""
    try:
        cls = FIELDS[name]
    except (KeyError, TypeError):
        raise UnknownNameError("field", name, list(FIELDS)) from None
    return cls(**kwargs)


__all__ = [
    "FIELDS",
    "get_field",
    "DenseField",
    "AntisymmetricField",
    "HamiltonianField",
    "SymmetricField",
    "SymmetricConvField",
    "ODENetConvField",
    "ACTIVATIONS",
    "get_activation",
    "tv_norm",
    "append_time",
]
