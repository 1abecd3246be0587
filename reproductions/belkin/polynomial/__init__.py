"""Belkin, Hsu, Ma, Mandal (2019), double descent — the lecture's polynomial version.

``n`` noisy samples ``y_i = f(x_i) + eps_i`` of a smooth target on [-1, 1] are fitted by
polynomials with ``M`` coefficients, ``M = 1 … max_factor * n``. Below the interpolation
threshold (``M < n``) the fit is the least-squares solution; at and above it there are
infinitely many interpolants and we take the one of minimum coefficient norm
(``numpy.linalg.lstsq``, i.e. the pseudo-inverse). Two bases span the same polynomial
space but measure "norm" differently:

* Legendre polynomials ``P_0 … P_{M-1}`` (nearly orthogonal on [-1, 1]): the test risk
  rises to a peak at ``M = n`` — the interpolant through noisy data — and falls again
  above it, the *second descent* of Belkin et al.;
* monomials ``1, x, …, x^{M-1}``: the Vandermonde matrix is badly conditioned, the
  minimum-norm solution in this basis puts its weight on high powers, and the second
  descent does not appear.

The stage measures, over several seeds (median and inter-quartile band): the test risk
(mean squared error against the noise-free target on a fine grid), the training risk, the
coefficient norm and the condition number of the design matrix, and draws the lecture's
fit panels (M = 2, 10, 20 for n = 10).

Modules: ``experiment`` (config, the sweep and the fit panels), ``summary`` (medians over
seeds), ``claims``, ``figures``.
"""

PAPER = "belkin"
STAGE = "polynomial"
TITLE = "Double descent with polynomials (lecture)"
#: the two bases of the polynomials (the run and the claims both name them)
from nnde.data.poly1d import BASES  # noqa: E402,F401  (the bases the stage sweeps)
