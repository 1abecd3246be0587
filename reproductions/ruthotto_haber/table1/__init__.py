"""Ruthotto & Haber (2020), Table 1: three PDE-motivated CNNs, accuracy and weights.

The paper trains three networks that differ only in the PDE block of each stage —
parabolic (forward Euler on ∂_t Y = −Kᵀσ(N(K Y))), Hamiltonian (Verlet on two channel
halves) and second-order (leapfrog on ∂²_t Y = −Kᵀσ(N(K Y))) — and reports test accuracy
and number of weights (CIFAR-10: 88.5 %, 89.3 %, 89.2 % with 502,570, 264,106 and
502,570 weights). The point of the table: all three reach comparable accuracy, and the
Hamiltonian network does so with about half the weights.

This stage builds the three networks from the library's blocks
(:class:`nnde.models.ruthotto_haber.PDECNN`), trains them with the shared loop
(:func:`nnde.train.train_classifier`) and tabulates test accuracy, test loss and weight
count beside the paper's numbers. It also counts the weights of the networks at the
paper's widths (no training needed), which can be compared exactly.

Profiles: ``small`` — the bundled 8×8 digits (fixed, seeded split), narrow widths,
minutes on a CPU; absolute accuracies are not comparable with CIFAR-10, only the weight
ratio and the ranking are. ``paper`` — CIFAR-10 from ``data/raw/cifar-10-batches-bin``
(binary version), widths 32/64/112, 3 steps of size 1 per block, SGD with momentum 0.9,
batch 125, learning rate 0.1 × 0.2 after epochs 60 and 80 (100 epochs), random crops and
flips.

The claims compare accuracies on every held-out example (the digits' validation and test
parts, 718 images; neither steers training) with their noise: the seed spread and the
held-out set's sampling. Their floor comes from the same run: a linear classifier
(logistic regression on the pixels, near 97 % on the digits) and the majority class.

Results (``data/ruthotto_haber/table1/``): ``seeds.csv`` (one row per variant and seed,
with the held-out accuracy), ``baselines.csv`` (majority class, linear classifier),
``history.csv`` (per epoch), ``weights_at_paper_widths.csv``, ``convergence.json``,
``config.json`` and ``weights.npz`` (the trained weights of the first seed, read by the
``theorems`` and ``stencils`` stages through
:func:`nnde.models.ruthotto_haber.load_trained`; plain arrays, no pickled objects).
Judged: ``table1.csv`` (the table), ``table1_history.csv``, metrics, claims and two
figures.
"""

PAPER = "ruthotto_haber"
STAGE = "table1"
TITLE = "Table 1: parabolic, Hamiltonian and second-order CNNs"
