"""nnde: deep networks as discretised differential equations.

Two axes run through the package: *integrators* (``nnde.integrators``) and *vector
fields* (``nnde.fields``); layers (``nnde.layers``) are their product.
"""

__version__ = "0.1.0"
