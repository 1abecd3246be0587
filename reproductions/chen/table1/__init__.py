"""Chen et al. (2018), Table 1: MLP, ResNet, RK-Net and ODE-Net on digit classification.

The paper (MNIST) reports test error 1.60 % / 0.41 % / 0.47 % / 0.42 % for a one-hidden-layer
MLP, a ResNet with 6 residual blocks, an RK-Net (backpropagation through a Runge–Kutta
solve) and an ODE-Net (the same solve, adjoint gradients), with 0.24M / 0.60M / 0.22M /
0.22M parameters and memory O(1) for the ODE-Net against O(L) / O(L̃) for the others.

We train the four models with the one training loop (``nnde.train``) for every seed and
measure, per model and seed: test error, parameter count, **peak activation memory of one
training step** (the high-water mark of the tensors autograd holds, from
``torch.autograd.graph.saved_tensors_hooks`` — see ``nnde.models.chen.SavedTensorMeter``;
on CUDA also ``torch.cuda.max_memory_allocated``), the median wall time of a training
step (3 repeats after training) times the steps per epoch, and the field evaluations
(NFE) of the ODE block.

Small profile: MNIST-1D (Greydanus and Kobak, 2024; 4,000 train / 1,000 test signals of
length 40; published test accuracy MLP 68 %, CNN 94 %), the convolutional models in 1-D
(3-tap convolutions), every model trained to a plateau of its training loss
(``nnde.train.Plateau``, the epoch count a cap) with Adam, for 3 seeds; the claims compare
means against the spread over seeds. Paper profile: MNIST (``data/raw/mnist``), 2-D, 64
channels, the authors' SGD schedule for 160 epochs. The ODE-Net of the first seed (its
weights, ``data/chen/table1/odenet.npz``) and its per-epoch NFE are saved for Figure 3.

Modules: ``experiment`` (config, training → ``data/chen/table1/``), ``summary`` (the
per-model table of means and spreads over seeds), ``claims``, ``figures``.
"""

PAPER = "chen"
STAGE = "table1"
TITLE = "Table 1: MLP, ResNet, RK-Net and ODE-Net"
#: the paper's names of the four models (the per-seed rows' ``model``; the tables' rows)
NAMES = {"mlp": "1-layer MLP", "resnet": "ResNet", "rknet": "RK-Net", "odenet": "ODE-Net"}
