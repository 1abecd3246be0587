"""The five architectures as library networks, and E of them trained side by side as one
block-diagonal network (``Packed``), with the measurements taken per member: the
perturbation ratios behind M, the gradient norms of the first and last layers, and the
layer Jacobians' eigenvalues h λ.

At width 4 the cost is Python overhead per layer, not arithmetic, so the members of one
(architecture, depth) cell — every data set × seed — are trained as one library network
of width 4·E: the weights outside the diagonal blocks are zero and their gradients are
masked, so block e is exactly member e's own 4-wide network (``member_stack`` extracts
it; the tests check the equivalence)."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from nnde.layers import get_layer

#: name → (layer in nnde.layers, integrator that runs it, label). The integrator of
#: antisym_rk4 is the stage's ``higher_method``.
ARCHS = {
    "resnet": ("residual", "euler", "ResNet, forward Euler"),
    "antisym_euler": ("antisymmetric", "euler", "antisymmetric γ>0, forward Euler"),
    "antisym_rk4": ("antisymmetric", None, "antisymmetric γ=0, higher order"),
    "hamiltonian": ("hamiltonian", "verlet", "Hamiltonian, Verlet"),
    "second_order": ("second_order", "leapfrog", "second order, leapfrog"),
}
STABLE = ("antisym_euler", "antisym_rk4", "hamiltonian", "second_order")


def integrator(arch: str, higher: str) -> str:
    """The integrator that runs ``arch`` (``higher`` for antisym_rk4)."""
    return higher if arch == "antisym_rk4" else ARCHS[arch][1]


# --------------------------------------------------------------------------- packing
def block_mask(E: int, rows: int, cols: int) -> torch.Tensor:
    """Block-diagonal 0/1 mask of shape (E·rows, E·cols)."""
    return torch.block_diag(*[torch.ones(rows, cols)] * E)


class Packed(nn.Module):
    """E members side by side: a library stack of width E·w with block-diagonal weights and
    a block-diagonal linear head. Input (batch, E·w) (member e in columns e·w..e·w+w−1),
    output logits (batch, C, E); classes a member does not have are masked to −1e9."""

    def __init__(self, stack: nn.Module, E: int, w: int, classes: list[int]):
        super().__init__()
        self.stack, self.E, self.w = stack, E, w
        self.C = max(classes)
        self.head = nn.Linear(E * w, E * self.C)
        mask = torch.zeros(self.C, E)
        for e, c in enumerate(classes):
            mask[c:, e] = -1e9
        self.register_buffer("class_mask", mask)
        # Each block starts as an independent w-wide layer would (std 1/√w, not 1/√(E·w)).
        with torch.no_grad():
            for f in stack.fields:
                m = block_mask(E, f.K.shape[0] // E, f.K.shape[1] // E)
                f.K.mul_(m * math.sqrt(E))
                f.K.register_hook(lambda g, m=m: g * m)
            m = block_mask(E, self.C, w)
            self.head.weight.mul_(m * math.sqrt(E))
            self.head.bias.mul_(math.sqrt(E))
            self.head.weight.register_hook(lambda g, m=m: g * m)

    def forward(self, x):
        z = self.head(self.stack(x))
        return z.view(len(x), self.E, self.C).transpose(1, 2) + self.class_mask


def build_stack(arch: str, width: int, depth: int, h: float, gamma: float, higher: str):
    layer = ARCHS[arch][0]
    kw = {"width": width, "depth": depth, "h": h}
    if arch == "antisym_euler":
        kw.update(gamma=gamma, method="euler")
    elif arch == "antisym_rk4":
        kw.update(gamma=0.0, method=higher)
    return get_layer(layer, **kw)


def member_stack(packed_stack: nn.Module, arch: str, e: int, w: int, E: int, gamma: float,
                 higher: str) -> nn.Module:
    """Member e of a packed stack as a w-wide library network with the same weights."""
    net = build_stack(arch, w, packed_stack.depth, packed_stack.h, gamma, higher)
    net = net.to(next(packed_stack.parameters()).dtype)
    with torch.no_grad():
        for f, g in zip(net.fields, packed_stack.fields, strict=True):
            r, c = f.K.shape
            f.K.copy_(g.K[e * r:(e + 1) * r, e * c:(e + 1) * c])
            if f.b is not None:
                f.b.copy_(g.b[e * len(f.b):(e + 1) * len(f.b)])
    return net


# --------------------------------------------------------------------------- measurements
def block_stability(phi, x: torch.Tensor, E: int, w: int, eps: float = 1e-4,
                    n_perturbations: int = 8, seed: int = 0) -> torch.Tensor:
    """Per-member perturbation ratios ‖Φ(a + δ) − Φ(a)‖ / ‖δ‖ of a packed map Φ, with δ of
    norm eps·max(1, ‖a‖) drawn per member block (members are independent, so one pass
    perturbs them all). Returns (n·n_perturbations, E); M is the max over dim 0. With
    E = 1 this is exactly ``nnde.diagnostics.stability_constant`` (same draws)."""
    with torch.no_grad():
        g = torch.Generator().manual_seed(seed)
        reps = x.repeat_interleave(n_perturbations, dim=0)
        d = torch.randn(reps.shape, generator=g, dtype=x.dtype).view(len(reps), E, w)
        a = reps.view(len(reps), E, w)
        d = d * (eps * torch.clamp(a.norm(dim=2), min=1.0) / d.norm(dim=2))[..., None]
        y0 = phi(x).repeat_interleave(n_perturbations, dim=0)
        y1 = phi(reps + d.reshape(reps.shape))
        dy = (y1 - y0).view(len(reps), E, -1)
        return dy.norm(dim=2) / d.norm(dim=2)


def member_grad_norms(packed: Packed, x, y) -> tuple[np.ndarray, np.ndarray]:
    """‖∂L_e/∂θ‖ of layer 0 and of layer N−1 per member e, L_e its mean cross-entropy."""
    packed.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(packed(x), y) * packed.E
    loss.backward()
    out = []
    for f in (packed.stack.fields[0], packed.stack.fields[-1]):
        r, c = f.K.shape[0] // packed.E, f.K.shape[1] // packed.E
        gK = f.K.grad.view(packed.E, r, packed.E, c)
        sq = torch.stack([gK[e, :, e].square().sum() for e in range(packed.E)])
        if f.b is not None:
            sq = sq + f.b.grad.view(packed.E, -1).square().sum(1)
        out.append(sq.sqrt().numpy())
    packed.zero_grad(set_to_none=True)
    return out[0], out[1]


def _blocks(K: torch.Tensor, E: int) -> torch.Tensor:
    """The E diagonal blocks of a block-diagonal (E·r, E·c) matrix: (E, r, c)."""
    r, c = K.shape[0] // E, K.shape[1] // E
    return torch.diagonal(K.view(E, r, E, c), dim1=0, dim2=2).permute(2, 0, 1)


def layer_jacobians(arch: str, stack: nn.Module, x: torch.Tensor, E: int, w: int,
                    gamma: float = 0.0) -> torch.Tensor:
    """Jacobian of every layer k's vector field at the state the inputs ``x`` (P, E·w)
    have reached there, per point and member: (N, P, E, n, n), in closed form for tanh
    (σ' = 1 − tanh²; the tests compare it with ``nnde.diagnostics.jacobian``):

    * resnet, antisymmetric: diag(σ'(A y + b)) A with A = K, or K − Kᵀ − γI;
    * hamiltonian, on the pair (y, z): [[0, diag(σ'(K z + b)) K], [−diag(σ'(Kᵀy + b)) Kᵀ, 0]];
    * second order, the acceleration −Kᵀ diag(σ'(K y + b)) K (its eigenvalues μ ≤ 0).
    """
    N, P = stack.depth, len(x)
    with torch.no_grad():
        if arch == "hamiltonian":
            ys, zs = stack.flow(x, torch.zeros_like(x), return_states=True)
        else:
            ys = stack(x, return_states=True)
        K = torch.stack([_blocks(f.K.detach(), E) for f in stack.fields])  # (N, E, r, c)
        b = torch.stack([f.b.detach().view(E, -1) for f in stack.fields])  # (N, E, r)
        Y = ys[:N].reshape(N, P, E, w)
        if arch == "antisym_euler" or arch == "antisym_rk4":
            eye = torch.eye(w, dtype=K.dtype)
            K = K - K.transpose(-1, -2) - gamma * eye
        if arch == "hamiltonian":
            Z = zs[:N].reshape(N, P, E, w)
            d1 = 1 - torch.tanh(torch.einsum("neij,npej->npei", K, Z) + b[:, None]) ** 2
            d2 = 1 - torch.tanh(torch.einsum("neji,npej->npei", K, Y) + b[:, None]) ** 2
            J = torch.zeros(N, P, E, 2 * w, 2 * w, dtype=K.dtype)
            J[..., :w, w:] = d1[..., :, None] * K[:, None]
            J[..., w:, :w] = -d2[..., :, None] * K.transpose(-1, -2)[:, None]
            return J
        d = 1 - torch.tanh(torch.einsum("neij,npej->npei", K, Y) + b[:, None]) ** 2
        if arch == "second_order":
            return -torch.einsum("neji,npej,nejk->npeik", K, d, K)
        return d[..., :, None] * K[:, None]


def layer_eigenvalues(arch: str, stack: nn.Module, x: torch.Tensor, E: int, w: int,
                      gamma: float = 0.0) -> np.ndarray:
    """h λ for every layer, point and member (complex, (N, P, E, n)): λ the eigenvalues
    of the layer Jacobians (``layer_jacobians``); for the second-order net λ = ±√μ with
    μ those of the acceleration, so that z² = h² μ as the leapfrog recursion sees it."""
    lam = torch.linalg.eigvals(layer_jacobians(arch, stack, x, E, w, gamma)).numpy()
    if arch == "second_order":
        r = np.sqrt(lam.astype(complex))
        lam = np.concatenate([r, -r], axis=-1)
    return stack.h * lam
