"""Belkin, Hsu, Ma, Mandal (2019), Figure 2: double descent with random Fourier features.

The model is ``h(x) = Σ_k a_k φ_k(x)`` with ``N`` random Fourier features
``φ_k(x) = sqrt(2/N) cos(⟨v_k, x⟩ / σ + b_k)``, ``v_k ~ N(0, I)``, ``b_k ~ U[0, 2π)``, so that
``Σ_k φ_k(x) φ_k(x') → exp(−‖x − x'‖² / (2σ²))`` (the Gaussian kernel) as ``N → ∞``.
Labels are one-hot; one least-squares fit per class on the shared features, so the
``n × N`` feature matrix ``Φ`` has ``n`` rows and the interpolation threshold sits at
``N = n``. Below it the fit is least squares; at and above it, the minimum-norm
interpolant ``A = pinv(Φ) Y`` — the limit of gradient descent from zero. The features for
a smaller ``N`` are the first ``N`` of one draw (nested), per seed.

The paper writes the features as complex exponentials ``exp(i⟨v, x⟩)``; we use the real
cosine form above (same kernel), for which the threshold is exactly at ``N = n`` real
parameters per class.

Per ``N`` the stage computes one thin SVD of ``Φ`` (through a QR of the tall side, then
the SVD of the small triangular factor, in float64 with ``torch.linalg``, on the chosen
device), and measures: test zero-one loss, test and training squared loss (mean over
examples of ``‖h(x) − e_y‖²``, summed over the 10 outputs) and the ℓ2 (Frobenius) norm of
the ``N × 10`` coefficient matrix.

Data: the small profile uses scikit-learn's bundled 8×8 digits (``nnde.data.digits_split``,
pixels in [0, 1]); the paper profile uses MNIST (``nnde.data.load_mnist``, pixels scaled
to [0, 1]) with ``n = 10⁴``. The bandwidth ``σ`` is either a number (σ = 5 for MNIST, the
value a public reproduction used; the paper's own is [unverified]) or ``median``: the
median Euclidean distance between training images (the median heuristic), fixed before
any fit is made.

Modules: ``experiment`` (config, data, features, the sweep), ``summary`` (medians over
feature draws), ``claims``, ``figures``.
"""

PAPER = "belkin"
STAGE = "rff"
TITLE = "Figure 2: random Fourier features"
