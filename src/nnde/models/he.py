"""The CIFAR-10 networks of He, Zhang, Ren and Sun (2016), "Deep residual learning for
image recognition", Section 4.2: plain and residual nets with ``6n + 2`` weighted layers,
for images ``(B, C, H, W)`` (``dims=2``, the paper's) and for 1-D signals ``(B, C, L)``
(``dims=1``: the same nets with Conv1d/BatchNorm1d and length-3 kernels, e.g. on
MNIST-1D, length 40 → maps 40/20/10).

Layout (``C`` input channels, ``H × W`` input maps, ``K`` classes)::

    conv3x3(C → 16) · BN · ReLU                                 maps H × W
    stage 1: n blocks, 16 filters                               maps H × W
    stage 2: n blocks, 32 filters, the first with stride 2      maps H/2 × W/2
    stage 3: n blocks, 64 filters, the first with stride 2      maps H/4 × W/4
    global average pool · fully connected (64 → K)

(with ``dims=1`` read ``L`` for ``H × W``, 3-tap for 3×3; everything else is the same.)

Each block is two 3×3 convolutions, ``conv · BN · ReLU · conv · BN``, so the net has
``1 + 6n + 1`` weighted layers (n = 3, 5, 7, 9, 18 give the paper's 20, 32, 44, 56, 110).
BN comes after every convolution and before its nonlinearity.

Plain and residual nets differ only in how a block ends (``F(x) = BN(conv(ReLU(BN(conv
x))))`` is the block's "residual function")::

    plain:     x_{l+1} = ReLU(F(x_l))
    residual:  x_{l+1} = ReLU(x_l + F(x_l))          (He et al. 2016, eq. 1)

The shortcut is the paper's *option A*: the identity, and where a block halves the maps
and doubles the filters, the input subsampled with stride 2 and zero-padded with new
channels. It has no parameters, so the plain and the residual net of the same depth have
exactly the same parameter count (0.27M for ResNet-20 on CIFAR-10).

The differential-equation view (Haber & Ruthotto 2017; E 2017; the lecture of Richter &
Lessig 2021): within a stage, where the state space stays fixed, the update
``x ← x + F(x; θ_l)`` is one **forward-Euler step with step size h = 1** of the ODE
``dx/dt = F(x; θ(t))`` (the vector field is the residual function: two 3×3 convolutions
with BN and ReLU between them, weights θ(t) piecewise constant in the layer time
t = l·h). The paper's block then applies a ReLU after the addition, which makes it an
Euler step followed by a projection onto the non-negative orthant (exactly Euler once the
sum is non-negative; the pre-activation ResNet of He et al. 2016b drops this ReLU and is
plain forward Euler). A ResNet is thus three such ODEs, one per stage, joined by the two
stride-2 blocks, which change the state space and are not time steps. A plain block
``x ← ReLU(F(x))`` replaces the state instead of adding a small increment to it: it is a
map, not a step of any ODE with a small step size, and its depth limit has no flow.

:class:`ResponseRecorder` collects each layer's response for Figure 7 (std of the
outputs of BN, before the addition and the ReLU) with forward hooks.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from nnde.models.names import HE_KINDS
from nnde.spatial import check_dims, torch_layers

__all__ = [
    "KINDS",
    "BasicBlock",
    "CifarNet",
    "OptionAShortcut",
    "ResponseRecorder",
    "cifar_net",
    "depth_to_n",
]

KINDS = HE_KINDS
WIDTHS = (16, 32, 64)


def depth_to_n(depth: int) -> int:
    """``n`` for a ``6n + 2``-layer net; a depth not of that form raises ValueError."""
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth {depth!r} is not of the form 6n + 2 with n >= 1 (8, 14, 20, …)")
    return (depth - 2) // 6


class SignalConv(nn.Conv1d):
    """A Conv1d that runs as a one-row 2-D convolution on a channels-last layout:
    ``(B, C, L)`` is viewed as ``(B, C, 1, L)`` with the channels innermost in memory, which
    oneDNN's CPU kernels run about a quarter faster than Conv1d at the small widths of the
    1-D nets. The same weights ``(out, in, k)``, the same outputs ``(B, out, L')`` (a
    channels-last view; every op downstream accepts it)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or self.padding_mode != "zeros":
            return super().forward(x)
        x4 = x.unsqueeze(2).contiguous(memory_format=torch.channels_last)
        y = F.conv2d(x4, self.weight.unsqueeze(2), self.bias, (1, self.stride[0]),
                     (0, self.padding[0]), (1, self.dilation[0]), self.groups)
        return y.squeeze(2)


class SignalBatchNorm(nn.BatchNorm1d):
    """BatchNorm1d on ``(B, C, L)`` run as BatchNorm2d on the one-row channels-last view
    :class:`SignalConv` produces (its fast CPU path); the same statistics, parameters and
    running averages."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3:
            return super().forward(x)
        return super().forward(x.unsqueeze(2)).squeeze(2)

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() not in (2, 3, 4):
            raise ValueError(f"expected 2D or 3D input (got {x.dim()}D input)")


def _conv3x3(cin: int, cout: int, stride: int = 1, dims: int = 2, groups: int = 1) -> nn.Module:
    # No bias: the BN that follows has its own shift.
    if dims == 1:
        return SignalConv(cin, cout, 3, stride=stride, padding=1, bias=False, groups=groups)
    return torch_layers(dims).conv(cin, cout, 3, stride=stride, padding=1, bias=False,
                                   groups=groups)


def _batchnorm(channels: int, dims: int) -> nn.Module:
    return SignalBatchNorm(channels) if dims == 1 else torch_layers(dims).batchnorm(channels)


class OptionAShortcut(nn.Module):
    """Parameter-free shortcut (He et al. 2016, option A): ``x[:, :, ::s, ::s]`` followed
    by ``cout − cin`` zero channels appended after the ``cin`` input channels.

    Shapes: ``(B, cin, H, W) → (B, cout, ⌈H/s⌉, ⌈W/s⌉)``, and for signals
    ``(B, cin, L) → (B, cout, ⌈L/s⌉)`` (every dimension after the channels is subsampled);
    the identity when ``s = 1`` and ``cout = cin``. With ``members`` > 1 the channels are
    that many nets' side by side (``cin`` and ``cout`` per net), each padded in its own
    block: ``(B, members·cin, …) → (B, members·cout, …)``."""

    def __init__(self, cin: int, cout: int, stride: int = 1, members: int = 1):
        super().__init__()
        if cout < cin:
            raise ValueError(f"option-A shortcut cannot reduce channels ({cin} → {cout})")
        self.cin, self.cout, self.stride, self.members = cin, cout, stride, members

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spatial = x.ndim - 2
        if self.stride != 1:
            x = x[(slice(None), slice(None)) + (slice(None, None, self.stride),) * spatial]
        if self.cout != self.cin:
            if self.members == 1:
                x = F.pad(x, (0, 0) * spatial + (0, self.cout - self.cin))
            else:
                x = x.unflatten(1, (self.members, self.cin))
                x = F.pad(x, (0, 0) * spatial + (0, self.cout - self.cin)).flatten(1, 2)
        return x


class BasicBlock(nn.Module):
    """Two 3×3 conv layers, BN after each: ``ReLU(F(x))`` (plain) or ``ReLU(x + F(x))``
    (residual, forward Euler with h = 1 of ``dx/dt = F(x)`` when the shapes match).

    ``bn2``'s output is the block's second "layer response" (after BN, before the addition
    and the ReLU); ``bn1``'s output is the first (before its ReLU)."""

    def __init__(self, cin: int, cout: int, stride: int, residual: bool, dims: int = 2,
                 members: int = 1):
        super().__init__()
        e = members  # nets side by side: e times the channels, e groups
        self.conv1 = _conv3x3(e * cin, e * cout, stride, dims, groups=e)
        self.bn1 = _batchnorm(e * cout, dims)
        self.conv2 = _conv3x3(e * cout, e * cout, dims=dims, groups=e)
        self.bn2 = _batchnorm(e * cout, dims)
        self.residual = residual
        self.shortcut = OptionAShortcut(cin, cout, stride, members) if residual else None

    def residual_function(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.residual_function(x)
        if self.residual:
            out = out + self.shortcut(x)
        return F.relu(out)


class CifarNet(nn.Module):
    """A ``6n + 2``-layer plain or residual net (He et al. 2016, Sec. 4.2).

    Input ``(B, in_channels, H, W)`` (``dims=2``) or ``(B, in_channels, L)`` (``dims=1``)
    → logits ``(B, num_classes)``; H, W, L divisible by 4 keep every stage's maps exact
    (32/16/8 on CIFAR-10, 8/4/2 on the 8×8 digits, 40/20/10 on MNIST-1D).

    ``members`` > 1 makes one module of that many nets of this shape side by side (see
    :meth:`side_by_side`): every layer holds the members' channels one block after the
    other and convolves them in groups, so net ``e`` sees only its own channels and
    weights. Input ``(B, members·in_channels, …)``, member e's signals in its block;
    output ``(B, members, num_classes)``. Each member's outputs, gradients and BatchNorm
    statistics are those it has alone; one computation serves all."""

    def __init__(self, n: int, residual: bool, in_channels: int = 3, num_classes: int = 10,
                 widths: tuple[int, int, int] = WIDTHS, dims: int = 2, members: int = 1):
        super().__init__()
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an integer >= 1, got {n!r}")
        if isinstance(members, bool) or not isinstance(members, int) or members < 1:
            raise ValueError(f"members must be an integer >= 1, got {members!r}")
        self.n, self.residual, self.dims = n, residual, check_dims(dims)
        self.members, self.num_classes = members, num_classes
        self.in_channels, self.widths = in_channels, tuple(widths)  # per member
        e = members
        self.conv = _conv3x3(e * in_channels, e * widths[0], dims=dims, groups=e)
        self.bn = _batchnorm(e * widths[0], dims)
        blocks, cin = [], widths[0]
        for i, w in enumerate(widths):
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(BasicBlock(cin, w, stride, residual, dims, members))
                cin = w
        self.blocks = nn.Sequential(*blocks)
        # one linear map per member: a grouped 1×1 convolution of the pooled features
        self.fc = (nn.Linear(cin, num_classes) if e == 1
                   else nn.Conv1d(e * cin, e * num_classes, 1, groups=e))
        self._init()

    def _init(self) -> None:
        # He et al. initialise as in their 2015 PReLU paper (Kaiming normal, fan-out).
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d)):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    @property
    def depth(self) -> int:
        return 6 * self.n + 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn(self.conv(x)))
        x = self.blocks(x)
        pool = F.adaptive_avg_pool2d if self.dims == 2 else F.adaptive_avg_pool1d
        x = pool(x, 1).flatten(1)
        if self.members == 1:
            return self.fc(x)
        return self.fc(x.unsqueeze(-1)).view(len(x), self.members, self.num_classes)

    @classmethod
    def side_by_side(cls, nets: list[CifarNet]) -> CifarNet:
        """One module (``members = len(nets)``) holding copies of the weights and
        BatchNorm statistics of ``nets`` (single nets of one shape); train it, then
        :meth:`write_back` the results into the nets."""
        first = nets[0] if nets else None
        if first is None or any(not isinstance(m, CifarNet) or m.members != 1 for m in nets):
            raise ValueError("side_by_side takes a non-empty list of single CifarNets")
        shape = [tuple(p.shape) for p in first.parameters()]
        for m in nets[1:]:
            if (m.n, m.residual, m.dims) != (first.n, first.residual, first.dims) or \
                    [tuple(p.shape) for p in m.parameters()] != shape:
                raise ValueError("side_by_side needs nets of one kind, depth, widths and "
                                 "input: build them with the same cifar_net arguments")
        big = cls(first.n, first.residual, first.in_channels, first.num_classes,
                  first.widths, first.dims, members=len(nets))
        p0 = next(first.parameters())
        big.to(device=p0.device, dtype=p0.dtype)
        with torch.no_grad():
            for b, *ms in zip(big.modules(), *(m.modules() for m in nets), strict=True):
                for key, t in _member_tensors(b):  # a linear map's weight: a 1×1 conv's
                    t.copy_(torch.cat([getattr(m, key) for m in ms]).reshape(t.shape))
                if isinstance(b, nn.modules.batchnorm._BatchNorm):
                    b.num_batches_tracked.copy_(ms[0].num_batches_tracked)
        return big

    def write_back(self, nets: list[CifarNet]) -> None:
        """Copy member e's weights and BatchNorm statistics into ``nets[e]``."""
        if len(nets) != self.members:
            raise ValueError(f"write_back: {len(nets)} nets for {self.members} members")
        with torch.no_grad():
            for b, *ms in zip(self.modules(), *(m.modules() for m in nets), strict=True):
                for key, t in _member_tensors(b):
                    for m, part in zip(ms, t.chunk(self.members), strict=True):
                        getattr(m, key).copy_(part.reshape(getattr(m, key).shape))
                if isinstance(b, nn.modules.batchnorm._BatchNorm):
                    for m in ms:
                        m.num_batches_tracked.copy_(b.num_batches_tracked)

    def response_layers(self) -> list[nn.Module]:
        """The BN layers whose outputs are the paper's "layer responses", in layer order:
        the first conv's BN, then ``bn1, bn2`` of each block (6n + 1 in all)."""
        out = [self.bn]
        for b in self.blocks:
            out += [b.bn1, b.bn2]
        return out


def _member_tensors(module: nn.Module):
    """(attribute, tensor) of a side-by-side module whose first dimension holds the
    members' blocks one after the other."""
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Linear)):
        keys = ["weight"] + (["bias"] if module.bias is not None else [])
    elif isinstance(module, nn.modules.batchnorm._BatchNorm):
        keys = ["weight", "bias", "running_mean", "running_var"]
    else:
        return []
    return [(k, getattr(module, k)) for k in keys]


def cifar_net(kind: str, depth: int, in_channels: int = 3, num_classes: int = 10,
              dims: int = 2, widths: tuple[int, int, int] = WIDTHS) -> CifarNet:
    """``kind`` in :data:`KINDS`, ``depth = 6n + 2``; ``dims`` 2 for images, 1 for signals
    (pass ``x.ndim - 2`` to choose from the input); ``widths`` the filters of the three
    stages (the paper's 16/32/64 by default)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; valid: {', '.join(KINDS)}")
    return CifarNet(depth_to_n(depth), kind == "residual", in_channels, num_classes,
                    widths=tuple(widths), dims=dims)


class ResponseRecorder:
    """Forward hooks on ``net.response_layers()`` that record, per layer, the std of its
    response: for each channel the std over examples and positions, averaged over the
    channels (so a per-channel offset from BN's shift does not count as spread).

    Use as ``with ResponseRecorder(net) as rec: net(x)``; then ``rec.stds()`` (one float
    per layer, layer order). Several forward passes are pooled (sums of moments)."""

    def __init__(self, net: CifarNet):  # images or signals: (B, C, ...) responses
        self.layers = net.response_layers()
        self._handles: list = []
        self._s1: list = [None] * len(self.layers)
        self._s2: list = [None] * len(self.layers)
        self._count = [0] * len(self.layers)

    def _hook(self, i: int):
        def fn(module, inputs, output):
            y = output.detach().double().transpose(0, 1).flatten(1)  # (C, B·H·W) or (C, B·L)
            s1, s2 = y.sum(1), (y * y).sum(1)
            self._s1[i] = s1 if self._s1[i] is None else self._s1[i] + s1
            self._s2[i] = s2 if self._s2[i] is None else self._s2[i] + s2
            self._count[i] += y.shape[1]

        return fn

    def __enter__(self) -> ResponseRecorder:
        self._handles = [m.register_forward_hook(self._hook(i)) for i, m in
                         enumerate(self.layers)]
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def stds(self) -> list[float]:
        out = []
        for s1, s2, n in zip(self._s1, self._s2, self._count, strict=True):
            if s1 is None:
                raise RuntimeError("no forward pass was recorded")
            mean = s1 / n
            var = (s2 / n - mean * mean).clamp_min(0.0)
            out.append(float(var.sqrt().mean()))
        return out
