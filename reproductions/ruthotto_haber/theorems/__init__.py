"""Ruthotto & Haber (2020), Theorems 1 and 2 and reversibility, measured.

* **Theorem 1** (parabolic CNN): for non-decreasing σ the Jacobian of the symmetric field
  F_sym(Y) = −Kᵀσ(K Y + b) is −Kᵀ diag(σ′) K, symmetric negative semi-definite, so the
  flow is stable, ‖Y(T) − Ỹ(T)‖ ≤ ‖Y(0) − Ỹ(0)‖; forward Euler keeps this when
  |1 + h λ| ≤ 1 for every eigenvalue λ, i.e. h ≤ 2 / ‖K‖² for ReLU. We measure the
  ratio ‖Y(T) − Ỹ(T)‖ / ‖Y(0) − Ỹ(0)‖ over many random perturbations, for random and
  for trained weights, with the step-size condition met (h = h* = 0.9 · 2 / max‖K_j‖²)
  and violated (h = 4 h*), and for the blocks exactly as the network uses them (TV
  normalisation inside σ, h = 1) — where the hypothesis of the theorem is not met: with
  N the Jacobian is −Kᵀ diag(σ′) J_N K, and diag(σ′) J_N is not symmetric.
* **Theorem 2** (second-order CNN): with constant weights and |σ(x)| ≤ |x| the leapfrog
  solution stays bounded. For ReLU without normalisation the equation is Y″ = −∇Φ(Y),
  Φ(Y) = ½‖σ(K Y + b)‖², so E = ½‖Y′‖² + Φ(Y) is conserved by the flow; we follow the
  discrete energy E_{j+½} = ½‖(Y_{j+1} − Y_j)/h‖² + ½(Φ(Y_{j+1}) + Φ(Y_j)) over many
  steps, with h inside (h‖K‖ < 2) and outside the leapfrog stability limit.
* **Hamiltonian block**: the Verlet scheme is reversible; we measure
  ‖inverse(forward(Y)) − Y‖ / ‖Y‖ in float32 and float64.

Trained weights come from the ``table1`` stage's results
(``data/ruthotto_haber/table1/weights.npz``, read by
:func:`nnde.models.ruthotto_haber.load_trained`); their block inputs are the real features
of test images. All measurements in float64.

Results (``data/ruthotto_haber/theorems/``): ``ratios.csv`` (every measured ratio),
``summary.csv``, ``energy.csv``, ``energy_summary.csv``, ``reversibility.csv``,
``config.json``. Judged: the same tables as ``theorems_*.csv``, metrics, claims, figures.
"""

PAPER = "ruthotto_haber"
STAGE = "theorems"
TITLE = "Theorems 1 and 2, reversibility: measured"


