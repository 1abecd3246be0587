"""Chen et al. (2018), Figure 3: statistics of a trained ODE-Net.

(a) forward NFE against numerical error as the tolerance varies (tighter tolerance, more
NFE, less error); (b) forward NFE against wall time (roughly proportional); (c) backward
NFE against forward NFE (the paper: about half; the library's author later noted that at
scale the backward NFE is usually *larger*); (d) forward NFE over training (grows).

We load the ODE-Net trained by the Table 1 stage (the first seed's weights,
``data/chen/table1/odenet.npz``, rebuilt from ``data/chen/table1/config.json``) and a
batch of its test inputs (small profile: MNIST-1D signals (B, 1, 40), the 1-D ODE-Net;
paper profile: MNIST images). For each tolerance (rtol = atol) we solve the ODE block's
forward problem (dopri5, with the adjoint Table 1 trained with: nnde's by default) and
measure NFE, the relative error of y(1) against a reference (our dopri5 at rtol = atol =
1e-7), the median wall time of 3 repeats, and — with gradients — the adjoint's backward
NFE. Panel (d) and the per-epoch points of (c) come from the probe the Table 1 stage ran
after every epoch of that seed
(``data/chen/table1/history.csv``).

Modules: ``experiment`` (config, the sweep → ``data/chen/fig3/``), ``summary`` (the
probe of the saved seed, the backward ÷ forward ratio table), ``claims``, ``figures``.
"""

PAPER = "chen"
STAGE = "fig3"
TITLE = "Figure 3: statistics of a trained ODE-Net"
