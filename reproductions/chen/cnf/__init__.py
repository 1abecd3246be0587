"""Chen et al. (2018), §4 and Figures 4–6: continuous normalising flows (CNF) against
planar normalising flows (NF) in 2-D.

Figure 4 (density matching): a flow q is fitted to a target density p by minimising
KL(q || p) = E_q[log q − log p]; the planar flow's capacity grows with its depth K, the
CNF's with its width M (K, M = 1, 2, 32 in the paper profile; 1 and 32 in small), and
the paper reports that the CNF reaches the lower loss. Figures 5–6 (maximum likelihood):
a CNF trained on samples of two circles and two moons, whose samples, pushed from the
noise at t = 0 to t = 1, land on the data.

Models (``nnde.models.flows``): the CNF's field is a sum of M tanh units whose weights
come from a small hypernetwork of t, with a gate (the paper's description), the trace of
its Jacobian exact and O(M) (Theorem 1), solved by this project's fixed-step rk4 with
backpropagation through the solver; the planar flow is Rezende and Mohamed's, K layers.
Targets: two circles (make_circles, noise 0.06, factor 0.5, as in the paper) and two
moons (make_moons' curves, centred, noise 0.06), as mixtures with exact log-densities,
so that both divergences can be measured: KL(q || p) from the model's own samples and
log-densities, and KL(p || q) = NLL(test) − H(p) with H(p) estimated from 20,000 samples.

Training: Adam, in density matching until the validation loss (KL on a fixed batch of
base noise) plateaus (``nnde.train.Plateau``, read every ``eval_every`` iterations), in
maximum likelihood for the authors' fixed number of iterations. The seeds of one flow,
size, target and task train side by side (``nnde.train.train_side_by_side`` on
``nnde.models.flows.Stacked``): each seed keeps its own weights, batches, Adam moments,
learning rate and plateau, as it would alone; only the arithmetic is batched, so that
eight seeds cost about what three cost one by one. A density-matching run that ends far
above the other seeds of its flow, size and target (``fail_ratio``) failed: it trains on
from where it stopped, with a longer cap and more patience, as Table 2's failed runs do;
the claims name it, and any run still failed.

Modules: ``experiment`` (config, the runs), ``training`` (a flow's training, alone or
its seeds side by side, and its evaluation), ``summary`` (constants, the summary table,
the convergence rows), ``claims``, ``figures``.
"""

PAPER = "chen"
STAGE = "cnf"
TITLE = "Figures 4–6: continuous normalising flows"
