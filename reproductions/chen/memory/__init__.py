"""Chen et al. (2018), Sec. 2 and Table 1: the adjoint's O(1) memory and its approximate
gradients.

Backpropagating through a solver's operations (the RK-Net, ``gradient="direct"``) keeps
every intermediate state of every step for the backward pass: memory grows linearly with
the number of steps. The adjoint method (``gradient="adjoint"``) keeps only the final
state and re-solves backwards, so its memory is constant in the number of steps — but its
gradient is only as accurate as the backward solve, i.e. set by the tolerances.

Part 1 measures the peak memory of one forward + backward pass of an ODE block (a small
MLP field, fixed-step 3/8-rule RK4) against the number of steps, for both gradient
methods: the peak bytes of the tensors autograd holds (saved-tensor hooks, see
``nnde.models.chen.SavedTensorMeter``; on a GPU also ``torch.cuda.max_memory_allocated``),
and fits the log-log slope. Part 2 compares the adjoint gradient (dopri5, rtol = atol =
tol, float64) with a reference gradient (direct backpropagation through dopri5 at
rtol = atol = 1e-11) as the tolerance varies; the direct gradient at the same tolerance is
shown beside it.

Modules: ``experiment`` (config, both measurements → ``data/chen/memory/``), ``claims``
(with the log-log slopes the figures share), ``figures``.
"""

PAPER = "chen"
STAGE = "memory"
TITLE = "Memory and accuracy of adjoint gradients"
