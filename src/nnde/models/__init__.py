"""Network architectures of the cited papers, one module per paper; each module's
docstring says which of its layers is a step of which time integrator for which ODE."""

from . import chen  # noqa: F401  (Chen et al. 2018: Table 1 classifiers, latent ODE, RNN)
from .he import CifarNet, cifar_net  # noqa: F401  (He et al. 2016, plain/residual 6n+2 nets)
from .ruthotto_haber import PDECNN, hand_count  # noqa: F401  (Ruthotto & Haber 2020, PDE CNNs)
