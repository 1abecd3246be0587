"""He, Zhang, Ren & Sun (2016), the degradation problem: Figure 6, Table 6 and Figure 7.

The paper trains plain and residual ``6n + 2``-layer nets on CIFAR-10 (option-A
shortcuts, so both have the same parameters; see :mod:`nnde.models.he`) and finds:

* Figure 6: deeper *plain* nets end with *higher training error* (plain-56 above
  plain-20) — degradation, not overfitting — while deeper residual nets do better;
* Table 6: ResNet-20/32/44/56/110 reach 8.75 / 7.51 / 7.17 / 6.97 / 6.43 % test error;
* Figure 7: the std of the layer responses (after BN, before the addition and ReLU) is
  smaller for ResNets than for plain nets, and smaller the deeper the ResNet.

This stage trains every (kind, depth, seed) through :func:`nnde.train.train_classifier`
(plain and residual nets of one seed start from the same weights and see the same
batches), records training and test error after every epoch, and afterwards the
per-layer response std on the test set (forward hooks on the BN layers, eval mode).
Every claim is judged against the spread over seeds: a difference smaller than the
larger std over seeds of the two things compared is not a reproduction.

Profiles:

* ``small`` (and ``tiny``): MNIST-1D (Greydanus & Kobak 2024; 4,000 training and 1,000
  test signals of length 40) with the same nets in 1-D (Conv1d, 3-tap kernels, maps
  40/20/10), no augmentation, the paper's optimiser and batch (SGD momentum 0.9, weight
  decay 1e-4, batch 128, lr 0.1) and several seeds. Each net trains until its training
  loss reaches a plateau (:class:`nnde.train.Plateau`: lr ÷10 at the first plateau, stop
  at the second, or once the training set is fitted), with an epoch cap. So the
  degradation claims compare the training error *where each net stopped*, after a
  number of epochs that is recorded per net, not curves after one common schedule as in
  the paper's Figure 6. Absolute errors are not comparable with CIFAR-10.
* ``paper``: the paper's protocol on CIFAR-10 (binary files in ``data/raw``): plain nets
  at 20/32/44/56 layers (Fig. 6 shows these; "the error of plain-110 is higher than 60 %
  and not displayed"), ResNets at 20/32/44/56/110; pad-4 random crop and
  horizontal flip; SGD momentum 0.9, weight decay 1e-4, batch 128, lr 0.1 divided by 10
  at 32k and 48k iterations, stop at 64k. The learning rate is set per *iteration* by an
  ``on_step`` hook (:class:`.training.LrSchedule`), so the drops fall on the paper's
  iterations; ResNet-110 is warmed up at lr 0.01 until its training error (over the last
  ``warmup_window`` mini-batches) is below 80 %, then trained at 0.1 (the paper: "about
  400 iterations"; the iteration where it switched is recorded). Training runs whole
  epochs, so it stops at the end of the epoch nearest to 64k iterations (the actual
  count is recorded).

Modules: ``experiment`` (config, the jobs, results), ``training`` (data, lr schedule,
one net), ``summary`` (tables from the results), ``claims``, ``figures``. Data-parallel
on several GPUs: ``torchrun --standalone --nproc_per_node 4 -m
reproductions.he.degradation run``.
"""

PAPER = "he"
STAGE = "degradation"
TITLE = "Figure 6, Table 6, Figure 7: the degradation problem, plain vs residual nets"
