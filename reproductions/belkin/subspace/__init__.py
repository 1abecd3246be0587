"""Belkin et al. (2019) / the lecture: optimisation chooses the sub-space; regularisation.

Past the interpolation threshold (``M > n``) the equations ``A w = y`` have a whole
affine space of solutions ``w* + null(A)``, where ``w* = pinv(A) y`` is the one of minimum
norm. Gradient descent on ``½‖A w − y‖²`` moves only in the row space of ``A`` (every
gradient ``Aᵀ(A w − y)`` lies there), so

* started from ``w₀ = 0`` it converges to ``w*`` — the optimiser, not the loss, picks the
  minimum-norm interpolant;
* started from any ``w₀`` it converges to ``w* + P_null w₀``: the start's null-space
  component is never touched, and the distance to ``w*`` levels off at ``‖P_null w₀‖``.

Regularisation picks a solution explicitly: ridge regression
``argmin ‖A w − y‖² + λ‖w‖²`` damps the directions of small singular values, which are
what blow up at the threshold, and so flattens the double-descent peak.

The stage runs gradient descent (step ``1/σ_max²``) on the Legendre problem of the
polynomial stage at ``M = gd_factor · n`` from zero and from a random start, records the
distances over the iterations, and sweeps ridge fits over ``M`` for a few ``λ``. The same
iteration in the monomial basis is shown for contrast: its condition number makes plain
gradient descent far too slow to get there.

Modules: ``experiment`` (config, gradient descent, the ridge sweep), ``summary`` (medians
over seeds), ``claims``, ``figures``.
"""

PAPER = "belkin"
STAGE = "subspace"
TITLE = "Optimisation chooses the sub-space; regularisation"
