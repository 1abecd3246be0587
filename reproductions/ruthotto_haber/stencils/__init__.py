"""Ruthotto & Haber (2020), Section 2: convolutions are differential operators.

A 3-point stencil is a combination of reaction, convection and diffusion,

    w = β₁ [1 2 1]/4 + β₂ [−1 0 1]/(2h) + β₃ [−1 2 −1]/h²,

i.e. w = M(h) β with the three stencils as the columns of M(h). det M(h) = −1/h³, so the
map β ↦ w is non-singular for every h > 0: any 3-point stencil *is* such an operator,
and vice versa. A 3×3 kernel is W = M B Mᵀ (rows: vertical, columns: horizontal
direction), so B = M⁻¹ W M⁻ᵀ gives its nine coefficients β_ij of the products
(reaction | convection | diffusion) ⊗ (reaction | convection | diffusion).

This stage checks the determinant numerically over many decades of h, and decomposes
every 3×3 kernel of the trained ``table1`` networks (and of their initialisation) at
h = 1, grouping the coefficients by total derivative order: reaction (order 0),
convection (order 1), diffusion (order 2: ∂ₓₓ, ∂ᵧᵧ, ∂ₓ∂ᵧ) and higher (orders 3–4). The
share of each group is Σβ² in the group over Σβ² — a convention (the basis is not
orthogonal), stated here so the numbers are read as such. Random kernels already spread
Σβ² over every group, so the claim about trained kernels compares each kernel with its own
initialisation: how much of its Σβ² training moved from one group to another.

Results (``data/ruthotto_haber/stencils/``): ``determinant.csv`` and, with the trained
networks of the ``table1`` stage (``data/ruthotto_haber/table1/weights.npz``),
``shares.csv`` (per kernel, trained and initial). Judged: ``stencils_determinant.csv``,
``stencils_shares.csv``, ``stencils_shares_summary.csv``, metrics, claims, one figure.
"""

PAPER = "ruthotto_haber"
STAGE = "stencils"
TITLE = "Convolutions as differential operators: the β-map"
