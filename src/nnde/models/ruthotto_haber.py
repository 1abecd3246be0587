"""The PDE-motivated CNNs of Ruthotto and Haber (2020), "Deep neural networks motivated by
partial differential equations", Section 4 / Table 1.

Layout (``C`` input channels, widths ``c_1 … c_n``, ``K`` classes)::

    conv3x3(C → c_1) · BN · ReLU                               opening layer
    for stage k = 1 … n:
        PDE block on c_k channels (``steps`` steps of size h)  maps unchanged
        conv1x1(c_k → c_{k+1}) · BN · ReLU · avgpool 2×2       connector (c_{n+1} = c_n)
    global average pool · fully connected (c_n → K)            softmax in the loss

The PDE block is one of the library's stacks, each a time integrator applied to the
symmetric field F_sym(θ, Y) = −Kᵀσ(N(K Y + b)) (3×3 convolution K, its transpose with the
same weights, ReLU, TV normalisation N):

    parabolic      ∂_t Y = F_sym(θ(t), Y), forward Euler           (nnde ParabolicCNN)
    hamiltonian    ∂_t Y = F_sym(θ¹, Z), ∂_t Z = −F_sym(θ², Y), Verlet on the two channel
                   halves — half the weights of the parabolic block (nnde HyperbolicCNN)
    second_order   ∂²_t Y = F_sym(θ(t), Y), leapfrog, Y_{−1} = Y_0  (nnde SecondOrderCNN)

The connectors change the state space (width and resolution) and are not time steps.
``dims=1`` builds the same network for 1-D signals (batch, C, L): 3-tap convolutions,
``BatchNorm1d`` and ``AvgPool1d(2)`` in place of their 2-D forms (e.g. for MNIST-1D).
The paper constrains the PDE weights to a box, −1 ≤ θ ≤ 1; here every parameter of every
PDE block is projected onto ``[−box, box]`` before each forward pass (projected
gradient), so the weights a forward pass uses always satisfy the constraint.

Weight count. :func:`hand_count` counts the parameters from the layout. With
``norm_affine=True`` it counts the paper's normalisation layer (a per-channel scale and
shift after the TV normalisation, and no bias before it) instead of the library's field
(a bias before the TV normalisation, no scale); with widths (32, 64, 112) on CIFAR-10
that count is the paper's 502,570 (parabolic, second-order) and 264,106 (Hamiltonian)
exactly. The library's blocks have 3·Σ_k c_k fewer weights (624 at those widths).

Trained weights as plain data. :func:`weights_npz` turns trained networks into arrays
(one per state-dict entry, ``<variant>/<name>``, plus ``meta``: the build arguments as a
JSON string) that ``numpy.savez`` writes without pickling; :func:`load_trained` reads such
a file back into networks (``allow_pickle=False``). :func:`load_data` is the data of
Table 1 (bundled 8×8 digits or CIFAR-10), shared by the stage that trains the networks
and the stages that measure them on real images.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from nnde.errors import DataFileError, ParamError, UnknownNameError
from nnde.layers import HyperbolicCNN, ParabolicCNN, SecondOrderCNN
from nnde.models.names import RH_LABELS, RH_VARIANTS
from nnde.spatial import check_dims, torch_layers

__all__ = ["LABELS", "VARIANTS", "PDECNN", "hand_count", "load_data", "load_trained",
           "weights_npz"]

#: variant name → library block (integrator × symmetric conv field)
VARIANTS = dict(zip(RH_VARIANTS, (ParabolicCNN, HyperbolicCNN, SecondOrderCNN),
                    strict=True))
#: variant name → its name in tables and figures
LABELS = RH_LABELS


def _check_widths(widths, variant):
    if (
        not isinstance(widths, (list, tuple))
        or not widths
        or any(isinstance(w, bool) or not isinstance(w, int) or w <= 0 for w in widths)
    ):
        raise ParamError("widths", f"is {widths!r}", "a non-empty list of positive integers")
    if variant == "hamiltonian" and any(w % 2 for w in widths):
        raise ParamError("widths", f"is {list(widths)!r}: the Hamiltonian block splits the "
                         "channels in halves", "even integers")
    return [int(w) for w in widths]


class PDECNN(nn.Module):
    """A Ruthotto–Haber network: opening layer, ``len(widths)`` stages of PDE block +
    connector, global average pool and a linear classifier (see the module docstring).

    Shapes: (batch, in_channels, H, W) → logits (batch, num_classes); H and W must be
    divisible by ``2**len(widths)``. With ``dims=1``: (batch, in_channels, L) → logits,
    L divisible by ``2**len(widths)``. ``features(x)`` returns the input of every PDE block
    (for measuring the blocks on real features).
    """

    def __init__(
        self,
        variant: str,
        widths=(32, 64, 112),
        in_channels: int = 3,
        num_classes: int = 10,
        steps: int = 3,
        h: float = 1.0,
        box: float | None = 1.0,
        activation: str = "relu",
        norm: str | None = "tv",
        dims: int = 2,
    ):
        super().__init__()
        layers = torch_layers(dims)
        conv, batchnorm, avgpool = layers.conv, layers.batchnorm, layers.avgpool
        if variant not in VARIANTS:
            raise UnknownNameError("variant", variant, list(VARIANTS))
        widths = _check_widths(widths, variant)
        if box is not None and not (isinstance(box, (int, float)) and box > 0):
            raise ParamError("box", f"is {box!r}", "a number > 0 or None")
        self.variant, self.widths, self.box = variant, widths, box
        c1 = widths[0]
        self.opening = nn.Sequential(
            conv(in_channels, c1, 3, padding=1, bias=False), batchnorm(c1), nn.ReLU()
        )
        block = VARIANTS[variant]
        self.blocks = nn.ModuleList(
            block(channels=c, depth=steps, h=h, activation=activation, norm=norm, dims=dims)
            for c in widths
        )
        outs = [*widths[1:], widths[-1]]
        self.connectors = nn.ModuleList(
            nn.Sequential(conv(c, d, 1, bias=False), batchnorm(d), nn.ReLU(), avgpool(2))
            for c, d in zip(widths, outs, strict=True)
        )
        self.fc = nn.Linear(widths[-1], num_classes)
        if box is not None:
            self.register_forward_pre_hook(lambda module, args: module.project())

    @torch.no_grad()
    def project(self) -> None:
        """Project every PDE-block parameter onto the box [−box, box]."""
        if self.box is None:
            return
        for p in self.blocks.parameters():
            p.clamp_(-self.box, self.box)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The input of each PDE block for the batch ``x`` (no gradient)."""
        out = []
        with torch.no_grad():
            y = self.opening(x)
            for blk, con in zip(self.blocks, self.connectors, strict=True):
                out.append(y)
                y = con(blk(y))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.opening(x)
        for blk, con in zip(self.blocks, self.connectors, strict=True):
            y = con(blk(y))
        return self.fc(y.mean(dim=tuple(range(2, y.dim()))))  # global average pool


def hand_count(
    variant: str,
    widths=(32, 64, 112),
    in_channels: int = 3,
    num_classes: int = 10,
    steps: int = 3,
    norm_affine: bool = False,
    dims: int = 2,
) -> int:
    """The number of trainable weights of :class:`PDECNN`, counted from the layout.

    Per step, a parabolic/second-order block on c channels has one 3×3 kernel (9c²) and
    c bias entries (library) or 2c normalisation scale/shift entries (``norm_affine``,
    the paper's layer); the Hamiltonian block has two fields on c/2 channels each:
    2·9(c/2)² = 4.5c² kernel entries and c (or 2c) more. With ``dims=1`` every 3×3
    kernel (9 entries per channel pair) is a 3-tap one (3 entries).
    """
    taps = 3 ** check_dims(dims)
    if variant not in VARIANTS:
        raise UnknownNameError("variant", variant, list(VARIANTS))
    widths = _check_widths(widths, variant)
    outs = [*widths[1:], widths[-1]]
    n = taps * in_channels * widths[0] + 2 * widths[0]  # opening conv + BN
    per_channel = 2 if norm_affine else 1
    for c, d in zip(widths, outs, strict=True):
        kernel = taps * c * c if variant != "hamiltonian" else 2 * taps * (c // 2) ** 2
        n += steps * (kernel + per_channel * c)  # PDE block
        n += c * d + 2 * d  # connector conv + BN
    return n + widths[-1] * num_classes + num_classes  # fully connected


# --------------------------------------------------------------------------- data
def load_data(dataset: str, seed: int = 0, data_root: str = "data/raw", max_train: int = 0,
              augment: bool = False):
    """(x_train, y_train, evals, in_channels, num_classes, augment) of Table 1's data:
    ``digits`` (the bundled 8×8 digits, split by ``seed``; evals ``val`` and ``test``) or
    ``cifar10`` (``<data_root>/cifar-10-batches-bin``, normalised per channel with the
    training set's mean and std; evals ``test``; with ``augment`` the training hook is
    :func:`nnde.data.augment.crop_flip`). ``max_train`` > 0 keeps the first that many
    training examples."""
    if dataset == "digits":
        from nnde.data import digits_split

        s = digits_split(seed)
        xtr, ytr = s.x_train, s.y_train
        if max_train:
            xtr, ytr = xtr[:max_train], ytr[:max_train]
        return xtr, ytr, {"val": (s.x_val, s.y_val), "test": (s.x_test, s.y_test)}, 1, 10, None
    from nnde.data import load_cifar10
    from nnde.data.augment import crop_flip

    xtr, ytr = load_cifar10(data_root, "train")
    xte, yte = load_cifar10(data_root, "test")
    xtr, xte = xtr.float() / 255.0, xte.float() / 255.0
    mean = xtr.mean(dim=(0, 2, 3), keepdim=True)
    std = xtr.std(dim=(0, 2, 3), keepdim=True)
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    if max_train:
        xtr, ytr = xtr[:max_train], ytr[:max_train]
    return xtr, ytr, {"test": (xte, yte)}, 3, 10, crop_flip if augment else None


# --------------------------------------------------------------------------- weights
def weights_npz(models: Mapping[str, PDECNN], meta: Mapping) -> dict[str, np.ndarray]:
    """The trained state of every variant as plain arrays (``<variant>/<state-dict
    key>``), plus ``meta`` (the build arguments: ``variants``, ``widths``, ``steps``,
    ``h``, ``box``, ``in_channels``, ``num_classes``, ...) as a JSON string, so the file
    is read back with ``allow_pickle=False``."""
    arrays = {"meta": np.array(json.dumps(dict(meta)))}
    for v, m in models.items():
        for k, t in m.state_dict().items():
            arrays[f"{v}/{k}"] = t.detach().cpu().numpy()
    return arrays


def models_from_arrays(arrays: Mapping[str, np.ndarray]) -> tuple[dict[str, PDECNN], dict]:
    """:func:`weights_npz`'s arrays back: ({variant: PDECNN in eval mode}, meta)."""
    meta = json.loads(str(arrays["meta"]))
    models = {}
    for v in meta["variants"]:
        m = PDECNN(v, meta["widths"], meta["in_channels"], meta["num_classes"],
                   steps=meta["steps"], h=meta["h"], box=meta["box"])
        m.load_state_dict({k.split("/", 1)[1]: torch.from_numpy(np.array(arrays[k]))
                           for k in arrays if k.startswith(f"{v}/")})
        models[v] = m.eval()
    return models, meta


def load_trained(path: str | os.PathLike) -> tuple[dict[str, PDECNN], dict]:
    """Read a :func:`weights_npz` file (the ruthotto_haber table1 stage's
    ``weights.npz``) back: ({variant: PDECNN in eval mode}, meta)."""
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: not found; it is written by the ruthotto_haber table1 "
                            "stage (run `dvc repro ruthotto_haber_table1`)")
    with np.load(path, allow_pickle=False) as z:
        return models_from_arrays({k: z[k] for k in z.files})
